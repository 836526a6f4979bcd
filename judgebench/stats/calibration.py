"""Calibration of a judge whose verdict is a probability, against binary labels: the Brier score and the expected
calibration error (equal-width bins, each weighted by its share of the predictions, as Guo et al. 2017 define it),
and percentile bootstrap intervals of the MT-Bench agreements S1 and S2 (stats.agreement) over labelled items.
Pure numpy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..constants import BOOTSTRAP_SEED, DEFAULT_BOOTSTRAP

ECE_BINS = 10


def brier_score(probability: Sequence[float], outcome: Sequence[float]) -> float:
    """The mean squared difference between the predicted probability and the 0/1 outcome (NaN for none)."""
    p, y = np.asarray(probability, dtype=float), np.asarray(outcome, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def expected_calibration_error(probability: Sequence[float], outcome: Sequence[float], bins: int = ECE_BINS) -> float:
    """Sum over ``bins`` equal-width bins of [0, 1] of (share of predictions in the bin) x |mean outcome - mean
    probability| in it; a probability of exactly 1 falls in the last bin (NaN for no predictions)."""
    p, y = np.asarray(probability, dtype=float), np.asarray(outcome, dtype=float)
    if not len(p):
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, weights=y, minlength=bins) - np.bincount(index, weights=p, minlength=bins))
    # per bin: count * |mean(y) - mean(p)| = |sum(y) - sum(p)|, so the weighted sum needs no division by counts
    return float(gap.sum() / counts.sum())


def agreement_intervals(same: Sequence[bool], decisive: Sequence[bool], n_bootstrap: int = DEFAULT_BOOTSTRAP,
                        seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> tuple[tuple[float, float],
                                                                                  tuple[float, float]]:
    """95% percentile intervals of S1 (the share of ``same``) and S2 (the share of ``same`` among the ``decisive``
    pairs, where neither side is a tie), resampling the labelled pairs together so both come from the same draws. A
    resample without a decisive pair is left out of S2's interval. NaN where there is nothing to resample."""
    agree, kept = np.asarray(same, dtype=float), np.asarray(decisive, dtype=float)
    nan = (float("nan"), float("nan"))
    if not len(agree) or not n_bootstrap:
        return nan, nan
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(agree), np.full(len(agree), 1 / len(agree)), size=n_bootstrap)
    s1 = counts @ agree / len(agree)
    decisive_n = counts @ kept
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = (counts @ (agree * kept)) / decisive_n
    s2 = s2[decisive_n > 0]
    alpha = (1 - level) / 2
    s1_ci = tuple(float(v) for v in np.quantile(s1, [alpha, 1 - alpha]))
    s2_ci = tuple(float(v) for v in np.quantile(s2, [alpha, 1 - alpha])) if len(s2) else nan
    return (s1_ci[0], s1_ci[1]), (s2_ci[0], s2_ci[1])
