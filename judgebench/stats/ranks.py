"""Ranks that respect confidence intervals, as Chatbot Arena ranks its leaderboard: a model's rank is one plus
the number of models that are better than it beyond doubt, i.e. whose interval lies wholly above its own. Two
models whose intervals overlap can share a rank; a rank never claims more than the intervals support. Pure."""

from __future__ import annotations

from collections.abc import Sequence


def interval_ranks(lows: Sequence[float | None], highs: Sequence[float | None]) -> list[int]:
    """Rank of each model (1 = best) from its interval [low, high] (higher is better). A missing bound is
    unbounded on that side: a model without an interval is beyond doubt neither above nor below any other."""
    if len(lows) != len(highs):
        raise ValueError("as many lower as upper bounds are needed")
    ranks = []
    for high in highs:
        above = sum(1 for low in lows if low is not None and high is not None and low > high)
        ranks.append(1 + above)
    return ranks
