"""Judgments -> one DataFrame with one record per judgment.

Reading results is idempotent: the same judgment read twice (a command run twice, a run resumed after a kill,
two runs over the same cache, a file passed twice) counts once. A judgment is identified by (benchmark, protocol,
judge, model, opponent, item_id, turn); of several sources' records of it, the newest successful one is kept, or the
newest failure when none succeeded. "Newest" is the order of the sources: other harnesses' files in the
order given, then judgebench runs by creation time. Every command that reads results reports how many
records were superseded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from ..errors import DataError
from ..formats import ParsedSource, Source, read_parsed
from ..formats.parse_cache import ParseCache
from ..formats.table import (
    COLUMNS,
    ColumnStore,
    columns_frame,
    judgment_columns,
    judgments_frame,
    n_rows,
    sources_frame,
    typed_column,
)
from ..lazy import on_first_use
from ..stats.grouped import ranked
from ..types import JudgmentId
from .columns import identity_codes, identity_key, lexsorted

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

__all__ = ["COLUMNS", "IDENTITY", "JudgmentSet", "canonical_frame", "collect", "collect_parsed", "deduplicate",
           "judgments_frame", "order_sources", "read_judgments"]

# A judgment's identity is decided once, in types.JudgmentId: its fields, in their order, are the columns here.
IDENTITY = [f.name for f in fields(JudgmentId)]


@dataclass(frozen=True)
class JudgmentSet:
    """Deduplicated judgments and what deduplication did. ``n_read``: records read; ``n_superseded``: records
    replaced by a newer (or a successful) record of the same judgment."""

    frame: pd.DataFrame
    n_read: int
    n_superseded: int

    def describe(self) -> str:
        if not self.n_superseded:
            return f"{len(self.frame)} judgments"
        said = (f"{len(self.frame)} judgments ({self.n_superseded} older or failed duplicate record(s) of the same "
                "judgments superseded: the newest successful one is kept)")
        if "kind" in self.frame and (self.frame["kind"] == "rubric").any():
            # A rubric's mode is not part of a judgment's identity: results of the other mode are replaced silently.
            said += ("; rubric judgments of one task in per_criterion and all_at_once mode are the same judgments "
                     "(the newer replaces the older): give each mode its own `protocol:` in the task to compare them")
        return said


def _identity_keys(frame: pd.DataFrame) -> np.ndarray:
    """One integer per judgment identity: the IDENTITY columns compared as text, a missing value as "". The
    same groups as grouping on the columns' text, for a tenth of the time: each column is factorized apart and
    the codes combined, renumbered after each column so they stay below the number of rows."""
    keys = np.zeros(len(frame), dtype=np.int64)
    for column in IDENTITY:
        values = frame[column]
        if pd.api.types.is_integer_dtype(values.dtype):
            pass  # distinct integers have distinct text
        elif isinstance(values.dtype, pd.StringDtype):
            values = values.fillna("")
        else:
            values = values.astype(object).where(values.notna(), "").astype(str)
        codes, uniques = pd.factorize(values)
        keys = pd.factorize(keys * len(uniques) + codes)[0]
    return keys


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame sorted by judgment identity (records of one judgment keep their order). Judgments finish in
    whatever order the servers answer; bootstrap intervals resample rows by position, so without one order the
    same judgments could give different intervals from one run, or one reading, to the next."""
    order = canonical_positions(frame)
    return frame.reset_index(drop=True) if order is None else frame.iloc[order].reset_index(drop=True)


def canonical_positions(frame: pd.DataFrame) -> np.ndarray | None:
    """The positions of ``frame``'s rows in ``canonical_order`` (only its IDENTITY columns are read); None when
    they are in it already. The order of a run's table (analysis.columns.identity_positions): the same ranking of
    each column's values, only their hashing is pandas' here."""
    if frame.empty:
        return None
    return lexsorted([_identity_codes(frame[column]) for column in IDENTITY])


def _identity_codes(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return identity_codes(values.to_numpy())
    first, distinct = pd.factorize(values)  # a missing value: -1
    return ranked(first, distinct.to_numpy(dtype=object).tolist(), identity_key)[0]


def canonical_frame(store: ColumnStore, run_id: str | None = None) -> pd.DataFrame:
    """``canonical_order(columns_frame(store.columns(), run_id))``, with the rows put in order before the frame is
    built, and only the columns that vary reordered: a run's statistics hold one frame of its judgments, not the
    frame and its sorted copy (measured at 100,000 judgments: 26 MB less at the peak)."""
    columns = store.columns()
    order = canonical_positions(pd.DataFrame({name: typed_column(name, columns[name]) for name in IDENTITY}))
    if order is not None:
        columns = {name: typed_column(name, values)[order] if store.varies(name) else values
                   for name, values in columns.items()}
    return columns_frame(columns, run_id)


def deduplicate(frame: pd.DataFrame, source: np.ndarray | Sequence[int]) -> tuple[pd.DataFrame, int]:
    """One record per judgment across sources (see the module doc). ``source``: each row's source, numbered
    oldest first. Of a judgment's records, those of the newest source with a successful one are kept (or of the
    newest source, when none succeeded). Records of the same judgment *within* one source are the source's own
    content (FastChat's files may grade a model twice) and stay, as that harness counts them. Returns the kept
    rows in their order and how many records were dropped."""
    if frame.empty:
        return frame.reset_index(drop=True), 0
    keys = _identity_keys(frame)
    sources = pd.Series(np.asarray(source, dtype=int))
    ok = frame["error"].isna().to_numpy()
    newest_ok = sources[ok].groupby(keys[ok]).max()
    newest_any = sources.groupby(keys).max()
    chosen = newest_ok.reindex(newest_any.index).fillna(newest_any).astype(int)
    keep = sources.to_numpy() == chosen.reindex(keys).to_numpy()
    kept = frame[keep].reset_index(drop=True)
    return kept, len(frame) - len(kept)


def collect(sources: Sequence[Source]) -> JudgmentSet:
    """The sources' judgments, oldest source first, deduplicated."""
    return collect_parsed([ParsedSource(s.label, judgment_columns(s.judgments), s.created, s.run_id)
                           for s in sources])


def collect_parsed(sources: Sequence[ParsedSource]) -> JudgmentSet:
    """The parsed sources' judgments, oldest source first, in one frame, deduplicated."""
    if not sources:
        return JudgmentSet(judgments_frame([]), 0, 0)
    frame = sources_frame([(s.columns, s.run_id) for s in sources])
    numbers = np.concatenate([np.full(n_rows(s.columns), n) for n, s in enumerate(sources)])
    kept, superseded = deduplicate(frame, numbers)
    return JudgmentSet(canonical_order(kept), len(frame), superseded)


class _Timed(Protocol):
    @property
    def created(self) -> str | None: ...


T = TypeVar("T", bound=_Timed)


def order_sources(sources: list[T]) -> list[T]:
    """judgebench runs by creation time, after other harnesses' files (which carry no time) in the order given."""
    return sorted(sources, key=lambda s: (s.created is not None, s.created or ""))


def read_judgments(paths: Sequence[str | Path], fmt: str = "auto", questions: Path | None = None,
                   cache: ParseCache | None = None) -> JudgmentSet:
    """Every judgment in the given runs, results directories and other harnesses' files, one record each (parsed
    once: formats.parse_cache; ``cache`` defaults to the one the environment names)."""
    cache = ParseCache.from_env() if cache is None else cache
    sources = [s for p in paths for s in read_parsed(Path(p), fmt, questions, cache)]
    result = collect_parsed(order_sources(sources))
    if result.frame.empty:
        raise DataError(f"no judgments in {', '.join(map(str, paths))}")
    return result
