"""Brier score, expected calibration error and the bootstrap intervals of S1/S2, each against an independent
computation (sklearn, a per-bin loop, scipy's bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap
from sklearn.metrics import brier_score_loss

from judgebench.stats.calibration import agreement_intervals, brier_score, expected_calibration_error


def _draws(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    return p, (rng.uniform(size=n) < p ** 1.5).astype(float)  # outcomes less likely than p says: miscalibrated


def test_brier_is_sklearns() -> None:
    p, y = _draws(500, 1)
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_ece_is_the_weighted_gap_of_each_bin() -> None:
    p, y = _draws(500, 2)
    p[:3] = [0.0, 1.0, 0.5]  # the edges: 1.0 falls in the last bin
    expected = 0.0
    for k in range(10):
        inside = (p >= k / 10) & ((p < (k + 1) / 10) if k < 9 else (p <= 1.0))
        if inside.any():
            expected += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    assert expected_calibration_error(p, y) == pytest.approx(expected, abs=1e-12)
    assert expected > 0.02  # the draws are miscalibrated, so the check is not 0 == 0


def test_a_calibrated_judge_has_a_small_ece_and_none_is_nan() -> None:
    p, _ = _draws(20000, 3)
    y = (np.random.default_rng(4).uniform(size=len(p)) < p).astype(float)
    assert expected_calibration_error(p, y) < 0.02
    assert np.isnan(brier_score([], [])) and np.isnan(expected_calibration_error([], []))


def test_agreement_intervals_match_scipys_percentile_bootstrap() -> None:
    rng = np.random.default_rng(5)
    same = rng.uniform(size=400) < 0.8
    decisive = rng.uniform(size=400) < 0.7
    s1_ci, s2_ci = agreement_intervals(same, decisive, n_bootstrap=4000)
    ref1 = bootstrap((same.astype(float),), np.mean, n_resamples=4000, method="percentile", random_state=6)
    assert s1_ci == pytest.approx(tuple(ref1.confidence_interval), abs=0.01)
    ratio = bootstrap((same.astype(float), decisive.astype(float)),
                      lambda a, d, axis: (a * d).sum(axis=axis) / d.sum(axis=axis), paired=True, vectorized=True,
                      n_resamples=4000, method="percentile", random_state=7)
    assert s2_ci == pytest.approx(tuple(ratio.confidence_interval), abs=0.01)
    assert s1_ci[0] < same.mean() < s1_ci[1]
    # seeded: the same labels give the same intervals
    assert agreement_intervals(same, decisive, n_bootstrap=4000) == (s1_ci, s2_ci)


def test_no_ties_makes_both_intervals_one_and_nothing_is_nan() -> None:
    same = np.array([True, False, True, True, True])
    s1_ci, s2_ci = agreement_intervals(same, np.ones(5, bool), n_bootstrap=200)
    assert s1_ci == s2_ci
    assert all(np.isnan(v) for ci in agreement_intervals([], [], 200) for v in ci)
    assert all(np.isnan(v) for v in agreement_intervals(same, np.zeros(5, bool), 200)[1])
