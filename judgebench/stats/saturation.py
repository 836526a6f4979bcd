"""Saturation: has a task run out of scale at the top, and can it still tell the top models apart?

- per model, the share of its grades at the scale's maximum, and at the top two values (9 and 10 of 10; none on a
  scale where they would be all of it: a rubric's scores in [0, 1], whose maximum is a full score);
- separability: the share of model pairs whose 95% bootstrap intervals do not overlap (Arena-Hard's
  definition), and the spread of the top models' means against their interval widths.

These are the numbers; which of them deserve a flag is decided in judgebench.analysis (thresholds.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use
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


def top_shares(model: str, scores: pd.Series, high: int, low: float | None = None) -> TopShares:
    """The shares of ``scores`` at ``high`` and at its top two values; no top two where ``high - 1`` is the scale's
    ``low`` or below (every score would count)."""
    valid = scores.dropna()
    if valid.empty:
        return TopShares(model, None, None, 0)
    top2 = None if low is not None and high - 1 <= low else float((valid >= high - 1).mean())
    return TopShares(model, float((valid >= high).mean()), top2, len(valid))


def separability(intervals: dict[str, tuple[float, float]]) -> float:
    pairs = list(combinations(intervals.values(), 2))
    if not pairs:
        return float("nan")
    apart = sum(1 for (a_low, a_high), (b_low, b_high) in pairs if a_high < b_low or b_high < a_low)
    return apart / len(pairs)


def saturation_section(grades: pd.DataFrame, high: int, category: str | None = None, top_k: int = 3,
                       n_bootstrap: int = 1000, low: float | None = None) -> SaturationSection:
    """Saturation of grades (columns model, score) on a scale whose maximum is ``high`` (and minimum ``low``)."""
    per_model = tuple(top_shares(str(m), g["score"], high, low) for m, g in grades.groupby("model", sort=True))
    means = grades.groupby("model")["score"].mean().dropna().sort_values(ascending=False)
    intervals = {str(m): bootstrap_ci(grades[grades["model"] == m]["score"].dropna().to_numpy(),
                                      n_samples=n_bootstrap) for m in means.index}
    top = tuple(str(m) for m in means.index[:top_k])
    widths = [intervals[m][1] - intervals[m][0] for m in top]
    return SaturationSection(
        high=high, per_model=per_model,
        separability=separability(intervals) if len(intervals) >= 2 else None,
        top_models=top,
        top_spread=float(means.iloc[0] - means.iloc[min(top_k, len(means)) - 1]) if len(means) else None,
        top_median_ci_width=float(np.median(widths)) if widths else None,
        category=category,
    )
