"""The schedule of comparisons: which answers are judged against which, for every run (run.pipeline walks it), and
which model pairs battle next, for the LLM judge's battles (task kind ``battles``) and the human arena alike.
Pure: counts and outcomes in, comparisons out; randomness only from the ``numpy.random.Generator`` given.

A one-model task schedules one comparison per item: the model's answer against the task's fixed reference, or
against none (``single``).

Three schedules (``Schedule``):
- ``all-pairs``: every pair of models on every item (FastChat's pairwise-all).
- ``baseline``: every model against one baseline model on every item (Arena-Hard's, FastChat's pairwise-baseline).
- ``sampled``: first every pair evenly (each gets ``cover`` battles before any gets more), then where the ranking
  is least certain: a pair is drawn with probability proportional to the standard error of its predicted
  outcome, ``sqrt(p (1 - p) / (n + 1))``, where p is the probability that one beats the other under the
  Bradley-Terry fit of the outcomes so far and n the battles it has had. Close pairs with few battles are drawn
  most; a pair whose order is already settled (p near 0 or 1) or that has had many battles, least. Each pair's
  fit carries one virtual tie, so a model that has only won so far does not get an infinite strength.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..errors import ConfigError

# A pair of models, in sorted order: the key under which its battles are counted, whichever side each was on.
Pair = tuple[str, str]


class Schedule(str, Enum):
    ALL_PAIRS = "all-pairs"
    BASELINE = "baseline"
    SAMPLED = "sampled"


@dataclass(frozen=True)
class Battle:
    """One scheduled battle: an item, and the two models whose answers to it are compared."""

    item_id: str
    model_a: str
    model_b: str

    @property
    def pair(self) -> Pair:
        return pair_of(self.model_a, self.model_b)


@dataclass(frozen=True)
class Comparison:
    """One scheduled comparison: an item, the model whose answer is judged, and the model whose answer it is judged
    against (None: the task's fixed reference answer, or none at all: a one-model task)."""

    item_id: str
    model: str
    opponent: str | None = None

    @classmethod
    def of(cls, battle: Battle) -> Comparison:
        return cls(battle.item_id, battle.model_a, battle.model_b)


def single(item_id: str, model: str) -> list[Comparison]:
    """A one-model task's comparisons of an item: the model's answer, against the reference or none."""
    return [Comparison(item_id, model)]


def fixed_battles(schedule: Schedule, models: Iterable[str], item_id: str, baseline: str | None = None) -> list[Battle]:
    """The battles of one item under the ``all-pairs`` or ``baseline`` schedule (the baseline is always model_b)."""
    if schedule == Schedule.BASELINE:
        if baseline is None:
            raise ConfigError("a baseline schedule needs a baseline model")
        return [Battle(item_id, a if b == baseline else b, baseline) for a, b in baseline_pairs(models, baseline)]
    return [Battle(item_id, a, b) for a, b in all_pairs(models)]


@dataclass(frozen=True)
class Result:
    """A finished battle's outcome for ``model_a``: 1 it won, 0 it lost, 0.5 a tie; ``weight``: how many battles
    it counts as (3 for a decisive five-level verdict, as Arena-Hard counts it)."""

    model_a: str
    model_b: str
    outcome: float
    weight: float = 1.0


def pair_of(a: str, b: str) -> Pair:
    if a == b:
        raise ValueError(f"a model cannot battle itself ({a!r})")
    return (a, b) if a < b else (b, a)


def all_pairs(models: Iterable[str]) -> list[Pair]:
    names = sorted(set(models))
    return list(itertools.combinations(names, 2))


def baseline_pairs(models: Iterable[str], baseline: str) -> list[Pair]:
    names = sorted(set(models))
    if baseline not in names:
        raise ConfigError(f"baseline model {baseline!r} is not among the models ({', '.join(names)}): add it, "
                          "or name one of them as the baseline")
    return [pair_of(m, baseline) for m in names if m != baseline]


def strengths(models: Sequence[str], results: Iterable[Result], pairs: Iterable[Pair] = ()) -> dict[str, float]:
    """Bradley-Terry log-strengths (mean 0) of ``results``, with one virtual tie for every pair in ``pairs``."""
    index = {m: i for i, m in enumerate(models)}
    rows = [(index[r.model_a], index[r.model_b], r.outcome, r.weight) for r in results
            if r.model_a in index and r.model_b in index]
    rows += [(index[a], index[b], 0.5, 1.0) for a, b in pairs if a in index and b in index]
    if not rows:
        return {m: 0.0 for m in models}
    # Imported here: every run walks this module's schedule, only a sampled one fits strengths (scipy.optimize).
    from ..stats.bradley_terry import fit_strengths

    a, b, outcome, weight = (np.array(column) for column in zip(*rows, strict=True))
    fitted = fit_strengths(a.astype(int), b.astype(int), outcome.astype(float), len(models), weight.astype(float))
    fitted -= fitted.mean()
    return {m: float(fitted[i]) for m, i in index.items()}


def uncertainty(pairs: Sequence[Pair], counts: Counter[Pair], fitted: dict[str, float]) -> np.ndarray:
    """Each pair's standard error of its predicted outcome, ``sqrt(p (1 - p) / (n + 1))``."""
    from scipy.special import expit

    p = np.array([expit(fitted.get(a, 0.0) - fitted.get(b, 0.0)) for a, b in pairs])
    n = np.array([counts.get(pair, 0) for pair in pairs], dtype=float)
    return np.sqrt(p * (1 - p) / (n + 1))


def choose_pairs(pairs: Sequence[Pair], counts: Counter[Pair], results: Iterable[Result], k: int,
                 rng: np.random.Generator, cover: int = 1) -> list[Pair]:
    """``k`` pairs to battle next (``sampled``): the least-battled pair while some pair has fewer than ``cover``
    battles (ties broken at random), then pairs drawn by ``uncertainty``. ``counts`` (battles so far per pair,
    scheduled ones included) is not changed; the pairs chosen count for the choices after them."""
    if not pairs:
        raise ConfigError("no pair of models to schedule: a battle needs at least two models")
    counts = Counter(counts)
    models = sorted({m for pair in pairs for m in pair})
    fitted = strengths(models, results, pairs)
    chosen: list[Pair] = []
    for _ in range(k):
        least = min(counts.get(pair, 0) for pair in pairs)
        if least < cover:
            candidates = [pair for pair in pairs if counts.get(pair, 0) == least]
            pick = candidates[int(rng.integers(len(candidates)))]
        else:
            weight = uncertainty(pairs, counts, fitted)
            pick = pairs[int(rng.choice(len(pairs), p=weight / weight.sum()))] if weight.sum() > 0 else \
                pairs[int(rng.integers(len(pairs)))]
        chosen.append(pick)
        counts[pick] += 1
    return chosen


def assign_items(pairs: Iterable[Pair], item_ids: Sequence[str], used: dict[Pair, Counter[str]],
                 rng: np.random.Generator) -> list[Battle]:
    """A battle per pair: on the item that pair has battled on least (at random among those), so a pair meets
    every item once before any twice. ``used`` is updated. The pair's order in the battle is drawn at random."""
    if not item_ids:
        raise ConfigError("no items to battle on")
    battles = []
    for pair in pairs:
        seen = used.setdefault(pair, Counter())
        least = min(seen.get(item, 0) for item in item_ids)
        candidates = [item for item in item_ids if seen.get(item, 0) == least]
        item = candidates[int(rng.integers(len(candidates)))]
        seen[item] += 1
        a, b = pair if rng.random() < 0.5 else (pair[1], pair[0])
        battles.append(Battle(item, a, b))
    return battles


def spread(battles: Iterable[Battle]) -> dict[Pair, int]:
    """How many battles each pair got: what the closing note and the tests report of a schedule."""
    return dict(sorted(Counter(b.pair for b in battles).items()))
