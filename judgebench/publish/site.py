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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from .. import __version__
from ..analysis.diagnostics import Diagnostics
from ..analysis.leaderboard import LeaderboardRow, leaderboard, to_csv, to_json, to_markdown
from ..analysis.records import collect_parsed, order_sources
from ..errors import DataError, ResultsError
from ..formats import judgebench as store
from ..formats import read_parsed
from ..formats.parse_cache import ParseCache
from ..stats.length_control import DifficultyTable
from . import plots

EXIT_UPDATED, EXIT_UNCHANGED, EXIT_LOCKED = 0, 3, 75


class SiteLocked(ResultsError):
    """Another regeneration holds the lock."""


@dataclass(frozen=True)
class BuildResult:
    status: str  # "updated" or "unchanged"
    out: Path
    n_inputs: int
    n_parsed: int  # inputs parsed this time (the rest came from the cache)
    n_groups: int
    n_recomputed: int  # (benchmark, judge) groups computed this time
    n_superseded: int = 0  # duplicate records of the same judgments dropped
    n_judgments: int = 0  # judgments on the site, one record each


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files as given, in the order given (a repeat included: it is read, and superseded, as every command
    does); a run directory as itself; a results directory as each of its runs."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


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
    digest = hashlib.sha256("|".join([__version__, str(n_bootstrap), benchmark, judge,
                                      _table_key(difficulty) or ""]).encode())
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


def _plots(group: pd.DataFrame, rows: list[LeaderboardRow], report: Diagnostics, benchmark: str, judge: str,
           target: Path, stem: str) -> list[str]:
    written: list[str] = []
    table = pd.DataFrame([{"model": r.model, "score": r.score, "ci_low": r.ci_low, "ci_high": r.ci_high,
                           "length_controlled_winrate": r.length_controlled_winrate} for r in rows])
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
            written.append(plots.save_figure(plots.category_figure(per_category, f"{benchmark}: score by category"),
                                             target / f"{stem}-categories")[0].name)
        low = int(grades["scale_low"].min()) if grades["scale_low"].notna().any() else 1
        written.append(plots.save_figure(plots.score_histogram(grades, f"{benchmark}: grades (saturation)", low,
                                                               sat.overall.high), target / f"{stem}-histogram")[0].name)
    bias = [asdict(row) for row in report.position_bias if row.judge == judge]
    if bias:
        written.append(plots.save_figure(plots.position_bias_figure(pd.DataFrame(bias), f"{benchmark}: position bias"),
                                         target / f"{stem}-position-bias")[0].name)
    return written


# The page: a sortable table per (task, judge), its downloads and its plots. Autoescaped: model names are data.
def _page() -> jinja2.Template:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("judgebench.publish", "templates"), autoescape=True,
                                     keep_trailing_newline=True)
    return environment.get_template("leaderboard.html.jinja")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def build_site(paths: list[Path], out: Path, *, fmt: str = "auto", n_bootstrap: int = 1000,
               difficulty: DifficultyTable | None = None) -> BuildResult:
    """Regenerate the site at ``out`` from results and judgment files (see the module doc)."""
    out = out.resolve()
    inputs = expand_inputs(paths)
    if not inputs:
        raise DataError(f"no inputs in {', '.join(map(str, paths))}: give judgebench results directories or "
                        "judgment files")
    cache = out.parent / f".{out.name}.cache"
    manifest = {"judgebench": __version__, "n_bootstrap": n_bootstrap, "format": fmt,
                "difficulty": _table_key(difficulty),
                "inputs": [[str(p), fingerprint(p, fmt)] for p in inputs]}
    previous = out / "manifest.json"
    if previous.exists() and json.loads(previous.read_text()) == manifest:
        return BuildResult("unchanged", out, len(inputs), 0, 0, 0)
    # Read (and check) every input before the lock and the caches are touched: a bad input writes nothing.
    frame, parsed, superseded = _load_inputs(inputs, fmt)
    with site_lock(out):
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        try:
            (staging / "data").mkdir()
            (staging / "plots").mkdir()
            sections, recomputed = [], 0
            for (benchmark, judge), group in frame.groupby(["benchmark", "judge"], sort=True):
                rows, report, fresh = _group_result(str(benchmark), str(judge), group, cache, n_bootstrap,
                                                    difficulty)
                recomputed += int(fresh)
                stem = f"{_slug(str(benchmark))}__{_slug(str(judge))}"
                (staging / "data" / f"{stem}.csv").write_text(to_csv(rows))
                (staging / "data" / f"{stem}.json").write_text(to_json(rows))
                (staging / "data" / f"{stem}.md").write_text(to_markdown(rows))
                (staging / "data" / f"{stem}.diagnostics.json").write_text(
                    json.dumps(report.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n")
                images = _plots(group, rows, report, str(benchmark), str(judge), staging / "plots", stem)
                sections.append({"benchmark": benchmark, "judge": judge, "stem": stem, "rows": rows,
                                 "images": images})
            (staging / "index.html").write_text(_page().render(sections=sections, n_inputs=len(inputs), fmt=_fmt,
                                                               n_judgments=len(frame), n_superseded=superseded))
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            os.chmod(staging, 0o755)
            _swap_in(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return BuildResult("updated", out, len(inputs), parsed, len(sections), recomputed, superseded, len(frame))


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging`` with two renames; the old site is removed afterwards."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    os.rename(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
