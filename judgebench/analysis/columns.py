"""Judgments as plain numpy columns (``Table``): what the statistics of one kind's group read, whether the judgments
came as a frame (``Table.of_frame``: its columns, converted as they are read) or as a run's ``ColumnStore``
(``Table.of_store``: no frame built, no pandas called). The statistics over a table are the ones the frames'
callers use (analysis.aggregate's table aggregators, stats.saturation), so both give the same numbers.

A table's columns: text as object arrays of str (None where missing), numbers as float64 (NaN where missing), the
turn as int64, ``empty`` as bool.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy as np

from ..formats.table import CONTENT_COLUMNS, NUMBER_COLUMNS, ColumnStore
from ..stats.grouped import sorted_codes
from ..types import JudgmentId

# A judgment's identity (types.JudgmentId): the columns of the canonical order.
IDENTITY = tuple(f.name for f in fields(JudgmentId))


def _text(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Text values as an object array (a value that is a list stays one value), None where missing."""
    found = np.fromiter(values, dtype=object, count=len(values))
    listed = found.tolist()
    if float in set(map(type, listed)):  # NaN, as other sources' missing text may be
        found[[i for i, v in enumerate(listed) if type(v) is float and math.isnan(v)]] = None
    return found


def typed(name: str, values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """A column's values as its table column holds them (as formats.table.typed_column types a frame's, without
    pandas): float64 numbers (None: NaN), int64 turns, bool ``empty``, text as objects."""
    if name in NUMBER_COLUMNS:
        if isinstance(values, np.ndarray) and values.dtype == np.float64:
            return values
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if name == "turn":
        return np.asarray(values, dtype=np.int64)
    if name == "empty":
        return np.asarray(values, dtype=bool)
    return _text(values)


def identity_key(value: Any) -> str:
    """A value of a text column of the identity as the canonical order compares it: its text, "" where missing.
    (An integer column, the turn, compares as integers.)"""
    if type(value) is str:
        return value
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def identity_codes(values: np.ndarray) -> np.ndarray:
    """A column of the identity as sorted codes: an integer column's integers, any other's ``identity_key``."""
    return sorted_codes(values, None if values.dtype.kind in "iu" else identity_key)[0]


def identity_positions(columns: Sequence[np.ndarray]) -> np.ndarray | None:
    """The positions of rows in the canonical order, given their IDENTITY columns in IDENTITY's order (columns of
    one value may be left out); None when they are in it already."""
    return lexsorted([identity_codes(values) for values in columns])


def lexsorted(codes: Sequence[np.ndarray]) -> np.ndarray | None:
    """The canonical order of rows given each IDENTITY column's sorted codes (``identity_codes``): one stable
    lexicographic sort; None when the rows are in it already."""
    if not codes or not len(codes[0]):
        return None
    order = np.lexsort(codes[::-1])
    return None if np.array_equal(order, np.arange(len(order))) else order


class Table:
    """Judgments column by column (see the module doc). ``columns`` maps a name to its array, or to a function that
    makes it the first time it is read."""

    def __init__(self, columns: Mapping[str, np.ndarray | Callable[[], np.ndarray]], n: int) -> None:
        self._columns = dict(columns)
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __getitem__(self, name: str) -> np.ndarray:
        found = self._columns[name]
        if callable(found):
            found = self._columns[name] = found()
        return found

    def take(self, positions: np.ndarray) -> Table:
        """The rows at ``positions`` (in their order); a column is taken when it is first read."""
        if len(positions) == self._n and np.array_equal(positions, np.arange(self._n)):
            return self  # every row, in order: nothing to copy
        return Table({name: _taken(self, name, positions) for name in self._columns}, len(positions))

    def where(self, mask: np.ndarray) -> Table:
        return self.take(np.flatnonzero(mask))

    def groups(self, *names: str, dropna: bool = True) -> Iterator[tuple[tuple[Any, ...], Table]]:
        """(key, rows) of each distinct value of the columns ``names``, in sorted order (a missing value last, or
        no group where ``dropna``), each group's rows in their order: as pandas' ``groupby(sort=True)``."""
        if not self._n:
            return
        keys: list[np.ndarray] = []
        uniques: list[list[Any]] = []
        for name in names:
            codes, found = sorted_codes(self[name])
            if not dropna:
                codes = np.where(codes < 0, len(found), codes)
                found = [*found, None]
            keys.append(codes)
            uniques.append(found)
        dropped = np.zeros(self._n, dtype=bool)
        for codes in keys:
            dropped |= codes < 0
        kept = np.flatnonzero(~dropped)
        if not len(kept):
            return  # every row's key is missing: no group (as pandas' groupby gives none)
        order = kept[np.lexsort([codes[kept] for codes in keys[::-1]])]
        combined = np.zeros(len(order), dtype=np.int64)
        for codes, found in zip(keys, uniques, strict=True):
            combined = combined * (len(found) + 1) + codes[order]
        starts = np.flatnonzero(np.r_[True, combined[1:] != combined[:-1]])
        for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
            first = order[start]
            key = tuple(found[codes[first]] for codes, found in zip(keys, uniques, strict=True))
            yield key, self.take(order[start:end])

    @classmethod
    def of_frame(cls, frame: Any) -> Table:
        """A judgments frame's columns (a pandas DataFrame; each converted when it is first read)."""
        return cls({str(name): _frame_column(frame, str(name)) for name in frame.columns}, len(frame))

    @classmethod
    def of_store(cls, store: ColumnStore) -> Table:
        """A run's judgments in the canonical order (analysis.records.canonical_order), no frame built: the
        columns that vary are put in order, the others are one value repeated."""
        n = len(store)
        # A column of one value orders nothing.
        order = identity_positions([typed(name, store.column(name)) for name in IDENTITY if store.varies(name)])
        found: dict[str, np.ndarray | Callable[[], np.ndarray]] = {}
        for name in CONTENT_COLUMNS:  # each made when first read: most statistics read a few
            if order is not None and store.varies(name):
                found[name] = _ordered(name, store.column(name), order)
            else:
                found[name] = _stored(store, name)
        return cls(found, n)


def _taken(table: Table, name: str, positions: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: table[name][positions]


def _ordered(name: str, values: Sequence[Any], order: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: typed(name, values)[order]


def _stored(store: ColumnStore, name: str) -> Callable[[], np.ndarray]:
    return lambda: typed(name, store.column(name))


def _frame_column(frame: Any, name: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        values = frame[name]
        if name in NUMBER_COLUMNS:
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        if values.dtype.kind in "iub":
            return values.to_numpy()
        return values.to_numpy(dtype=object, na_value=None)
    return read
