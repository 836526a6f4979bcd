"""Saturation: has a task run out of scale at the top, and can it still tell the top models apart?

- per model, the share of its grades at the scale's maximum, and at the top two values (9 and 10 of 10; none on a
  scale where they would be all of it: a rubric's scores in [0, 1], whose maximum is a full score);
- separability: the share of model pairs whose 95% bootstrap intervals do not overlap (Arena-Hard's
  definition), and the spread of the top models' means against their interval widths.

These are the numbers; which of them deserve a flag is decided in judgebench.analysis (thresholds.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use
from .grouped import group_means, sorted_codes
from .winrate import bootstrap_ci

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class TopShares:
    """One model's share of grades at the scale's maximum and at its top two values, over ``n`` grades."""

    model: str
    share_max: float | None
    share_top2: float | None
    n: int


@dataclass(frozen=True)
class SaturationSection:
    """Saturation of one set of grades (all of a judge's, or one category's: ``category``) on a scale topping at
    ``high``."""

    high: int
    per_model: tuple[TopShares, ...]
    separability: float | None
    top_models: tuple[str, ...]
    top_spread: float | None
    top_median_ci_width: float | None
    category: str | None = None


def top_shares(model: str, scores: np.ndarray | Sequence[float], high: int, low: float | None = None) -> TopShares:
    """The shares of ``scores`` (NaN: none) at ``high`` and at its top two values; no top two where ``high - 1`` is
    the scale's ``low`` or below (every score would count)."""
    values = np.asarray(scores, dtype=float)
    valid = values[~np.isnan(values)]
    if not len(valid):
        return TopShares(model, None, None, 0)
    top2 = None if low is not None and high - 1 <= low else int(np.count_nonzero(valid >= high - 1)) / len(valid)
    return TopShares(model, int(np.count_nonzero(valid >= high)) / len(valid), top2, len(valid))


def separability(intervals: dict[str, tuple[float, float]]) -> float:
    pairs = list(combinations(intervals.values(), 2))
    if not pairs:
        return float("nan")
    apart = sum(1 for (a_low, a_high), (b_low, b_high) in pairs if a_high < b_low or b_high < a_low)
    return apart / len(pairs)


def saturation_section(grades: pd.DataFrame, high: int, category: str | None = None, top_k: int = 3,
                       n_bootstrap: int = 1000, low: float | None = None) -> SaturationSection:
    """Saturation of grades (columns model, score) on a scale whose maximum is ``high`` (and minimum ``low``)."""
    return saturation_of(grades["model"].to_numpy(dtype=object, na_value=None),
                         grades["score"].to_numpy(dtype=float, na_value=np.nan), high, category, top_k, n_bootstrap,
                         low)


def saturation_of(models: np.ndarray, scores: np.ndarray, high: int, category: str | None = None, top_k: int = 3,
                  n_bootstrap: int = 1000, low: float | None = None) -> SaturationSection:
    """``saturation_section`` of each grade's model and score (NaN: none) as arrays."""
    codes, names = sorted_codes(models)
    scores = np.asarray(scores, dtype=float)
    by_model = [scores[codes == i] for i in range(len(names))]
    per_model = tuple(top_shares(str(m), g, high, low) for m, g in zip(names, by_model, strict=True))
    means = group_means(codes, scores, len(names))
    graded = np.flatnonzero(~np.isnan(means))
    # Best first; models of equal means in the order pandas' sort_values gives them (numpy's quicksort of the
    # reversed means, reversed).
    ranked = _descending(graded, means[graded])
    intervals = {str(names[i]): bootstrap_ci(by_model[i][~np.isnan(by_model[i])], n_samples=n_bootstrap)
                 for i in ranked}
    top = tuple(str(names[i]) for i in ranked[:top_k])
    widths = [intervals[m][1] - intervals[m][0] for m in top]
    return SaturationSection(
        high=high, per_model=per_model,
        separability=separability(intervals) if len(intervals) >= 2 else None,
        top_models=top,
        top_spread=float(means[ranked[0]] - means[ranked[min(top_k, len(ranked)) - 1]]) if len(ranked) else None,
        top_median_ci_width=float(np.median(widths)) if widths else None,
        category=category,
    )


def _descending(positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``positions`` ordered by ``values``, largest first, as pandas' ``sort_values(ascending=False)`` orders them
    (ties included: its quicksort of the reversed values, reversed)."""
    return positions[::-1][values[::-1].argsort(kind="quicksort")][::-1]
