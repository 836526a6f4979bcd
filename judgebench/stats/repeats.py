"""How much a judge's verdict varies when the same prompt is asked again (a judge with ``,repeats=K``): served
models are not deterministic, even at temperature 0, so one ask is one draw.

A prompt's asks are the verdicts its K asks gave, failed asks left out; a prompt with fewer than two is left out
(one verdict cannot vary). Over the prompts left:

- flip rate: the share of prompts whose verdicts are not all equal (any change of verdict on a second ask);
- disagreement: the mean, over prompts, of the share of pairs of asks whose verdicts differ (a prompt asked 5
  times with one odd verdict flips, but disagrees on only 4 of its 10 pairs of asks);
- grade SD: the mean, over prompts, of the standard deviation of a prompt's grades, with K - 1 in the
  denominator (the sample SD: with K of 2 to 5 the population SD would understate the spread by a factor of
  sqrt((K - 1) / K)); a mean of SDs, not the root of a mean variance, so one wild prompt does not dominate.

A pairwise prompt is one order of one comparison (AB or BA): each order is a prompt of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Variance", "disagreement", "flip_rate", "grade_sd", "repeated", "variance"]

# One prompt's verdicts, one per ask that gave one.
Asks = Sequence[Hashable]


def repeated(prompts: Sequence[Asks]) -> list[Asks]:
    """The prompts with at least two verdicts: those whose verdict can vary."""
    return [asks for asks in prompts if len(asks) >= 2]


def flip_rate(prompts: Sequence[Asks]) -> float | None:
    """The share of prompts (with two verdicts or more) whose verdicts are not all equal; None without any."""
    kept = repeated(prompts)
    return float(np.mean([len(set(asks)) > 1 for asks in kept])) if kept else None


def _disagreeing_pairs(asks: Asks) -> float:
    """The share of a prompt's pairs of asks whose verdicts differ: 1 - sum c(c-1) / (K(K-1)) over each verdict's
    count c."""
    k = len(asks)
    agreeing = sum(c * (c - 1) for c in Counter(asks).values())
    return 1.0 - agreeing / (k * (k - 1))


def disagreement(prompts: Sequence[Asks]) -> float | None:
    """The mean share of pairs of asks that disagree, over prompts with two verdicts or more; None without any."""
    kept = repeated(prompts)
    return float(np.mean([_disagreeing_pairs(asks) for asks in kept])) if kept else None


def grade_sd(prompts: Sequence[Sequence[float]]) -> float | None:
    """The mean over prompts (with two grades or more) of their grades' sample SD; None without any."""
    kept = [asks for asks in prompts if len(asks) >= 2]
    return float(np.mean([np.std(np.asarray(asks, dtype=float), ddof=1) for asks in kept])) if kept else None


@dataclass(frozen=True)
class Variance:
    """One judge's variance over its repeated prompts. grade_sd: None where none of its prompts is graded;
    n_repeated: the prompts with two verdicts or more (what the rates are over)."""

    flip_rate: float | None
    disagreement: float | None
    grade_sd: float | None
    n_repeated: int


def variance(grades: Sequence[Sequence[float]], outcomes: Sequence[Asks]) -> Variance:
    """A judge's variance from its graded prompts' grades and its pairwise prompts' outcomes ("win", "tie",
    "loss"), each prompt's asks that gave one. Flip rate and disagreement count both kinds of prompt."""
    prompts: list[Asks] = [*grades, *outcomes]
    return Variance(flip_rate(prompts), disagreement(prompts), grade_sd(grades), len(repeated(prompts)))
