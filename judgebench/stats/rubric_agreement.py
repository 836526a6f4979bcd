"""Agreement on categorical ratings (a rubric criterion's met / not met, or a score rubric's level) between raters,
with percentile bootstrap intervals over items (clusters of ratings: an item's answers, and its criteria, are
resampled together, since they share the question).

Ratings are an (units, raters) array of category codes 0 .. k-1, every rater rating every unit. Percent agreement
is the mean over units of the share of rater pairs that agree (for two raters: the share of units rated alike);
kappa is Cohen's for two raters and Fleiss' for three or more. A kappa is undefined (nan) where the expected
agreement is 1 (every rating in one category: nothing to agree on beyond chance); a resample where it is
undefined is left out of its interval.

Both statistics are sums of per-unit counts, so each item's counts are added once and a resample is a product of
the bootstrap's draw counts (stats.winrate.resample_counts, the draws every surface shares) with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .winrate import resample_counts


@dataclass(frozen=True)
class Agreement:
    """Raters' agreement over ``n_units`` units of ``n_items`` items: percent agreement and kappa (``statistic``:
    "cohen" or "fleiss"), each with a 95% percentile bootstrap interval over items (None without resamples, or
    where undefined)."""

    n_raters: int
    n_units: int
    n_items: int
    agreement: float | None
    agreement_low: float | None
    agreement_high: float | None
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    statistic: str


def _cohen_counts(ratings: np.ndarray, k: int) -> np.ndarray:
    """Each unit's joint-table cell as a one-hot row of k*k counts (two raters)."""
    cells = ratings[:, 0] * k + ratings[:, 1]
    return np.eye(k * k)[cells]


def _cohen(tables: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Percent agreement and Cohen's kappa of (n, k*k) joint tables (one per resample)."""
    joint = tables.reshape(-1, k, k)
    total = joint.sum(axis=(1, 2))
    observed = np.trace(joint, axis1=1, axis2=2) / total
    expected = np.einsum("ni,ni->n", joint.sum(axis=2), joint.sum(axis=1)) / total ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(expected < 1 - 1e-12, (observed - expected) / (1 - expected), np.nan)
    return observed, kappa


def _fleiss_counts(ratings: np.ndarray, k: int) -> np.ndarray:
    """Each unit's sufficient statistics for Fleiss' kappa: its share of agreeing rater pairs, then its k category
    counts."""
    m = ratings.shape[1]
    counts = np.stack([(ratings == c).sum(axis=1) for c in range(k)], axis=1).astype(float)
    pairs = (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    return np.column_stack([pairs, counts])


def _fleiss(sums: np.ndarray, n_units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percent agreement (the mean share of agreeing rater pairs) and Fleiss' kappa from summed statistics."""
    observed = sums[:, 0] / n_units
    shares = sums[:, 1:] / sums[:, 1:].sum(axis=1, keepdims=True)
    expected = (shares ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(expected < 1 - 1e-12, (observed - expected) / (1 - expected), np.nan)
    return observed, kappa


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    values = values[~np.isnan(values)]
    if not len(values):
        return None, None
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def rater_agreement(ratings: np.ndarray, items: Sequence[object] | np.ndarray, n_bootstrap: int,
                    seed: int = 0) -> Agreement:
    """Percent agreement and kappa of an (units, raters) array of category codes (ints from 0), with 95% percentile
    bootstrap intervals resampling ``items`` (each unit's item: its units resampled together; no interval from one
    item). At least two raters; no units gives no values."""
    ratings = np.asarray(ratings, dtype=int)
    if ratings.ndim != 2 or ratings.shape[1] < 2:
        raise ValueError("agreement needs an (units, raters) array of at least two raters")
    if len(items) != len(ratings):
        raise ValueError("one item per unit")
    n, m = ratings.shape
    statistic = "cohen" if m == 2 else "fleiss"
    if not n:
        return Agreement(m, 0, 0, None, None, None, None, None, None, statistic)
    if ratings.min() < 0:
        raise ValueError("category codes start at 0")
    k = max(2, int(ratings.max()) + 1)
    per_unit = _cohen_counts(ratings, k) if m == 2 else _fleiss_counts(ratings, k)
    codes = np.asarray(items)
    if codes.dtype.kind not in "iu":  # ids of any kind, compared as text (integer codes as they are)
        codes = np.asarray([str(i) for i in items])
    _, cluster = np.unique(codes, return_inverse=True)
    n_items = int(cluster.max()) + 1
    per_item = np.zeros((n_items, per_unit.shape[1]))
    np.add.at(per_item, cluster, per_unit)
    sizes = np.bincount(cluster, minlength=n_items).astype(float)

    def both(sums: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _cohen(sums, k) if m == 2 else _fleiss(sums, units)

    observed, kappa = both(per_item.sum(axis=0, keepdims=True), sizes.sum(keepdims=True))
    a_low = a_high = k_low = k_high = None
    if n_bootstrap and n_items > 1:  # one item resampled is itself every time: no interval, not a zero-width one
        draws = resample_counts(n_items, n_bootstrap, seed)
        boot_observed, boot_kappa = both(draws @ per_item, draws @ sizes)
        a_low, a_high = _interval(boot_observed)
        k_low, k_high = _interval(boot_kappa)
    return Agreement(m, n, n_items, float(observed[0]), a_low, a_high, _value(float(kappa[0])), k_low, k_high,
                     statistic)
