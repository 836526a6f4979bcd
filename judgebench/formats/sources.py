"""An input's judgments as every reader returns them: a ``Source`` of ``Judgment`` objects, or a ``ParsedSource``
of columns (formats.table) through the parse cache (formats.parse_cache); and the pieces every format's reader
shares (a folder of judgment files, a judgebench run through the cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError
from ..lazy import on_first_use
from ..types import Judgment
from . import judgebench as ours
from .common import read_bytes
from .parse_cache import ParseCache
from .table import Columns, columns_frame, judgment_columns

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class Source:
    """The judgments of one input, in the order they were written. ``label`` names it in messages (a run
    directory or a file); ``created`` orders judgebench runs in time (other harnesses' files carry no time, so
    they keep the order they were given in)."""

    label: str
    judgments: tuple[Judgment, ...]
    created: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, eq=False)
class ParsedSource:
    """A Source's judgments column by column (formats.table), as every command reads them: ``frame()`` is its
    judgments frame, ``table.sources_frame`` puts several in one. ``parsed``: the input was parsed this time
    (False: its judgments came from the parse cache)."""

    label: str
    columns: Columns = field(repr=False)
    created: str | None = None
    run_id: str | None = None
    parsed: bool = True

    def frame(self) -> pd.DataFrame:
        return columns_frame(self.columns, self.run_id)


# What a folder of other harnesses' judgment files holds (a model_judgment/ folder): read file by file.
_JUDGMENT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


def judgment_files(path: Path) -> list[Path]:
    """The judgment files directly in a folder that is not a judgebench run or results directory (FastChat's or
    Arena-Hard's model_judgment/), in name order; [] for anything else."""
    if not path.is_dir() or ours.run_dirs(path):
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_JUDGMENT_SUFFIXES))


def run_dirs(path: Path) -> list[Path]:
    """The judgebench runs in ``path`` (a run directory or a results directory of runs), oldest first."""
    runs = ours.run_dirs(path)
    if not runs:
        raise DataError(f"{path}: no judgebench run here (no {ours.CONFIG}) and no judgment files")
    return runs


def run_sources(path: Path) -> list[Source]:
    sources = []
    for run_dir in run_dirs(path):
        config, _, judgments = ours.load_run(run_dir)
        sources.append(Source(str(run_dir), tuple(judgments), config.get("created"), run_dir.name))
    return sources


def parsed_run(run_dir: Path, cache: ParseCache) -> ParsedSource:
    config = ours.read_config(run_dir)  # checked every time; its creation time orders the runs
    # A run parses if its answers and judgments do; its run_id is its directory's name, not content.
    files = [run_dir / ours.ANSWERS, run_dir / ours.JUDGMENTS]
    stored = [(file, read_bytes(file) if file.exists() else b"") for file in files]
    key = cache.key("judgebench", [data for _, data in stored])
    columns = cache.get(key)
    parsed = columns is None
    if columns is None:
        columns = judgment_columns(ours.load_run(run_dir)[2])
        put_unless_changed(cache, key, columns, stored)
    return ParsedSource(str(run_dir), columns, config.get("created"), run_dir.name, parsed)


def put_unless_changed(cache: ParseCache, key: str, columns: Columns, stored: list[tuple[Path, bytes]]) -> None:
    """Store what a reader parsed from the files themselves, unless a file changed while it read (a run still
    writing): the value would not be the one of the bytes in the key."""
    try:
        unchanged = all((read_bytes(file) if file.exists() else b"") == data for file, data in stored)
    except DataError:
        return
    if unchanged:
        cache.put(key, columns)
