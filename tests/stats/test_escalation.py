"""Escalation's statistics, each checked against a direct computation written apart from the library (every possible
threshold tried by brute force) or a hand-worked case."""

from __future__ import annotations

import numpy as np
import pytest

from judgebench.stats.escalation import (
    choose_threshold,
    confidence,
    escalation_costs,
    held_out,
    judged_preference,
    winner,
)


def _brute_force(conf: np.ndarray, cheap_ok: np.ndarray, strong_ok: np.ndarray,
                 target: float) -> tuple[float | None, int, float]:
    """Every threshold (none, then each distinct confidence), scored by a plain loop over the items."""
    best: tuple[float | None, int, float] | None = None
    for threshold in [None, *sorted(set(conf.tolist()))]:
        agree = escalated = 0
        for c, cheap, strong in zip(conf, cheap_ok, strong_ok, strict=True):
            up = threshold is not None and c <= threshold
            escalated += up
            agree += strong if up else cheap
        share = agree / len(conf)
        if share >= target:
            return threshold, escalated, share
        if best is None or share > best[2]:
            best = (threshold, escalated, share)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("target", [0.6, 0.8, 0.9, 0.99])
def test_the_threshold_is_the_smallest_escalation_that_reaches_the_target(seed: int, target: float) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    conf = np.round(rng.uniform(size=n), 1)  # many equal confidences: ties must not be split
    cheap_ok = rng.uniform(size=n) < 0.4 + 0.6 * conf  # a judge more often right where it is confident
    strong_ok = rng.uniform(size=n) < 0.9
    choice = choose_threshold(conf, cheap_ok, strong_ok, target)
    threshold, escalated, share = _brute_force(conf, cheap_ok, strong_ok, target)
    assert (choice.threshold, choice.escalated) == (threshold, escalated)
    assert choice.agreement == pytest.approx(share)
    assert choice.reached == (share >= target)
    assert choice.coverage == pytest.approx(1 - escalated / n)


def test_items_of_equal_confidence_are_escalated_together() -> None:
    # Escalating one of the two items at 0.2 would reach 3/4; a threshold cannot, so both go.
    conf = np.array([0.2, 0.2, 0.9, 0.9])
    choice = choose_threshold(conf, np.array([0, 0, 1, 1], bool), np.array([1, 0, 1, 1], bool), 0.75)
    assert (choice.threshold, choice.escalated, choice.agreement) == (0.2, 2, 0.75)


def test_an_unreachable_target_gives_the_best_escalation_and_says_so() -> None:
    conf = np.array([0.1, 0.5, 1.0])
    choice = choose_threshold(conf, np.array([0, 1, 0], bool), np.array([1, 0, 0], bool), 0.99)
    assert (choice.reached, choice.threshold, choice.escalated) == (False, 0.1, 1)
    assert choice.agreement == pytest.approx(2 / 3)
    choice = choose_threshold(conf, np.array([0, 0, 0], bool), np.array([0, 0, 0], bool), 0.5)
    assert (choice.reached, choice.threshold, choice.escalated, choice.agreement) == (False, None, 0, 0.0)


def test_confidence_is_the_distance_from_a_tie() -> None:
    assert confidence(np.array([2.0, 1.0, 1.5, 1.75, 1.1, np.nan])).tolist() == pytest.approx(
        [1.0, 1.0, 0.0, 0.5, 0.8, 0.0])
    assert winner(np.array([2.0, 1.2, 1.5])).tolist() == [1.0, -1.0, 0.0]
    assert np.isnan(winner(np.array([np.nan]))[0])


def test_two_orders_are_weighed_order_by_order() -> None:
    ab = ["win", "win", "win", "tie", None, "win"]
    ba = ["win", "loss", "tie", "tie", "loss", None]
    given = np.array([2.0, 1.5, 1.5, 1.5, np.nan, 1.7])
    # both agree; disagree; one decided beside a tie; both ties; one failed order (counts 0); one order asked: as given
    assert judged_preference(ab, ba, given).tolist() == pytest.approx([2.0, 1.5, 1.75, 1.5, 1.25, 1.7])


def test_held_out_keeps_everything_when_the_cheap_judge_is_always_right() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(size=100)
    result = held_out(conf, np.ones(100, bool), np.zeros(100, bool), 0.9, n_bootstrap=100)
    assert (result.agreement, result.coverage) == (1.0, 1.0)


def test_held_out_agreement_is_scored_on_items_the_threshold_never_saw() -> None:
    # Confidence says nothing about correctness here, so a threshold chosen in sample looks better than it is out of
    # sample; the held-out agreement is the honest one and lies within its own interval.
    rng = np.random.default_rng(7)
    n = 400
    conf = rng.uniform(size=n)
    cheap_ok, strong_ok = rng.uniform(size=n) < 0.7, rng.uniform(size=n) < 0.8
    result = held_out(conf, cheap_ok, strong_ok, 0.99, n_bootstrap=200)
    assert result.low <= result.agreement <= result.high
    assert result.folds == 2 and 0 <= result.coverage <= 1


def test_costs_per_1000() -> None:
    costs = escalation_costs(1.0, 10.0, 0.2)
    assert (costs.cheap, costs.strong, costs.escalated) == (1.0, 10.0, pytest.approx(3.0))
    assert costs.saving == pytest.approx(0.7)
    assert escalation_costs(9.0, 10.0, 0.5).saving == pytest.approx(-0.4)  # escalation can cost more
