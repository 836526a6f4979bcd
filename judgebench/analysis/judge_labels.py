"""Judges measured against labels that are not objective: human votes (CSV, JSONL, a human arena's database,
FastChat's MT-Bench human judgments, AlpacaEval's human cross-annotations: formats.labels) or another judge's
verdicts taken as the reference (GPT-4's published MT-Bench and AlpacaEval judgments, or any judgment file).

One row per (judge configuration, label set): how many labels it matched, the MT-Bench paper's agreement with ties
(S1) and without (S2), each with a bootstrap 95% interval, Cohen's kappa, the labels' own tie rate and, where the
judge's verdict is a probability (AlpacaEval's weighted annotators' preference in [1, 2]), its Brier score and
expected calibration error against the labels. The matching and the agreement are analysis.agreement's, the one
computation `judgebench agree` prints too."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..constants import BOOTSTRAP_SEED, DEFAULT_BOOTSTRAP
from ..errors import DataError
from ..formats.alpaca_eval import answer_names
from ..formats.arena_db import is_sqlite
from ..formats.labels import OUTPUT_PREFIX, layout_of, read_labels, read_table
from ..formats.scalerlab import objective_labels
from ..stats.agreement import agreement_s1_s2, cohen_kappa
from ..stats.calibration import agreement_intervals, brier_score, expected_calibration_error
from ..stats.judge_accuracy import LongerShare, longer_share
from .agreement import MatchedVerdict, matched_verdicts, pairwise_labels, same_benchmark

# The verdicts of a judge whose preference is only ever one of these carry no probability to calibrate.
_DISCRETE = (1.0, 1.5, 2.0)


@dataclass(frozen=True)
class LabelSet:
    """Pairwise labels under one name: a human labels file (named by its file) or one reference judge's verdicts
    (named by the judge). ``labels``: the columns of analysis.agreement.pairwise_labels, and benchmark."""

    name: str
    labels: pd.DataFrame
    source: str


@dataclass(frozen=True)
class LabelAgreement:
    """One judge against one label set. s1/s2 in [0, 1] with 95% percentile bootstrap intervals over the matched
    labels; label_ties: the share of the matched labels that are ties; brier/ece: None unless the judge's verdicts
    carry a probability (over the ``n_calibration`` matched labels that are not ties); consistency: the share of
    the ``n_both_orders`` matched verdicts asked in both orders that gave the same verdict in both; prefers_longer
    and labels_longer: how often the judge, and the labels, chose the longer answer, each over the matched labels
    where neither side is a tie and the answers' lengths differ (``n_longer``; stats.judge_accuracy.longer_share)."""

    judge: str
    labels: str
    n: int
    s1: float | None
    s1_ci: tuple[float | None, float | None]
    n_s2: int
    s2: float | None
    s2_ci: tuple[float | None, float | None]
    cohen_kappa: float | None
    label_ties: float | None
    judge_ties: float | None
    brier: float | None
    ece: float | None
    n_calibration: int
    n_unmatched: int
    consistency: float | None = None
    n_both_orders: int = 0
    prefers_longer: float | None = None
    labels_longer: float | None = None
    n_longer: int = 0


def judgment_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A judge's pairwise verdicts as labels: each judgment with a preference is one label on (item, model,
    opponent, turn), won by the side its preference favours (1.5: a tie)."""
    judged = frame[frame["preference"].notna() & frame["opponent"].notna() & frame["error"].isna()]
    preference = judged["preference"].to_numpy(dtype=float)
    winner = np.where(preference > 1.5, "model_a", np.where(preference < 1.5, "model_b", "tie"))
    return pd.DataFrame({"benchmark": judged["benchmark"].astype(str).to_numpy(),
                         "item_id": judged["item_id"].astype(str).to_numpy(),
                         "model_a": judged["model"].astype(str).to_numpy(),
                         "model_b": judged["opponent"].astype(str).to_numpy(), "winner": winner,
                         "turn": judged["turn"].astype(int).to_numpy()})


def read_label_sets(path: Path) -> list[LabelSet]:
    """The label sets of one ``--labels`` input: a human labels file in a pairwise layout (formats.labels) is one
    set; anything else is read as judgments (any format judgebench reads) and each judge in it is one set."""
    from .records import read_judgments

    if is_sqlite(path):
        return [LabelSet(path.name, read_labels(path), str(path))]
    objective = objective_labels(path)  # a JudgeBench pair or output file: its pairs' objective labels
    if objective is not None:
        return [LabelSet(path.name, objective, str(path))]
    table = read_table(path) if path.is_file() and _table_like(path) else None
    if table is not None and layout_of(table) is not None:
        return [LabelSet(path.name, read_labels(path), str(path))]
    try:
        frame = read_judgments([path]).frame
    except DataError:
        if table is None:
            raise
        raise DataError(f"{path}: neither pairwise labels (its columns: {', '.join(map(str, table.columns))}; "
                        "expected item_id, model_a, model_b, winner or a published layout) nor judgments") from None
    sets = [LabelSet(str(judge), judgment_labels(group), str(path)) for judge, group in frame.groupby("judge")]
    sets = [s for s in sets if not s.labels.empty]
    if not sets:
        raise DataError(f"{path}: neither pairwise labels (item_id, model_a, model_b, winner; or a published layout) "
                        "nor pairwise judgments to take as labels")
    return sets


def _table_like(path: Path) -> bool:
    return path.name.removesuffix(".gz").rsplit(".", 1)[-1] in {"csv", "json", "jsonl", "parquet"}


def _share(values: Sequence[bool]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _calibration(matched: Sequence[MatchedVerdict], group: pd.DataFrame) -> tuple[float | None, float | None, int]:
    """Brier and ECE of the judge's probability that the first model is the better, over the labels that are not
    ties: the probability its verdict tokens' log-probabilities give (a judge with ``,logprobs``: over the labels
    whose verdicts have one), else its preference read as one; none for a judge whose preferences are only 1, 1.5
    and 2 and whose verdicts carry no log-probabilities."""
    weighed = [(m.logprob, float(m.label == "first")) for m in matched if m.label != "tie" and m.logprob is not None]
    if weighed:
        p, y = [w[0] for w in weighed], [w[1] for w in weighed]
        return brier_score(p, y), expected_calibration_error(p, y), len(weighed)
    preferences = group["preference"].dropna().to_numpy(dtype=float)
    if not len(preferences) or np.isin(preferences, _DISCRETE).all():
        return None, None, 0
    decided = [m for m in matched if m.label != "tie"]
    if not decided:
        return None, None, 0
    p = [m.probability for m in decided]
    y = [float(m.label == "first") for m in decided]
    return brier_score(p, y), expected_calibration_error(p, y), len(decided)


def label_agreement(group: pd.DataFrame, label_set: LabelSet, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                    seed: int = BOOTSTRAP_SEED) -> LabelAgreement | None:
    """One judge's judgments (``group``) against one label set; None when no label matches any of them. A label on
    a model against itself is left out: it has no winner to agree on."""
    labels = pairwise_labels(label_set.labels)
    labels = labels[labels["model_a"] != labels["model_b"]]
    matched, unmatched = matched_verdicts(group, labels)
    if not matched:
        return None
    ours, theirs = [m.judge for m in matched], [m.label for m in matched]
    s = agreement_s1_s2(ours, theirs)
    same = [a == b for a, b in zip(ours, theirs, strict=True)]
    decisive = [a != "tie" and b != "tie" for a, b in zip(ours, theirs, strict=True)]
    s1_ci, s2_ci = agreement_intervals(same, decisive, n_bootstrap, seed)
    brier, ece, n_calibration = _calibration(matched, group)
    orders = [m.consistent for m in matched if m.consistent is not None]
    judge_longer, labels_longer = _longer(matched)
    return LabelAgreement(str(group["judge"].iloc[0]), label_set.name, len(matched), _finite(s["s1"]),
                          (_finite(s1_ci[0]), _finite(s1_ci[1])), int(s["n_s2"]), _finite(s["s2"]),
                          (_finite(s2_ci[0]), _finite(s2_ci[1])), cohen_kappa(ours, theirs),
                          _share([t == "tie" for t in theirs]), _share([o == "tie" for o in ours]), brier, ece,
                          n_calibration, unmatched, _share(orders), len(orders), _finite(judge_longer.share),
                          _finite(labels_longer.share), judge_longer.n)


def _longer(matched: Sequence[MatchedVerdict]) -> tuple[LongerShare, LongerShare]:
    """How often the judge, and the labels, chose the longer answer, over the same matched labels: those where
    neither is a tie and the lengths differ (so that the two shares are of the same pairs)."""
    both = [m for m in matched if m.longer is not None and m.judge != "tie" and m.label != "tie"]
    size = [(2, 1) if m.longer == "first" else (1, 2) for m in both]
    first, second = [a for a, _ in size], [b for _, b in size]

    def side(verdict: str) -> str:
        return "A" if verdict == "first" else "B"

    return (longer_share([side(m.judge) for m in both], first, second),
            longer_share([side(m.label) for m in both], first, second))


def label_agreements(frame: pd.DataFrame, label_sets: Sequence[LabelSet], n_bootstrap: int = DEFAULT_BOOTSTRAP
                     ) -> list[LabelAgreement]:
    """Every judge of ``frame`` against every label set (of the labels' benchmark), judges in name order. A judge
    is never measured against its own verdicts."""
    rows = []
    for label_set in label_sets:
        for judge, group in same_benchmark(frame, label_set.labels).groupby("judge", sort=True):
            if str(judge) == label_set.name:
                continue
            row = label_agreement(group, label_set, n_bootstrap)
            if row is not None:
                rows.append(row)
    if not rows:
        raise DataError("no label matches a judgment: the item, the two models and the turn must match (AlpacaEval "
                        "items by instruction, MT-Bench by question_id)")
    return rows


LABEL_COLUMNS = ("judge", "labels", "n", "s1", "s1_low", "s1_high", "n_s2", "s2", "s2_low", "s2_high",
                 "cohen_kappa", "label_ties", "judge_ties", "consistency", "n_both_orders", "prefers_longer",
                 "labels_longer", "n_longer", "brier", "ece", "n_calibration", "n_unmatched")
_COUNTS = ("n", "n_s2", "n_both_orders", "n_longer", "n_calibration", "n_unmatched")


def label_frame(rows: Sequence[LabelAgreement]) -> pd.DataFrame:
    """One row per (judge, label set), columns ``LABEL_COLUMNS``: shares in [0, 1] as floats, NaN where there is
    none (``--json`` writes null)."""
    records = [(r.judge, r.labels, r.n, r.s1, *r.s1_ci, r.n_s2, r.s2, *r.s2_ci, r.cohen_kappa, r.label_ties,
                r.judge_ties, r.consistency, r.n_both_orders, r.prefers_longer, r.labels_longer, r.n_longer, r.brier,
                r.ece, r.n_calibration, r.n_unmatched) for r in rows]
    frame = pd.DataFrame.from_records(records, columns=list(LABEL_COLUMNS))
    floats = [c for c in LABEL_COLUMNS if c not in ("judge", "labels", *_COUNTS)]
    return frame.astype(dict.fromkeys(floats, float))


def judges_against_labels(outputs: Sequence[Path | str], labels: Sequence[Path | str],
                          n_bootstrap: int = DEFAULT_BOOTSTRAP,
                          on_unmatched: Callable[[str], None] | None = None) -> pd.DataFrame:
    """`judgebench judges OUTPUTS --labels FILE...`: the judges in ``outputs`` (any judgments judgebench reads)
    against each labels input, as ``label_frame``. A judge no label matches has no row: ``on_unmatched`` is told
    its name, so that it is not left out in silence."""
    from .records import read_judgments

    frame = read_judgments([Path(p) for p in outputs]).frame
    return label_table(frame, outputs, labels, n_bootstrap, on_unmatched)


def label_table(frame: pd.DataFrame, outputs: Sequence[Path | str], labels: Sequence[Path | str],
                n_bootstrap: int = DEFAULT_BOOTSTRAP, on_unmatched: Callable[[str], None] | None = None
                ) -> pd.DataFrame:
    """The judges of ``frame`` (read from ``outputs``, whose AlpacaEval files name answers known by their text)
    against each labels input, as ``label_frame``: the one computation behind `judges --labels`, the site's Judges
    page (`leaderboard --labels`) and ``judgebench.load(...).judges(labels=...)``."""
    sets = merge_label_sets([s for path in labels for s in read_label_sets(Path(path))])
    if any(_named_by_text(s.labels) for s in sets):
        names = {key: model for path in outputs for file in _annotation_files(Path(path))
                 for key, model in answer_names(file).items()}
        sets = [name_answers(s, names) for s in sets]
    table = label_frame(label_agreements(frame, sets, n_bootstrap))
    if on_unmatched is not None:
        for judge in sorted(set(frame["judge"].astype(str)) - set(table["judge"].astype(str) if len(table) else ())):
            on_unmatched(judge)
    return table


def _named_by_text(labels: pd.DataFrame) -> bool:
    return bool(labels["model_a"].astype(str).str.startswith(OUTPUT_PREFIX).any()
                or labels["model_b"].astype(str).str.startswith(OUTPUT_PREFIX).any())


def _annotation_files(path: Path) -> list[Path]:
    """The AlpacaEval annotation files among one input (itself, or those in its folder)."""
    names = ("annotations.json", "annotations.json.gz")
    if path.is_dir():
        return sorted(p for p in path.rglob("annotations.json*") if p.name in names)
    return [path] if path.name in names else []


def name_answers(label_set: LabelSet, names: dict[tuple[str, str], str]) -> LabelSet:
    """Labels whose sides are known only by their text (formats.labels.output_name) with each side named by the
    model whose answer it is, where ``names`` (alpaca_eval.answer_names of the judged files) knows it."""
    labels = label_set.labels.copy()
    for side in ("model_a", "model_b"):
        labels[side] = [names.get((item, name), name) for item, name in zip(labels["item_id"], labels[side],
                                                                             strict=True)]
    return LabelSet(label_set.name, labels, label_set.source)


def merge_label_sets(sets: Sequence[LabelSet]) -> list[LabelSet]:
    """Label sets of the same name (one reference judge's files of several models, say) as one, in the order
    their names first come."""
    by_name: dict[str, list[LabelSet]] = {}
    for label_set in sets:
        by_name.setdefault(label_set.name, []).append(label_set)
    return [LabelSet(name, pd.concat([s.labels for s in group], ignore_index=True),
                     ", ".join(s.source for s in group)) for name, group in by_name.items()]
