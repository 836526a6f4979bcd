"""Grouping over plain arrays: each value's group in sorted order (``sorted_codes``), and each group's mean
(``group_means``), bit for bit what a pandas ``groupby(sort=True)`` gives, so the statistics computed from a run's
columns (no frame) and from a frame of the same judgments are the same numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

# Values a group key never holds: a missing key (None, NaN) is no group, as pandas' groupby drops it.
_MISSING = -1
# Sums of values that are multiples of 2**-_EXACT_BITS (grades, halves, quarters ...) are exact in any order while
# their magnitudes stay below 2**(53 - _EXACT_BITS).
_EXACT_BITS = 10


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def sorted_codes(values: Sequence[Any] | np.ndarray, key: Callable[[Any], Any] | None = None
                 ) -> tuple[np.ndarray, list[Any]]:
    """(each value's group: its rank among the distinct values sorted, -1 where missing; the distinct values
    sorted). Integers and floats compare as numbers, text as text (code point order, as pandas sorts). ``key``: what
    a value that is not text, or a missing one (None), is compared as (values of one key are one group; a key that is
    missing, no group); text is compared as itself."""
    array = values if isinstance(values, np.ndarray) else None
    if array is not None and array.dtype.kind in "iub":
        uniques, inverse = np.unique(array, return_inverse=True)
        return inverse.astype(np.intp).reshape(-1), uniques.tolist()
    return ranked(*_first_seen(array.tolist() if array is not None else list(values)), key=key)


def ranked(codes: np.ndarray, distinct: Sequence[Any], key: Callable[[Any], Any] | None = None
           ) -> tuple[np.ndarray, list[Any]]:
    """``sorted_codes`` of values given as each one's index in ``distinct`` (-1: a missing value), however they were
    factorized."""
    if set(map(type, distinct)) <= {str}:  # distinct text, each its own key
        keys = [*distinct, None if key is None else key(None)]
        found = sorted(distinct if keys[-1] is None or keys[-1] in distinct else keys)
    else:
        keys = list(map(key, [*distinct, None])) if key else [*distinct, None]
        missing = [_missing(k) for k in keys] if float in set(map(type, keys)) else [k is None for k in keys]
        found = sorted({k for k, gone in zip(keys, missing, strict=True) if not gone})
    rank = dict(zip(found, range(len(found)), strict=True))
    # A missing key (None, NaN) is in no rank: it gets _MISSING.
    ranks = np.fromiter(map(rank.get, keys, repeat(_MISSING)), dtype=np.intp, count=len(keys))
    return ranks[codes], found


def _first_seen(values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """(each value's position among the distinct values, the distinct values in the order first seen): hashed in C."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) <= 1:
        return np.zeros(len(values), dtype=np.intp), distinct
    index = dict(zip(distinct, range(len(distinct)), strict=True))
    return np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=len(values)), distinct


def _exact(values: np.ndarray) -> bool:
    """Whether every partial sum of ``values`` (finite) is exact, whatever the order of the additions."""
    scaled = values * float(1 << _EXACT_BITS)
    return bool(np.all(scaled == np.round(scaled))) and float(np.abs(scaled).sum()) < 2.0 ** 52


def group_means(ids: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """The mean of each group's values that are not NaN (NaN for a group without any), ``ids`` each value's group
    (0 .. n_groups - 1; -1: in none). The additions are pandas' groupby mean's (pandas 3.1): with the ids in order
    and no NaN among the values, one ``np.add.reduceat`` per group; else compensated (Kahan) sums in row order.
    Where every partial sum is exact (whole grades, halves ...), all orders give the same sums, counted at once."""
    ids = np.asarray(ids, dtype=np.intp)
    values = np.asarray(values, dtype=float)
    kept = ids >= 0
    valued = kept & ~np.isnan(values)
    counts = np.bincount(ids[valued], minlength=n_groups)[:n_groups].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if not valued.any():
            return np.full(n_groups, np.nan)
        if np.all(np.isfinite(values[valued])) and _exact(values[valued]):
            return _divided(np.bincount(ids[valued], values[valued], minlength=n_groups)[:n_groups], counts)
        if len(ids) and not np.isnan(values).any() and bool(np.all(ids[1:] >= ids[:-1])):
            dropped = int(np.count_nonzero(~kept))  # missing keys sort first
            ordered, segment_values = ids[dropped:], values[dropped:]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            sums = np.add.reduceat(segment_values, starts)
            means = np.full(n_groups, np.nan)
            means[ordered[starts]] = sums / np.diff(starts, append=len(ordered)).astype(float)
            return means
        return _divided(_compensated_sums(ids[valued].tolist(), values[valued].tolist(), n_groups), counts)


def _divided(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each sum over its count; NaN (positive, as pandas writes it) where the count is 0."""
    means = np.full(len(sums), np.nan)
    counted = counts > 0
    means[counted] = sums[counted] / counts[counted]
    return means


def _compensated_sums(ids: list[int], values: list[float], n_groups: int) -> np.ndarray:
    """Each group's Kahan sum of its values in order (a compensation that overflows to NaN is dropped)."""
    sums = [0.0] * n_groups
    carries = [0.0] * n_groups
    for group, value in zip(ids, values, strict=True):
        adjusted = value - carries[group]
        total = sums[group] + adjusted
        carry = total - sums[group] - adjusted
        carries[group] = 0.0 if carry != carry else carry
        sums[group] = total
    return np.array(sums, dtype=float)
