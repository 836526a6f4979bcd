"""The rubric score rule (HealthBench): points of the met positive criteria, less the magnitude of the met negative
ones, over the positive points available, clipped to [0, 1]. Expected values are worked out here from the rule."""

from __future__ import annotations

import numpy as np
import pytest

from judgebench.stats.rubric import level_score, paired_difference, rubric_score
from judgebench.stats.winrate import bootstrap_ci


def test_positive_criteria_met_over_those_available() -> None:
    # HealthBench's worked example: criteria worth 5, 3 and 2 points, the first and last met: (5 + 2) / (5 + 3 + 2).
    assert rubric_score([(5, True), (3, False), (2, True)]) == pytest.approx(7 / 10)


def test_a_met_negative_criterion_subtracts_its_points() -> None:
    # 8 available (5 + 3); met: 5 and the -2 penalty: (5 - 2) / 8.
    assert rubric_score([(5, True), (3, False), (-2, True)]) == pytest.approx(3 / 8)
    # An unmet negative criterion changes nothing.
    assert rubric_score([(5, True), (3, False), (-2, False)]) == pytest.approx(5 / 8)


def test_the_score_is_clipped_to_zero_and_one() -> None:
    # Only penalties met: (0 - 4 - 6) / 7 < 0, clipped to 0.
    assert rubric_score([(7, False), (-4, True), (-6, True)]) == 0.0
    assert rubric_score([(1, True), (2, True)]) == 1.0
    assert rubric_score([(1, False), (2, False)]) == 0.0


def test_fractional_points() -> None:
    assert rubric_score([(0.5, True), (1.5, False), (-0.25, True)]) == pytest.approx((0.5 - 0.25) / 2.0)


def test_no_positive_points_is_refused() -> None:
    with pytest.raises(ValueError, match="positive points"):
        rubric_score([(-3, False)])


def test_a_score_rubric_level_maps_onto_zero_to_one() -> None:
    # Prometheus 2: five levels, (level - 1) / 4.
    assert [level_score(level, 5) for level in range(1, 6)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError):
        level_score(6, 5)
    with pytest.raises(ValueError):
        level_score(0, 5)


def test_the_paired_difference_resamples_the_differences() -> None:
    a = np.array([1.0, 0.5, 0.75, 0.0, 1.0])
    b = np.array([0.5, 0.5, 0.25, 0.0, 0.5])
    mean, low, high = paired_difference(a, b, n_bootstrap=200)
    assert mean == pytest.approx(float(np.mean(a - b)))
    # The interval is the bootstrap of the per-item differences (items resampled with both scores kept together).
    assert (low, high) == bootstrap_ci(a - b, n_samples=200)
    assert paired_difference(a, b, n_bootstrap=0)[1:] == (None, None)
    assert np.isnan(paired_difference(np.array([]), np.array([]), 100)[0])
    with pytest.raises(ValueError):
        paired_difference(a, b[:3], 100)
