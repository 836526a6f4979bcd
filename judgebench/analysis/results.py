"""For notebooks: results as pandas DataFrames, one record per judgment.

``judgebench.load(path, ...)`` reads judgebench results (results directories, run directories) and other
harnesses' judgment files and returns a ``Results``:

- ``runs``: one row per run: run_id, benchmark, task, kind, model, judges, created.
- ``answers``: one row per (benchmark, model, item): run_id, benchmark, item_id, model, turns (tuple), error
  (the newest answer when several runs answered the same item).
- ``judgments``: one row per judgment (records.COLUMNS: benchmark, item_id, category, model, judge, turn, kind,
  score, opponent, verdict_ab, verdict_ba, preference in [1, 2], error, failure, length, ...), the same columns
  for every source; ``n_superseded`` older or failed duplicates were dropped.
- ``scores``: the score rows `judgebench stats` prints; ``leaderboard``: ranked and badged;
  ``diagnostics``: the typed report of `judgebench diagnose`.
- ``rubric``: rubric tasks' tables (per criterion, tag, category, pair of models); ``criteria``: one row per
  (rubric judgment, criterion); ``rubric_quality()``: the criteria measured (`judgebench rubric-report`).
- ``judges()``: one row per judge configuration (analysis.judge_profiles), the table `judgebench judges` prints
  for the same inputs and the site's Judges page shows; ``judges(labels=...)``: each judge against labels
  (analysis.judge_labels), the table of `judges --labels` and of the Judges page built with `leaderboard --labels`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from ..clients.pricing import PriceTable, load_prices
from ..errors import DataError
from ..formats import read_parsed
from ..formats.criteria import criteria_frame
from ..formats.difficulty import load_difficulty
from ..formats.notebook import run_rows, write_parquet
from ..stats.length_control import DifficultyTable
from ..stats.winrate import DEFAULT_BOOTSTRAP
from .diagnostics import Diagnostics
from .judge_labels import label_table
from .judge_profiles import judge_prices, judge_profiles
from .leaderboard import Leaderboard, leaderboard, rows_frame
from .records import collect_parsed, order_sources
from .rubric import RubricTables, rubric_judgments, rubric_tables
from .rubric_quality import RubricQuality, judgments_quality

RUN_COLUMNS = ["run_id", "benchmark", "task", "kind", "model", "judges", "created"]
ANSWER_COLUMNS = ["run_id", "benchmark", "item_id", "model", "turns", "error"]


@dataclass
class Results:
    runs: pd.DataFrame
    answers: pd.DataFrame
    judgments: pd.DataFrame
    n_superseded: int = 0
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    difficulty: DifficultyTable | None = field(default=None, repr=False)
    paths: tuple[Path, ...] = field(default=(), repr=False)  # what was loaded: runs name their judges' endpoints

    @cached_property
    def _board(self) -> Leaderboard:
        return leaderboard(self.judgments, self.n_bootstrap, self.difficulty)

    @property
    def leaderboard(self) -> pd.DataFrame:
        return rows_frame(self._board.rows)

    @property
    def scores(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(row) for row in self._board.scores])

    @property
    def diagnostics(self) -> Diagnostics:
        return self._board.diagnostics

    @cached_property
    def rubric(self) -> RubricTables:
        """Rubric tasks' tables (analysis.rubric): per criterion, tag, category and pair of models, as `judgebench
        stats` prints them for the same inputs."""
        return rubric_tables(self.judgments, self.n_bootstrap)

    @property
    def criteria(self) -> pd.DataFrame:
        """Rubric judgments' criteria, one row per (judgment, criterion) (formats.criteria.CRITERIA_COLUMNS)."""
        return criteria_frame(rubric_judgments(self.judgments))

    def rubric_quality(self, labels: str | Path | None = None) -> RubricQuality:
        """How good the rubrics' criteria are (analysis.rubric_quality): panel agreement per criterion, the criteria
        judges disagree on most, those that never vary and, with a criterion labels file, each judge's agreement with
        it; as `judgebench rubric-report` prints them for the same inputs."""
        from ..formats.criterion_labels import read_criterion_labels

        found = read_criterion_labels(Path(labels)) if labels is not None else None
        return judgments_quality(self.judgments, found, self.n_bootstrap)

    def judges(self, prices: PriceTable | str | Path | None = None,
               labels: str | Path | Sequence[str | Path] | None = None,
               n_bootstrap: int = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
        """One row per judge configuration (analysis.judge_profiles.PROFILE_COLUMNS), as `judgebench judges`
        prints it; ``prices``: a price table or its YAML file for the cost per 1,000 judgments (default: the
        built-in table, which prices the providers' own APIs). With ``labels`` (label inputs as `judges --labels`
        takes them: one path or several), one row per judge and label set instead
        (analysis.judge_labels.LABEL_COLUMNS), as `judges --labels` prints it, with ``n_bootstrap`` resamples."""
        if labels is not None:
            found = [labels] if isinstance(labels, (str, Path)) else list(labels)
            return label_table(self.judgments, self.paths, [Path(p) for p in found], n_bootstrap)
        table = prices if isinstance(prices, PriceTable) else load_prices(None if prices is None else Path(prices))
        return judge_profiles(self.judgments, judge_prices(self.paths, table))


def load(*paths: str | Path | Iterable[str | Path], fmt: str = "auto", n_bootstrap: int = DEFAULT_BOOTSTRAP,
         difficulty: DifficultyTable | str | Path | None = None, questions: str | Path | None = None) -> Results:
    """Results from judgebench results/run directories and other harnesses' judgment files, as DataFrames.
    ``paths``: paths, or lists of them (``load(glob.glob(...))``). ``questions``: a FastChat question.jsonl giving
    the categories of FastChat judgment files kept apart from it (as `--questions` does on the command line).
    ``difficulty``: the instruction difficulties of length-controlled win rates (a DifficultyTable, a CSV path or
    "alpaca-eval"; see `judgebench difficulty`)."""
    flat: list[str | Path] = [p for raw in paths for p in ((raw,) if isinstance(raw, (str, Path)) else raw)]
    if not flat:
        raise DataError("judgebench.load(): give at least one results directory or judgment file")
    if difficulty is not None and not isinstance(difficulty, DifficultyTable):
        difficulty = load_difficulty(difficulty)
    questions_path = Path(questions) if questions is not None else None
    sources = order_sources([s for raw in flat for s in read_parsed(Path(raw), fmt, questions_path)])
    runs, answers = run_rows(sources)
    # One answer per (benchmark, model, item), as for judgments: the newest successful one.
    answer_frame = pd.DataFrame(answers, columns=ANSWER_COLUMNS).assign(_ok=lambda f: f["error"].isna())
    answer_frame = (answer_frame.reset_index().sort_values(["_ok", "index"], kind="stable")
                    .drop_duplicates(["benchmark", "model", "item_id"], keep="last").sort_values("index")
                    .drop(columns=["index", "_ok"]).reset_index(drop=True))
    judgments = collect_parsed(sources)
    return Results(runs=pd.DataFrame(runs, columns=RUN_COLUMNS), answers=answer_frame, judgments=judgments.frame,
                   n_superseded=judgments.n_superseded, n_bootstrap=n_bootstrap, difficulty=difficulty,
                   paths=tuple(Path(p) for p in flat))


def export_parquet(results: Results, out: Path) -> list[Path]:
    """runs/answers/judgments/leaderboard as Parquet files in ``out`` (needs pyarrow: pip install
    'judgebench[parquet]')."""
    return write_parquet({"runs": results.runs.assign(judges=results.runs["judges"].map(list)),
                          "answers": results.answers.assign(turns=results.answers["turns"].map(list)),
                          "judgments": results.judgments, "leaderboard": results.leaderboard}, out)
