"""Ranks that respect intervals (stats.ranks.interval_ranks), Chatbot Arena's rule, against a direct reading of it:
rank = 1 + the number of models whose whole interval lies above this one's."""

from __future__ import annotations

import numpy as np

from judgebench.stats.ranks import interval_ranks


def _rule(intervals: list[tuple[float, float]]) -> list[int]:
    """The rule read literally: count, for each model, the others that beat it beyond doubt."""
    return [1 + sum(other_low > high for other_low, _ in intervals) for _, high in intervals]


def test_ranks_follow_the_rule_on_random_intervals() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        centers = rng.normal(size=8)
        widths = rng.uniform(0.05, 1.5, size=8)
        intervals = [(float(c - w), float(c + w)) for c, w in zip(centers, widths, strict=True)]
        ranks = interval_ranks([lo for lo, _ in intervals], [hi for _, hi in intervals])
        assert ranks == _rule(intervals)
        # A rank never claims more than the order of the centres: it is at most the ordinal rank.
        ordinal = 1 + np.argsort(np.argsort(-centers))
        assert all(r <= o for r, o in zip(ranks, ordinal, strict=True))


def test_disjoint_intervals_give_the_ordinal_ranks_and_overlapping_ones_share() -> None:
    assert interval_ranks([8, 5, 1], [9, 6, 2]) == [1, 2, 3]
    assert interval_ranks([5, 4.5, 1], [6, 5.5, 2]) == [1, 1, 3]  # the first two overlap; the third is below both
    assert interval_ranks([0, 0], [1, 1]) == [1, 1]


def test_a_model_without_an_interval_is_beyond_doubt_neither_above_nor_below() -> None:
    assert interval_ranks([None, 5, 1], [None, 6, 2]) == [1, 1, 2]
