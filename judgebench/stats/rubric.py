"""Rubric scores: pure functions over criteria's points and verdicts (HealthBench's rule), and the paired bootstrap
that compares two models' rubric scores item by item."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .winrate import bootstrap_ci


def rubric_score(criteria: Sequence[tuple[float, bool]]) -> float:
    """An item's score from its criteria's (points, met): the points of the met positive criteria, less the
    magnitude of the met negative ones, over the positive points available, clipped to [0, 1] (HealthBench). An item
    without positive points has no score: the task loader refuses one."""
    available = sum(p for p, _ in criteria if p > 0)
    if available <= 0:
        raise ValueError("an item's rubric needs positive points: the score is the points met over them")
    earned = sum(p for p, met in criteria if met)  # a met negative criterion subtracts its magnitude
    return float(clipped_scores(np.array([earned], dtype=float), np.array([available], dtype=float))[0])


def clipped_scores(earned: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Many items' scores at once from their sums: the points met (negative ones subtracted) over the positive
    points available, clipped to [0, 1] (``rubric_score``'s rule; ``available`` above 0)."""
    return np.clip(np.asarray(earned, dtype=float) / np.asarray(available, dtype=float), 0.0, 1.0)


def level_score(level: float, levels: int) -> float:
    """A score rubric's level (1 .. ``levels``) as a score in [0, 1]: (level - 1) / (levels - 1)."""
    if not 1 <= level <= levels or levels < 2:
        raise ValueError(f"level {level} is not one of 1 .. {levels}")
    return (level - 1) / (levels - 1)


def paired_difference(a: np.ndarray, b: np.ndarray,
                      n_bootstrap: int) -> tuple[float, float | None, float | None]:
    """The mean of ``a - b`` over paired items (the same items, in the same order) with its 95% percentile
    bootstrap interval: items resampled with replacement, both models' scores of an item kept together (the
    differences resampled). (nan, None, None) for no pairs; no interval without resamples."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired scores must have one score of each model per item")
    if not len(a):
        return float("nan"), None, None
    diff = a - b
    if not n_bootstrap:
        return float(diff.mean()), None, None
    low, high = bootstrap_ci(diff, n_samples=n_bootstrap)
    return float(diff.mean()), low, high
