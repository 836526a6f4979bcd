"""A judge that asks each prompt K times (``,repeats=K``): served models are not deterministic, even at temperature 0
(batching changes the arithmetic), so a judge's verdict on one prompt is a draw, and how much it varies is part of
how far the judge can be trusted (stats.repeats measures it).

Every request a task kind builds is asked K times, as K distinct requests: ask k (0 .. K-1) carries ``repeat=k``,
which its cache key includes from the second ask on (so the first ask's key is the key of the judge without
repeats, and a rerun is served from the cache), and a sampled request (one with a seed) is sampled with seed k, so
the K asks are K draws and not one draw K times. The kind assembles each ask's judgments as it always does; the K
judgments of one (item, turn) then become ONE judgment: the statistics see one item, not K, and the record keeps
every ask's verdict (``Judgment.repeats``), reply text and call.

The combined verdict:
- pairwise (each order apart): the outcome most asks gave; a split (no single most common outcome) is a tie, the
  judge's own word for "neither"; a five-level margin is "much better" only when most of the asks that gave the
  outcome said so. The preference combines the two orders as the kind does (orders that disagree tie); a weighted
  preference (AlpacaEval 2.0's, from log-probabilities) is the mean of the asks'.
- grade: the mean. The mean of K asks estimates the judge's expected grade, so a model's mean grade over items
  equals the mean over every ask (the median would shift it towards the grades a judge gives most, and on an even K
  it falls between grades anyway); a grade is an interval quantity, and averaging samples is what G-Eval does with a
  judge's sampled grades. The price: a combined grade may be fractional (7.33), which agreement by grade label
  treats as its own category.
An ask that failed (no reply, no verdict) is left out of the combination and kept as None in ``repeats``; the
judgment fails only where no ask gave what it needs. An ask still waiting in a provider's batch makes the whole
judgment wait (pending).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from statistics import fmean

from ..stats.rubric import rubric_score
from ..types import Candidate, Failure, Grade, JudgeRequest, Judgment, PairVerdict, RubricVerdict, Task
from .strategies import JudgingKind, Outcome, Parsed
from .verdicts import combine_orders


def asked(requests: Sequence[JudgeRequest], times: int) -> list[JudgeRequest]:
    """The requests to send for a judge that asks ``times`` times: every request once, then each again as ask
    2, 3, ... (ask by ask, so ``assemble_asks`` cuts the outcomes into asks). ``times`` 1: the requests as they are."""
    if times <= 1:
        return list(requests)
    return [request if k == 0 else _again(request, k) for k in range(times) for request in requests]


def _again(request: JudgeRequest, k: int) -> JudgeRequest:
    # A seeded (sampled) request gets seed k: with seed 0 on every ask, a deterministic server would give one draw
    # K times. Unseeded requests (temperature 0) are sent as they are.
    params = tuple((name, k if name == "seed" else value) for name, value in request.chat.params)
    return replace(request, chat=replace(request.chat, params=params, repeat=k))


def assemble_asks(kind: JudgingKind, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                  outcomes: Sequence[Outcome], opponent: Candidate | None, times: int,
                  parsed: Parsed | None = None) -> list[Judgment]:
    """The judgments of ``asked(requests, times)``'s outcomes: the kind's own, one per (item, turn), each the
    combination of its ``times`` asks. ``parsed``: the verdicts already read from the outcomes."""
    if times <= 1:
        return kind.assemble(task, candidate, requests, outcomes, opponent, parsed)
    n = len(requests) // times
    per_ask = [kind.assemble(task, candidate, requests[k * n:(k + 1) * n], outcomes[k * n:(k + 1) * n], opponent,
                             parsed)
               for k in range(times)]
    return [combine(asks) for asks in zip(*per_ask, strict=True)]


def combine(asks: Sequence[Judgment]) -> Judgment:
    """One judgment from the judgments of K asks of the same prompts (see the module doc)."""
    verdicts = tuple(ask.verdict for ask in asks)
    grades = [v for v in verdicts if isinstance(v, Grade)]
    pairs = [v for v in verdicts if isinstance(v, PairVerdict)]
    rubrics = [v for v in verdicts if isinstance(v, RubricVerdict)]
    verdict: Grade | PairVerdict | RubricVerdict | None = (
        combined_grade(grades) if grades else combined_pair(pairs) if pairs else combined_rubric(rubrics)
        if rubrics else None)
    whole = (isinstance(verdict, Grade) or (isinstance(verdict, PairVerdict) and verdict.preference is not None)
             or (isinstance(verdict, RubricVerdict) and verdict.score is not None))
    failure = None if whole else next((ask.failure for ask in asks if ask.failure is not None), None)
    if failure is None and not whole and isinstance(verdict, RubricVerdict):
        split = ", ".join(c.id for c in verdict.criteria if c.met is None)
        failure = Failure("split", f"the asks split evenly on criteria {split}: no majority verdict (final: a rerun "
                                   "reads the same asks from the cache; an odd number of repeats avoids a split)")
    waiting = next((ask.failure for ask in asks if ask.failure is not None and ask.failure.cause == "pending"), None)
    if waiting is not None:
        # An ask still in a provider's batch: the judgment waits for it (a later run collects it), unscored, rather
        # than standing on fewer asks than its judge asks.
        verdict, failure = None, waiting
    calls = tuple(replace(call, label=f"{call.label}:{k + 1}") for k, ask in enumerate(asks) for call in ask.calls)
    return replace(asks[0], verdict=verdict, failure=failure, raw=tuple(t for ask in asks for t in ask.raw),
                   calls=calls, repeats=verdicts)


def combined_grade(grades: Sequence[Grade]) -> Grade:
    """The mean grade (and mean expected grade, where the asks have one)."""
    expected = [g.expected_score for g in grades if g.expected_score is not None]
    return Grade(fmean(g.score for g in grades), fmean(expected) if expected else None)


def combined_rubric(rubrics: Sequence[RubricVerdict]) -> RubricVerdict:
    """Each criterion's majority verdict over the asks that gave one (an even split gives none, so no score); a
    score rubric's mean score, with the mean level (as a grade's: 2 and 5 give 3.5, the level the mean score
    stands for; a level that is no level's would read as a missing verdict)."""
    scored = [r for r in rubrics if r.level is not None and r.score is not None]
    if scored:
        mean = fmean(r.level for r in scored if r.level is not None)
        level = int(mean) if mean.is_integer() else mean
        return RubricVerdict(tuple(replace(c, level=level) for c in scored[0].criteria),
                             fmean(r.score for r in scored if r.score is not None), level)
    criteria = []
    for one in zip(*(r.criteria for r in rubrics), strict=True):
        votes = [c.met for c in one if c.met is not None]
        yes, no = votes.count(True), votes.count(False)
        criteria.append(replace(one[0], met=True if yes > no else False if no > yes else None))
    complete = all(c.met is not None for c in criteria)
    return RubricVerdict(tuple(criteria), rubric_score([(c.points, bool(c.met)) for c in criteria])
                         if complete else None)


def majority(outcomes: Sequence[str]) -> str | None:
    """The outcome most asks gave; "tie" where two or more outcomes are given equally often; None for none."""
    counts = Counter(outcomes).most_common()
    if not counts:
        return None
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return "tie"
    return counts[0][0]


def _margin(outcome: str | None, answers: Sequence[tuple[str, int | None]]) -> int | None:
    """2 ("much better") when most of the asks that gave ``outcome`` said so, else 1; None for a tie or three
    levels."""
    if outcome in (None, "tie"):
        return None
    margins = [m for o, m in answers if o == outcome and m is not None]
    if not margins:
        return None
    return 2 if sum(m == 2 for m in margins) * 2 > len(margins) else 1


def combined_pair(pairs: Sequence[PairVerdict]) -> PairVerdict:
    """Each order's majority outcome and margin, and their preference (see the module doc)."""
    if any(p.preference is not None and (p.ab is None or p.ba is None or p.preference != combine_orders(p.ab, p.ba))
           for p in pairs):
        return _weighted_pair(pairs)
    ab = majority([p.ab for p in pairs if p.ab is not None])
    ba = majority([p.ba for p in pairs if p.ba is not None])
    return PairVerdict(ab, ba, combine_orders(ab, ba) if ab and ba else None,
                       _margin(ab, [(p.ab, p.margin_ab) for p in pairs if p.ab is not None]),
                       _margin(ba, [(p.ba, p.margin_ba) for p in pairs if p.ba is not None]))


def _weighted_pair(pairs: Sequence[PairVerdict]) -> PairVerdict:
    """A preference the kind weighs itself (not one of its orders' outcomes combined): the mean of the asks', and
    each asked order's outcome the side of 1.5 that mean is on."""
    values = [p.preference for p in pairs if p.preference is not None]
    preference = fmean(values) if values else None
    side = None if preference is None else "win" if preference > 1.5 else "loss" if preference < 1.5 else "tie"
    return PairVerdict(side if any(p.ab is not None for p in pairs) else None,
                       side if any(p.ba is not None for p in pairs) else None, preference)


__all__ = ["asked", "assemble_asks", "combine", "combined_grade", "combined_pair", "majority"]
