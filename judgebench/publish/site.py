"""The static leaderboard site, built for a scheduled job.

- The same inputs give byte-identical outputs (seeded bootstraps, sorted JSON, figures without time stamps).
- Only new or changed inputs are parsed again, and only (benchmark, judge) groups whose judgments changed are
  recomputed: parsed inputs come from the parse cache that every command shares (formats.parse_cache, keyed by
  the inputs' content), group results are cached in ``.SITE.cache/`` next to the site. A group's result is keyed
  by its benchmark, its judge and a hash of its judgments, so nothing else can be served for it.
- The judgments are deduplicated across inputs as every command does (analysis.records), and the page says how
  many duplicate records were superseded.
- The site is written to a temporary directory beside SITE and swapped in with two renames, so readers see
  the old site or the new one, never half of one.
- A lock file (``SITE.lock``, flock) stops two regenerations from colliding.
- The page says when it was built: the newest input's modification time, or SOURCE_DATE_EPOCH when set (a
  clock reading would make two builds of the same inputs differ).
- Each model has a page (models/<slug>.html, publish.pages) where its judgments can be read, their texts found by
  formats.texts; judges that ranked the same battles are shown side by side (analysis.judge_rankings).
- Every judgment can be read, searched and filtered in viewer.html (publish.viewer), which the tables link to.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..analysis.battles import BATTLE_BOOTSTRAP
from ..analysis.diagnostics import Diagnostics
from ..analysis.judge_labels import label_table
from ..analysis.judge_profiles import judge_prices, judge_profiles
from ..analysis.judge_rankings import AGREE_BOOTSTRAP, JudgeComparison, compare_judges
from ..analysis.leaderboard import LeaderboardRow, leaderboard, to_csv, to_json, to_markdown
from ..analysis.records import collect_parsed, order_sources
from ..analysis.rubric import RubricTables, rubric_judgments, rubric_tables
from ..analysis.rubric_quality import RubricQuality, judgments_quality
from ..constants import DIAGNOSTIC_BOOTSTRAP
from ..errors import ConfigError, DataError, ResultsError
from ..formats import detect_format, judgment_files, read_parsed, read_texts
from ..formats import judgebench as store
from ..formats.identity import benchmark_label, canonical_benchmark
from ..formats.parse_cache import ParseCache
from ..formats.texts import JudgmentText, TextKey
from ..judging.kinds import kind_of
from ..stats.length_control import DifficultyTable
from ..stats.winrate import DEFAULT_BOOTSTRAP
from ..tasks.fetch import allowed_dirs
from ..types import ScoreRow
from . import pages, plots, rubric_page, viewer

EXIT_UPDATED, EXIT_UNCHANGED, EXIT_LOCKED = 0, 3, 75
DEFAULT_TITLE = "judgebench leaderboard"
MAX_TITLE = 200


class SiteLocked(ResultsError):
    """Another regeneration holds the lock."""


@dataclass(frozen=True)
class BuildResult:
    status: str  # "updated" or "unchanged"
    out: Path
    n_inputs: int
    n_parsed: int  # inputs parsed this time (the rest came from the cache)
    n_groups: int  # (benchmark, protocol, judge) groups; one may have several tables (grades, battles)
    n_recomputed: int  # (benchmark, judge) groups computed this time
    n_superseded: int = 0  # duplicate records of the same judgments dropped
    n_judgments: int = 0  # judgments on the site, one record each


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files as given, in the order given (a repeat included: it is read, and superseded, as every command
    does); a run directory as itself; a results directory as each of its runs."""
    found: list[Path] = []
    for path in paths:
        if judgment_files(path):
            found += judgment_files(path)
        elif path.is_dir():
            runs = store.run_dirs(path)
            if not runs:
                raise DataError(f"{path}: no judgebench run here (no {store.CONFIG})")
            found += runs
        else:
            found.append(path)
    return [p.resolve() for p in found]


def fingerprint(path: Path, fmt: str = "auto") -> str:
    """Changes when the input's content, or the format it is read as, changes: path, size and modification
    time of its files."""
    # An SQLite database in WAL mode (the human arena's) takes new rows in its -wal file first.
    files = ([path / store.CONFIG, path / store.JUDGMENTS] if path.is_dir()
             else [path, path.with_name(path.name + "-wal")])
    parts = [str(path), fmt]
    for file in files:
        if file.exists():
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


@contextlib.contextmanager
def site_lock(out: Path) -> Iterator[None]:
    lock_path = out.parent / f".{out.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SiteLocked(f"another regeneration of {out} is running (lock {lock_path})") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_inputs(inputs: list[Path], fmt: str) -> tuple[pd.DataFrame, int, int]:
    """(deduplicated judgments of all inputs, inputs parsed this time, records superseded). Every input is read
    before anything is written, so a bad input leaves no trace in the site."""
    cache = ParseCache.from_env()
    sources = [s for path in inputs for s in read_parsed(path, fmt, cache=cache)]
    # The order every command reads in: other harnesses' files as given, then judgebench runs oldest first.
    judgments = collect_parsed(order_sources(sources))
    if judgments.frame.empty:
        raise DataError(f"no judgments in {', '.join(map(str, inputs))}")
    return judgments.frame, sum(s.parsed for s in sources), judgments.n_superseded


def _table_key(table: DifficultyTable | None) -> str | None:
    """What identifies a difficulty table's numbers (it changes every LC computed with it)."""
    if table is None:
        return None
    digest = hashlib.sha256("|".join([*table.item_ids, repr(table.length_sensitivity),
                                      repr(table.difficulty_weight), repr(table.prior_strength)]).encode())
    digest.update(np.asarray(table.difficulty, dtype=float).tobytes())
    return digest.hexdigest()[:24]


def _content_key(benchmark: str, judge: str, group: pd.DataFrame, n_bootstrap: int,
                 difficulty: DifficultyTable | None) -> str:
    # The battle tables' resamples are analysis.battles' own (BATTLE_BOOTSTRAP), whatever ``n_bootstrap`` is. The
    # rows' fields are part of the key: a pickle of rows with other fields, from other code, is never served.
    digest = hashlib.sha256("|".join([__version__, str(n_bootstrap), f"battles:{BATTLE_BOOTSTRAP}",
                                      f"diagnostics:{DIAGNOSTIC_BOOTSTRAP}", benchmark, judge,
                                      _table_key(difficulty) or "", ",".join(LeaderboardRow.__dataclass_fields__),
                                      ",".join(ScoreRow.__dataclass_fields__)]).encode())
    digest.update(pd.util.hash_pandas_object(group, index=False).to_numpy().tobytes())
    digest.update(",".join(group.columns).encode())
    return digest.hexdigest()[:32]


def _group_result(benchmark: str, judge: str, group: pd.DataFrame, cache: Path, n_bootstrap: int,
                  difficulty: DifficultyTable | None) -> tuple[list[LeaderboardRow], Diagnostics, bool]:
    cached = cache / "groups" / f"{_content_key(benchmark, judge, group, n_bootstrap, difficulty)}.pkl"
    if cached.exists():
        with cached.open("rb") as fh:
            rows, report = pickle.load(fh)
        return rows, report, False
    board = leaderboard(group, n_bootstrap=n_bootstrap, difficulty=difficulty)
    rows, report = list(board.rows), board.diagnostics
    cached.parent.mkdir(parents=True, exist_ok=True)
    with cached.open("wb") as fh:
        pickle.dump((rows, report), fh)
    return rows, report, True


@dataclass(frozen=True)
class Ranking:
    """One table of the site: the rows of one ranking (the leaderboard ranks per kind and opponent) and the
    judgments they were computed from. A model is in a ranking at most once, so in its table and its plots too."""

    stem: str
    rows: tuple[LeaderboardRow, ...]
    judgments: pd.DataFrame


def rankings(group: pd.DataFrame, rows: list[LeaderboardRow], stem: str) -> list[Ranking]:
    """A (benchmark, protocol, judge) group's rows split into their rankings: grades and battles of the same judge
    (MT-Bench graded, then battled) are two tables, and so are comparisons against two references. The stem is the
    group's when it has one ranking (the site's addresses stay as they were), else the group's with the kind and
    the reference beside it."""
    keys = list(dict.fromkeys((r.kind, r.opponent) for r in rows))
    found: list[Ranking] = []
    for kind, opponent in keys:
        mine = tuple(r for r in rows if (r.kind, r.opponent) == (kind, opponent))
        models = [r.model for r in mine]
        if len(set(models)) != len(models):
            raise ResultsError(f"{stem}: a model appears twice in one ranking ({kind}, {opponent}): a bug")
        judgments = group[group["kind"] == kind]
        battles = kind_of(kind).compares_models  # a battle's opponent is any model; the row's is the anchor
        if not battles:
            judgments = judgments[judgments["opponent"].fillna("") == (opponent or "")]
        suffix = "" if len(keys) == 1 else f"__{pages.slug(kind)}" + (
            f"-vs-{pages.slug(opponent)}" if opponent and not battles else "")
        name = stem + suffix
        while any(r.stem == name for r in found):  # two references whose names slug alike
            name += "-2"
        found.append(Ranking(name, mine, judgments))
    return found


def _write_downloads(folder: Path, stem: str, rows: list[LeaderboardRow], report: Diagnostics) -> None:
    (folder / f"{stem}.csv").write_text(to_csv(rows))
    (folder / f"{stem}.json").write_text(to_json(rows))
    (folder / f"{stem}.md").write_text(to_markdown(rows))
    (folder / f"{stem}.diagnostics.json").write_text(
        json.dumps(report.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n")


def _plots(group: pd.DataFrame, rows: list[LeaderboardRow], report: Diagnostics, benchmark: str, judge: str,
           target: Path, stem: str) -> list[str]:
    written: list[str] = []
    table = pd.DataFrame([{"model": r.model, "score": r.score, "ci_low": r.ci_low, "ci_high": r.ci_high,
                           "length_controlled_winrate": r.length_controlled_winrate, "lc_weak": r.lc_weak,
                           "ranking_value": r.ranking_value} for r in rows])
    order = [r.model for r in rows]  # the ranking: the table's, the downloads' and every plot's order
    if table["score"].notna().any():
        paths = plots.save_figure(plots.winrate_figure(table.dropna(subset=["score"]), f"{benchmark} — judge {judge}"),
                                  target / f"{stem}-scores")
        written.append(paths[0].name)
    for sat in report.saturation:
        grades = group[group["score"].notna()]
        if sat.judge != judge or grades.empty:
            continue
        if grades["category"].nunique() > 1:
            per_category = grades.groupby(["model", "category"], as_index=False)["score"].mean()
            figure = plots.category_figure(per_category, f"{benchmark}: score by category", order)
            written.append(plots.save_figure(figure, target / f"{stem}-categories")[0].name)
        low = int(grades["scale_low"].min()) if grades["scale_low"].notna().any() else 1
        written.append(plots.save_figure(plots.score_histogram(grades, f"{benchmark}: grades (saturation)", low,
                                                               sat.overall.high), target / f"{stem}-histogram")[0].name)
    # The group's position bias belongs beside the tables of kinds asked in both orders, not beside its grades.
    bias = [asdict(row) for row in report.position_bias if row.judge == judge]
    if bias and any(kind_of(r.kind).has_orders for r in rows):
        written.append(plots.save_figure(plots.position_bias_figure(pd.DataFrame(bias), f"{benchmark}: position bias"),
                                         target / f"{stem}-position-bias")[0].name)
    return written


def build_date(inputs: list[Path]) -> tuple[str, str]:
    """(the build date, where it comes from): SOURCE_DATE_EPOCH when set, else the newest input's modification
    time, so the same inputs give the same page."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            stamp, source = int(epoch), "SOURCE_DATE_EPOCH"
        except ValueError:
            raise DataError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds; unset it or fix it") from None
    else:
        files = [f for p in inputs for f in ([p / store.CONFIG, p / store.ANSWERS, p / store.JUDGMENTS]
                                             if p.is_dir() else [p]) if f.exists()]
        stamp, source = int(max(f.stat().st_mtime for f in files)), "the newest input's modification time"
    when = datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return when, source


def _prompt_hashes(inputs: list[Path]) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """(benchmark, judge) -> the judge prompts' sha256 that judgebench runs recorded in their config.json."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for path in inputs:
        if not path.is_dir():
            continue
        config = store.read_config(path)
        task = config.get("task")
        task = task if isinstance(task, dict) else {}
        hashes = config.get("prompt_sha256")
        if not isinstance(hashes, dict) or not isinstance(task.get("benchmark"), str):
            continue
        for judge in config.get("judges") or []:
            if isinstance(judge, dict) and isinstance(judge.get("name"), str):
                key = (canonical_benchmark(task["benchmark"]), judge["name"])
                found.setdefault(key, {}).update({str(k): str(v) for k, v in hashes.items()})
    return {key: tuple(sorted(value.items())) for key, value in found.items()}


def _texts(inputs: list[Path], fmt: str, cache: Path, wanted: set[TextKey]) -> dict[TextKey, JudgmentText]:
    """The ``wanted`` texts of the inputs' judgments, read through a cache per input (keyed by its files' names,
    sizes and times, answers included); a later input's text of the same judgment replaces an earlier one's, as
    its verdict does."""
    found: dict[TextKey, JudgmentText] = {}
    for path in inputs:
        # An arena database in WAL mode takes new votes in its -wal file first.
        files = ([path / store.CONFIG, path / store.ANSWERS, path / store.JUDGMENTS] if path.is_dir()
                 else [path, path.with_name(path.name + "-wal")])
        stamp = "|".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.exists())
        cached = cache / "texts" / f"{hashlib.sha256(f'{__version__}|{fmt}|{stamp}'.encode()).hexdigest()[:32]}.pkl"
        if cached.exists():
            with cached.open("rb") as fh:
                texts = pickle.load(fh)
        else:
            texts = read_texts(path, detect_format(path) if fmt == "auto" else fmt)
            cached.parent.mkdir(parents=True, exist_ok=True)
            with cached.open("wb") as fh:
                pickle.dump(texts, fh)
        found.update((text.key, text) for text in texts if text.key in wanted)
    return found


def _comparisons(frame: pd.DataFrame, cache: Path) -> list[JudgeComparison]:
    """Judges side by side (analysis.judge_rankings, with `judgebench agree`'s resamples whatever the site's
    --bootstrap), cached by the battles' judgments."""
    battles = frame[frame["opponent"].notna()]
    digest = hashlib.sha256(f"{__version__}|ranking_correlation|{AGREE_BOOTSTRAP}".encode())
    digest.update(pd.util.hash_pandas_object(battles, index=False).to_numpy().tobytes())
    cached = cache / "judges" / f"{digest.hexdigest()[:32]}.pkl"
    if cached.exists():
        with cached.open("rb") as fh:
            return list(pickle.load(fh))
    comparisons = compare_judges(battles, n_bootstrap=AGREE_BOOTSTRAP)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with cached.open("wb") as fh:
        pickle.dump(comparisons, fh)
    return comparisons


def _profiles(frame: pd.DataFrame, inputs: list[Path], cache: Path) -> pd.DataFrame:
    """The Judges page's table (analysis.judge_profiles, as `judgebench judges` prints it for the same inputs, at
    the built-in table's prices), cached by the judgments and the prices."""
    prices = judge_prices(inputs)
    digest = hashlib.sha256(f"{__version__}|judge_profiles|{DIAGNOSTIC_BOOTSTRAP}|{sorted(prices.items())!r}".encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    cached = cache / "judges" / f"profiles-{digest.hexdigest()[:32]}.pkl"
    if cached.exists():
        with cached.open("rb") as fh:
            return pd.DataFrame(pickle.load(fh))
    profiles = judge_profiles(frame, prices)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with cached.open("wb") as fh:
        pickle.dump(profiles, fh)
    return profiles


def _label_table(frame: pd.DataFrame, inputs: list[Path], labels: tuple[Path, ...], cache: Path) -> pd.DataFrame:
    """The Judges page's agreement with labels (analysis.judge_labels.label_table, `judges --labels`' table at its
    default resamples), cached by the judgments and the label files' fingerprints."""
    key = f"{__version__}|label_table|{DEFAULT_BOOTSTRAP}|{[fingerprint(p) for p in labels]!r}"
    digest = hashlib.sha256(key.encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    cached = cache / "judges" / f"labels-{digest.hexdigest()[:32]}.pkl"
    if cached.exists():
        with cached.open("rb") as fh:
            return pd.DataFrame(pickle.load(fh))
    table = label_table(frame, inputs, labels, DEFAULT_BOOTSTRAP)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with cached.open("wb") as fh:
        pickle.dump(table, fh)
    return table


def _rubric_tables(frame: pd.DataFrame, cache: Path, n_bootstrap: int) -> tuple[RubricTables, RubricQuality] | None:
    """The rubric tables (analysis.rubric) and the rubric-quality tables (analysis.rubric_quality.judgments_quality,
    what `judgebench rubric-report` prints), with the site's resamples (`judgebench stats`' and `rubric-report`'s
    default), cached by the rubric judgments; None when there is none."""
    judged = rubric_judgments(frame)
    if judged.empty:
        return None
    digest = hashlib.sha256(f"{__version__}|rubric_tables+quality|{n_bootstrap}|{','.join(judged.columns)}".encode())
    digest.update(pd.util.hash_pandas_object(judged, index=False).to_numpy().tobytes())
    cached = cache / "rubric" / f"{digest.hexdigest()[:32]}.pkl"
    if cached.exists():
        with cached.open("rb") as fh:
            found = pickle.load(fh)
        if isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], RubricTables) \
                and isinstance(found[1], RubricQuality):
            return found[0], found[1]
    made = rubric_tables(frame, n_bootstrap), judgments_quality(frame, None, n_bootstrap)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with cached.open("wb") as fh:
        pickle.dump(made, fh)
    return made


def _write_rubric(staging: Path, frame: pd.DataFrame, cache: Path, n_bootstrap: int, page: dict[str, object]) -> bool:
    """rubric.html and its tables' CSVs (publish.rubric_page), where the inputs hold rubric judgments."""
    found = _rubric_tables(frame, cache, n_bootstrap)
    if found is None or found[0].empty:
        return False
    tables, quality = found
    groups = rubric_page.groups(tables, staging / "data")
    quality_groups = rubric_page.quality_groups(quality, staging / "data")
    (staging / rubric_page.PAGE).write_text(rubric_page.render(groups, n_bootstrap, quality_groups, **page))
    return True


def site_title(title: str | None) -> str:
    """The site's title as given (autoescape makes it text on every page), or the default; one line of at most
    MAX_TITLE characters."""
    if title is None:
        return DEFAULT_TITLE
    if not title.strip() or len(title) > MAX_TITLE or any(not c.isprintable() for c in title):
        raise ConfigError(f"--title {title[:40]!r}{'...' if len(title) > 40 else ''}: a title is one line of 1 to "
                          f"{MAX_TITLE} printable characters")
    return title.strip()


def build_site(paths: list[Path], out: Path, *, fmt: str = "auto", n_bootstrap: int = DEFAULT_BOOTSTRAP,
               difficulty: DifficultyTable | None = None, title: str | None = None,
               labels: tuple[Path, ...] = ()) -> BuildResult:
    """Regenerate the site at ``out`` from results and judgment files (see the module doc); ``title``: the site's
    title, in every page's <title> and header; ``labels``: label inputs (as `judgebench judges --labels` takes),
    whose agreement table (analysis.judge_labels.label_table) the Judges page shows beside the profiles."""
    out = out.resolve()
    _check_out(out)
    title = site_title(title)
    inputs = expand_inputs(paths)
    if not inputs:
        raise DataError(f"no inputs in {', '.join(map(str, paths))}: give judgebench results directories or "
                        "judgment files")
    cache = out.parent / f".{out.name}.cache"
    date, date_source = build_date(inputs)
    manifest = {"judgebench": __version__, "n_bootstrap": n_bootstrap, "format": fmt, "title": title,
                "difficulty": _table_key(difficulty), "build_date": date,
                # The folders a run's task may read its questions from (--allow-path): more of them, more texts shown.
                "allowed": [str(p) for p in allowed_dirs()],
                "inputs": [[str(p), fingerprint(p, fmt)] for p in inputs]}
    if labels:  # only when given: a site built without labels keeps its manifest, and stays "unchanged"
        manifest["labels"] = [[str(p), fingerprint(p)] for p in labels]
    previous = out / "manifest.json"
    if previous.exists() and json.loads(previous.read_text()) == manifest:
        return BuildResult("unchanged", out, len(inputs), 0, 0, 0)
    # Read (and check) every input before the lock and the caches are touched: a bad input writes nothing.
    frame, parsed, superseded = _load_inputs(inputs, fmt)
    page = {"build_date": date, "build_date_source": date_source, "site_title": title, "viewer_href": viewer.href}
    with site_lock(out):
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        try:
            for folder in ("data", "plots", "models"):
                (staging / folder).mkdir()
            hashes = _prompt_hashes(inputs)
            model_page = pages.model_pages(pages.ranked_models(frame))
            sections, recomputed, n_groups = [], 0, 0
            # A group per (benchmark, protocol, judge): one protocol's judgments are never ranked with another's.
            for (real_benchmark, protocol, judge), group in frame.groupby(["benchmark", "protocol", "judge"],
                                                                          sort=True, dropna=False):
                benchmark = benchmark_label(str(real_benchmark), protocol)
                rows, report, fresh = _group_result(str(benchmark), str(judge), group, cache, n_bootstrap,
                                                    difficulty)
                recomputed, n_groups = recomputed + int(fresh), n_groups + 1
                group_stem = f"{pages.slug(str(benchmark))}__{pages.slug(str(judge))}"
                for ranking in rankings(group, rows, group_stem):
                    stem = ranking.stem
                    _write_downloads(staging / "data", stem, list(ranking.rows), report)
                    images = _plots(ranking.judgments, list(ranking.rows), report, str(benchmark), str(judge),
                                    staging / "plots", stem)
                    method = pages.Method(str(judge), len(ranking.judgments), n_bootstrap,
                                          hashes.get((str(real_benchmark), str(judge)), ()), BATTLE_BOOTSTRAP)
                    sections.append(pages.section(str(real_benchmark), str(judge), stem, ranking.rows, images, method,
                                                  model_page, protocol if isinstance(protocol, str) else ""))
            comparisons = _comparisons(frame, cache)
            rubric = _write_rubric(staging, frame, cache, n_bootstrap, page)
            agreement = _label_table(frame, inputs, labels, cache) if labels else None
            (staging / "judges.html").write_text(pages.render_judges(_profiles(frame, inputs, cache), agreement,
                                                                     n_judgments=len(frame), **page))
            (staging / "index.html").write_text(pages.render_index(
                sections, comparisons, n_inputs=len(inputs), n_judgments=len(frame), n_superseded=superseded,
                rubric_href=rubric_page.PAGE if rubric else None, **page))
            groups = {model: pages.model_groups(model, frame, sections) for model in model_page}
            texts = _texts(inputs, fmt, cache, viewer.text_keys(frame))  # every judgment's: the viewer shows all
            for model, target in model_page.items():
                (staging / target).write_text(pages.render_model(model, pages.with_texts(groups[model], texts), **page))
            viewer.write_viewer(staging, frame, texts, **page)
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            os.chmod(staging, 0o755)
            _swap_in(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return BuildResult("updated", out, len(inputs), parsed, n_groups, recomputed, superseded, len(frame))


def _check_out(out: Path) -> None:
    """The site replaces its folder whole (and removes the old one): ``out`` must be a new folder, an empty one or
    a site built before, never a device, a pipe or a folder of the user's own files."""
    if out.exists() and not out.is_dir():
        raise ResultsError(f"{out}: --out exists and is not a folder; give the path of a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not _is_site(out / "manifest.json"):
        raise ResultsError(f"{out}: --out is a folder that holds files and no judgebench site (the site replaces its "
                           "folder whole); give a new or empty folder, or one a site was built in")


def _is_site(manifest: Path) -> bool:
    try:
        return manifest.is_file() and "judgebench" in json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging`` with two renames; the old site is removed afterwards."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    os.rename(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
