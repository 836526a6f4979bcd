"""Escalation: a cheap judge on every item, a stronger judge (or a human) only where the cheap one is unsure.

Pure functions over numpy arrays. An item's confidence comes from the cheap judge's preference in [1, 2]
(AlpacaEval's convention: 2 = the first model of the pair better, 1.5 a tie): its distance from a tie, scaled to
[0, 1]. That one number carries every signal a verdict has: two orders that disagree combine to 1.5 (confidence
0), a probability (AlpacaEval's weighted annotator, a log-probability margin) is its own margin, and a panel's
mean preference is as far from a tie as its judges agree. An item without a verdict has confidence 0. Two orders
are weighed order by order (``judged_preference``): one decided order beside a tie is half as confident as two
agreeing.

The threshold is chosen on labelled items: escalate every item whose confidence is at most the threshold, and take
the smallest escalation share whose combined agreement (the cheap verdicts kept, the strong verdicts where
escalated) reaches the target. Items of equal confidence are never split: a threshold cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..constants import BOOTSTRAP_SEED, DEFAULT_BOOTSTRAP
from .winrate import bootstrap_ci


def confidence(preference: np.ndarray, margin: np.ndarray | None = None) -> np.ndarray:
    """|preference - 1.5| * 2 in [0, 1]; a missing preference (NaN: no verdict) is 0, so it is escalated first.
    ``margin``: where the judge's verdict carried log-probabilities, the top verdict's probability minus the next
    one's (NaN where it did not); the confidence is then the smaller of the two, so that a judge unsure of its
    token, or orders that disagree, each send the item on."""
    values = np.abs(np.asarray(preference, dtype=float) - 1.5) * 2
    values = np.where(np.isnan(values), 0.0, np.clip(values, 0.0, 1.0))
    if margin is None:
        return values
    margin = np.asarray(margin, dtype=float)
    return np.where(np.isnan(margin), values, np.minimum(values, np.clip(margin, 0.0, 1.0)))


_OUTCOME = {"win": 1.0, "tie": 0.0, "loss": -1.0}


def judged_preference(ab: Sequence[str | None], ba: Sequence[str | None], preference: np.ndarray) -> np.ndarray:
    """Each judgment's preference for escalation. A judgment asked in two orders (``ba`` given): 1.5 plus a quarter
    per order's outcome ("win" +1, "tie" 0, "loss" -1, a failed order 0), so both orders agreeing is 1 or 2, one
    order decided and the other a tie (or failed) 1.25 or 1.75, orders that disagree 1.5; unlike the combined
    preference, which calls every disagreement a tie. Else (one order, a probability) ``preference`` as it is."""
    given = np.asarray(preference, dtype=float)
    out = given.copy()
    for i, (first, second) in enumerate(zip(ab, ba, strict=True)):
        if isinstance(second, str):
            out[i] = 1.5 + 0.25 * (_OUTCOME.get(first or "", 0.0) + _OUTCOME.get(second, 0.0))
    return out


def winner(preference: np.ndarray) -> np.ndarray:
    """Each preference as a verdict: 1 the first model of the pair, -1 the second, 0 a tie, NaN none."""
    values = np.asarray(preference, dtype=float)
    return np.where(np.isnan(values), np.nan, np.sign(values - 1.5))


@dataclass(frozen=True)
class Choice:
    """The chosen threshold on ``n`` labelled items: escalate where confidence <= ``threshold`` (None: escalate
    nothing). ``escalated``: how many of the n are escalated; ``agreement``: the combined agreement with the labels;
    ``reached``: whether it reaches the target (else the threshold with the highest agreement is given)."""

    threshold: float | None
    n: int
    escalated: int
    agreement: float
    reached: bool

    @property
    def coverage(self) -> float:
        """The share of items the cheap judge decides alone."""
        return 1 - self.escalated / self.n if self.n else float("nan")


def escalate_mask(conf: np.ndarray, threshold: float | None) -> np.ndarray:
    """Which items a threshold escalates (confidence <= threshold)."""
    conf = np.asarray(conf, dtype=float)
    return np.zeros(len(conf), dtype=bool) if threshold is None else conf <= threshold


def combined(cheap_ok: np.ndarray, strong_ok: np.ndarray, escalated: np.ndarray) -> np.ndarray:
    """Per item, whether the verdict the escalation keeps agrees with the label."""
    return np.where(escalated, np.asarray(strong_ok, dtype=bool), np.asarray(cheap_ok, dtype=bool))


def choose_threshold(conf: np.ndarray, cheap_ok: np.ndarray, strong_ok: np.ndarray, target: float) -> Choice:
    """The smallest escalation (least confident first, ties never split) whose combined agreement reaches
    ``target`` (a share in [0, 1]); when none does, the smallest one with the highest agreement."""
    conf = np.asarray(conf, dtype=float)
    n = len(conf)
    if n == 0:
        return Choice(None, 0, 0, float("nan"), False)
    order = np.argsort(conf, kind="stable")
    ranked = conf[order]
    cheap, strong = np.asarray(cheap_ok, dtype=float)[order], np.asarray(strong_ok, dtype=float)[order]
    # Agreeing items when the k least confident are escalated, for k = 0..n.
    agree = np.concatenate([[0.0], np.cumsum(strong)]) + cheap.sum() - np.concatenate([[0.0], np.cumsum(cheap)])
    # k may only end a run of equal confidences (or be 0).
    valid = np.concatenate([[True], np.append(ranked[1:] != ranked[:-1], True)])
    ks = np.flatnonzero(valid)
    shares = agree[ks] / n
    reached = ks[shares >= target - 1e-12]
    k = int(reached[0]) if len(reached) else int(ks[np.argmax(shares)])
    threshold = None if k == 0 else float(ranked[k - 1])
    return Choice(threshold, n, k, float(agree[k] / n), bool(len(reached)))


@dataclass(frozen=True)
class HeldOut:
    """The escalation judged out of sample: each item escalated or not by a threshold chosen on the other folds,
    then scored against its label. ``agreement`` and ``coverage`` over all items, with the agreement's 95%
    bootstrap interval over items."""

    agreement: float
    low: float
    high: float
    coverage: float
    folds: int


def held_out(conf: np.ndarray, cheap_ok: np.ndarray, strong_ok: np.ndarray, target: float, folds: int = 2,
             seed: int = BOOTSTRAP_SEED, n_bootstrap: int = DEFAULT_BOOTSTRAP) -> HeldOut:
    """Cross-fitting: the items split at random into ``folds``; each fold's threshold is chosen on the others."""
    conf = np.asarray(conf, dtype=float)
    cheap, strong = np.asarray(cheap_ok, dtype=bool), np.asarray(strong_ok, dtype=bool)
    fold = np.random.default_rng(seed).permutation(len(conf)) % folds
    escalated = np.zeros(len(conf), dtype=bool)
    for f in range(folds):
        train, test = fold != f, fold == f
        chosen = choose_threshold(conf[train], cheap[train], strong[train], target)
        escalated[test] = escalate_mask(conf[test], chosen.threshold)
    correct = combined(cheap, strong, escalated).astype(float)
    low, high = agreement_interval(correct, n_bootstrap, seed)
    return HeldOut(float(correct.mean()) if len(correct) else float("nan"), low, high,
                   1 - float(escalated.mean()) if len(correct) else float("nan"), folds)


def agreement_interval(correct: np.ndarray, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of an agreement (the mean of per-item correctness); NaN for none."""
    if not n_bootstrap or not len(correct):
        return float("nan"), float("nan")
    return bootstrap_ci(np.asarray(correct, dtype=float), n_samples=n_bootstrap, seed=seed)


@dataclass(frozen=True)
class Costs:
    """USD per 1,000 items: the cheap judge on all, the strong judge on all, and escalation (the cheap judge on
    all plus the strong judge on the escalated share); ``saving``: the share of the strong-on-all cost saved
    (negative when escalation costs more)."""

    cheap: float
    strong: float
    escalated: float
    saving: float


def escalation_costs(cheap_per_1000: float, strong_per_1000: float, escalated_share: float) -> Costs:
    """What escalating ``escalated_share`` of the items costs beside judging them all with the strong judge."""
    total = cheap_per_1000 + escalated_share * strong_per_1000
    saving = 1 - total / strong_per_1000 if strong_per_1000 > 0 else float("nan")
    return Costs(cheap_per_1000, strong_per_1000, total, saving)


__all__ = ["Choice", "Costs", "HeldOut", "agreement_interval", "choose_threshold", "combined", "confidence",
           "escalate_mask", "escalation_costs", "held_out", "judged_preference", "winner"]
