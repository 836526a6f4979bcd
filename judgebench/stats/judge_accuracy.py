"""How often a judge picks the objectively correct response of a labelled pair (JudgeBench, Tan et al.
arXiv:2410.12784), with the pieces its table reports beside accuracy: position consistency and length bias.

Decisions are in the pair's own terms ("A>B": the first response of the pair is better), whichever order the judge
saw them in; None where the judge gave none. Pure functions over sequences and numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..constants import BOOTSTRAP_SEED, DEFAULT_BOOTSTRAP
from .winrate import bootstrap_ci

_OPPOSITE = {"A>B": "B>A", "B>A": "A>B"}


@dataclass(frozen=True)
class Accuracy:
    """Accuracy in % over ``n`` pairs, with its 95% percentile bootstrap interval over pairs (NaN for no pairs)."""

    value: float
    low: float
    high: float
    n: int


def order_points(decisions: Sequence[str | None], label: str) -> int:
    """JudgeBench's score of one pair: +1 for each order whose decision is the label, -1 for each that is the
    opposite label, 0 for a tie or no decision."""
    opposite = _OPPOSITE[label]
    return sum((d == label) - (d == opposite) for d in decisions)


def pairs_correct(decisions: Sequence[Sequence[str | None]], labels: Sequence[str]) -> np.ndarray:
    """Whether each pair counts as correct: its orders agreeing with the label outnumber those against it (the sum
    of ``order_points`` is positive). With one order per pair this is decision == label."""
    return np.array([order_points(d, label) > 0 for d, label in zip(decisions, labels, strict=True)], dtype=bool)


def accuracy(correct: np.ndarray, n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> Accuracy:
    """The share of correct pairs in %, with a percentile bootstrap interval over pairs (none for n_bootstrap 0)."""
    values = np.asarray(correct, dtype=float)
    if len(values) == 0:
        return Accuracy(float("nan"), float("nan"), float("nan"), 0)
    low, high = bootstrap_ci(values, n_samples=n_bootstrap, seed=seed) if n_bootstrap else (float("nan"),) * 2
    return Accuracy(100 * float(values.mean()), 100 * low, 100 * high, len(values))


def position_consistency(first: Sequence[str | None], second: Sequence[str | None]) -> float:
    """The share of pairs whose two orders gave the same decision (a tie included; no decision never agrees)."""
    same = [a is not None and a == b for a, b in zip(first, second, strict=True)]
    return float(np.mean(same)) if same else float("nan")


def preferred(decisions: Sequence[str | None]) -> str | None:
    """The response a pair's orders prefer together: "A" or "B" by the sign of their votes, None for a draw."""
    votes = sum((d == "A>B") - (d == "B>A") for d in decisions)
    return "A" if votes > 0 else "B" if votes < 0 else None


@dataclass(frozen=True)
class LongerShare:
    """How often the longer response was preferred: ``share`` of the ``n`` pairs with a preference and responses of
    different lengths (NaN when there are none)."""

    share: float
    n: int


def longer_share(choices: Sequence[str | None], length_a: Sequence[int], length_b: Sequence[int]) -> LongerShare:
    """The share of pairs whose preferred response ("A", "B"; None: no preference, left out) is the longer one."""
    hits = [(choice == "A") == (a > b) for choice, a, b in zip(choices, length_a, length_b, strict=True)
            if choice is not None and a != b]
    return LongerShare(float(np.mean(hits)) if hits else float("nan"), len(hits))
