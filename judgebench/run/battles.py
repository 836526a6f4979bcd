"""A battles run (task kind ``battles``): every candidate model's answers, then the scheduled battles between them,
each judged in both orders by every judge of the panel. The wiring only: judging.schedule chooses the battles, the
task kind (judging.kinds.BattleComparison) builds their requests and judgments, evaluate's sink writes them.

Schedules (the task's ``battles:`` block, types.BattlesSpec):
- ``all-pairs``: every pair of models on every item, item by item as soon as the item's answers exist (so answers
  and judgments stream, as a one-model run's do).
- ``baseline``: every model against the baseline model on every item, streamed the same way.
- ``sampled``: every answer first (a model answers every item), then rounds: each round chooses its battles
  (schedule.choose_pairs: ``cover`` battles per pair first, then the pairs whose order is least certain under the
  Bradley-Terry fit of the battles judged so far), judges them, and the next round refits. A pair meets every item
  once before any twice, and never twice on one item (a judgment is identified by its item and models), so the
  budget is at most pairs x items. Every draw comes from one generator seeded by the task's ``seed``: a rerun
  schedules the same battles, so every request is served from the cache.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import ConfigError
from ..formats import read_answers
from ..formats.table import judgments_frame
from ..judging.kinds import kind_of
from ..judging.requests import render_all
from ..judging.schedule import (
    Battle,
    Comparison,
    Pair,
    Result,
    Schedule,
    all_pairs,
    assign_items,
    choose_pairs,
    fixed_battles,
    spread,
)
from ..stats.battle_ranking import games_frame
from ..types import BattlesSpec, Candidate, Endpoint, Item, Judgment, Task
from .config import RunConfig
from .executors import Executor
from .fanout import bounded
from .pipeline import Pipeline, Work, asks_of, stream

T = TypeVar("T")
# A sampled schedule refits at least this many times over its budget (more often when there are many pairs:
# a round is at least one battle per pair).
ROUNDS = 10


def sampled_budget(spec: BattlesSpec, n_pairs: int, n_items: int) -> tuple[int, int]:
    """(budget, cover) of a sampled schedule. Budget: the task's, else one battle per pair on a third of the items
    (rounded up); at most pairs x items. Cover: the task's, else a third of the budget spread evenly over the
    pairs (at least 1); at most the items."""
    budget = min(spec.budget or n_pairs * math.ceil(n_items / 3), n_pairs * n_items)
    cover = min(spec.cover or max(1, budget // (3 * n_pairs)), n_items)
    return budget, cover


def _supplied(task: Task, files: Sequence[Path], items: list[Item]) -> dict[str, dict[str, Candidate]]:
    """Each answers file's candidates by item id, under the model name the file gives."""
    found: dict[str, dict[str, Candidate]] = {}
    for path in files:
        candidates = read_answers(path, task, items)
        model = candidates[0].model
        if model in found:
            raise ConfigError(f"{path}: the answers of model {model!r} are given twice; each --answers file must be "
                              "another model's")
        found[model] = {c.item_id: c for c in candidates}
    return found


def _check_models(names: Sequence[str], spec: BattlesSpec, task: Task) -> None:
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"model(s) {', '.join(duplicated)} given twice: each --model / --answers must name "
                          "another model")
    if len(names) < 2:
        raise ConfigError(f"task {task.name!r} battles candidate models against each other: give at least two "
                          f"(--model NAME@URL or --answers FILE, repeated); got {', '.join(names) or 'none'}")
    if spec.schedule == Schedule.BASELINE and spec.baseline not in names:
        raise ConfigError(f"{task.path or task.name}: the baseline model {spec.baseline!r} is not among the run's "
                          f"models ({', '.join(names)}): add it with --model or --answers")


class _Battles:
    """One battles run's state: the answers so far, and what was scheduled."""

    def __init__(self, task: Task, config: RunConfig, items: list[Item], endpoints: Sequence[Endpoint],
                 supplied: dict[str, dict[str, Candidate]]) -> None:
        self.task, self.config, self.items = task, config, items
        self.kind = kind_of(task.kind)
        self.spec = task.battles or BattlesSpec()
        self.endpoints = list(endpoints)
        self.supplied = supplied
        self.models = sorted([*supplied, *(e.name for e in endpoints)])
        self.by_item = {item.id: item for item in items}
        self.answers: dict[tuple[str, str], Candidate] = {}
        self.scheduled: list[Battle] = []

    async def answer(self, pipeline: Pipeline, item: Item) -> dict[str, Candidate]:
        """Every model's answer to ``item``: read from its file, or generated (cached, as in any run)."""
        if len(self.endpoints) == 1:
            generated = [await pipeline.answer(item, self.endpoints[0])]
        else:  # none (every model's answers read from a file), or several generated at once
            generated = list(await _gather(pipeline.answer(item, e) for e in self.endpoints))
        return self._found(pipeline, item, generated)

    def read(self, pipeline: Pipeline, item: Item) -> dict[str, Candidate]:
        """``answer`` where every model's answers are read from a file (nothing to generate)."""
        return self._found(pipeline, item, [])

    def _found(self, pipeline: Pipeline, item: Item, generated: list[Candidate]) -> dict[str, Candidate]:
        found: dict[str, Candidate] = {}
        for candidate in [*(by_item[item.id] for by_item in self.supplied.values()), *generated]:
            self.answers[(candidate.model, item.id)] = candidate
            found[candidate.model] = candidate
            pipeline.sink.candidate(candidate)
        return found

    def fixed(self, item: Item, found: dict[str, Candidate] | None = None) -> list[Comparison]:
        """The battles of ``item`` under the all-pairs or baseline schedule (``model_a`` is the judgment's model,
        ``model_b`` its opponent)."""
        battles = fixed_battles(Schedule(self.spec.schedule), self.models, item.id, self.spec.baseline)
        self.scheduled += battles
        return [Comparison.of(b) for b in battles]

    async def run_fixed(self, pipeline: Pipeline) -> None:
        await stream(pipeline, self.items, self.answer, self.fixed, None if self.endpoints else self.read)

    async def run_sampled(self, pipeline: Pipeline) -> None:
        """Every answer first, then rounds: each chooses its battles from the verdicts so far."""
        async def answer(item: Item) -> None:
            await self.answer(pipeline, item)

        await bounded(self.items, pipeline.window, answer)
        pairs = all_pairs(self.models)
        budget, cover = sampled_budget(self.spec, len(pairs), len(self.items))
        round_size = max(len(pairs), math.ceil(budget / ROUNDS))
        rng = np.random.default_rng(self.spec.seed)
        counts: Counter[Pair] = Counter()
        used: dict[Pair, Counter[str]] = {}
        results: list[Result] = []
        item_ids = [item.id for item in self.items]
        while sum(counts.values()) < budget:
            room = [pair for pair in pairs if counts[pair] < len(item_ids)]
            chosen = choose_pairs(room, counts, results, min(round_size, budget - sum(counts.values())), rng, cover)
            # A pair that has met every item is full: picks beyond its room are dropped (the next round redraws).
            kept: list[Pair] = []
            for pair in chosen:
                if counts[pair] < len(item_ids):
                    kept.append(pair)
                    counts[pair] += 1
            battles = assign_items(kept, item_ids, used, rng)
            self.scheduled += battles
            results += _results(await self._judge_round(pipeline, battles))

    async def _judge_round(self, pipeline: Pipeline, battles: list[Battle]) -> list[Judgment]:
        """A round's battles, an item's together (one call, its requests in prefix order: a candidate's answer
        shown first in several battles goes out in adjacent requests); the judgments in the battles' order."""
        by_item: dict[str, list[int]] = {}
        for index, battle in enumerate(battles):
            by_item.setdefault(battle.item_id, []).append(index)

        async def one(indices: list[int]) -> list[list[Judgment]]:
            item = self.by_item[battles[indices[0]].item_id]
            pairs = [(self.answers[(battles[i].model_a, item.id)], self.answers[(battles[i].model_b, item.id)])
                     for i in indices]
            return await pipeline.judge_all(item, pairs)

        judged = await _gather(one(indices) for indices in by_item.values())
        per_battle: list[list[Judgment]] = [[] for _ in battles]
        for indices, judgments in zip(by_item.values(), judged, strict=True):
            for i, found in zip(indices, judgments, strict=True):
                per_battle[i] = found
        return [j for judgments in per_battle for j in judgments]

    def summary(self) -> dict[str, Any]:
        spec = self.spec
        return {"battles": {
            "schedule": spec.schedule, "baseline": spec.baseline, "seed": spec.seed, "models": self.models,
            "n_battles": len(self.scheduled),
            "spread": [[a, b, n] for (a, b), n in spread(self.scheduled).items()],
        }}


async def _gather(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*awaitables))


def _results(judgments: list[Judgment]) -> list[Result]:
    """Judged battles as the scheduler's results: the same games (both orders, decisive ones weighted) that rank
    the models at the end (stats.battle_ranking.games_frame)."""
    games = games_frame(judgments_frame(judgments))
    return [Result(str(a), str(b), float(o), float(w)) for a, b, o, w in
            zip(games["model_a"], games["model_b"], games["outcome"], games["weight"], strict=True)]


def battles_work(task: Task, config: RunConfig, items: list[Item], executor: Executor) -> Work:
    """The work of a battles run: checks first (models, schedule, templates), before anything is written."""
    if executor.whole_run:
        raise ConfigError("--engine ray does not run battles yet: use --engine local")
    if config.batch is not None:
        raise ConfigError("--batch does not run battles (a sampled schedule needs each round's verdicts before the "
                          "next): drop --batch")
    supplied = _supplied(task, config.candidate_answers(), items)
    endpoints = config.candidate_models()
    battles = _Battles(task, config, items, endpoints, supplied)
    _check_models([*supplied, *(e.name for e in endpoints)], battles.spec, task)
    some = next(iter(supplied.values()), None)
    render_all(task, items, config.judges, list(some.values()) if some else None)
    n_pairs = (len(fixed_battles(Schedule(battles.spec.schedule), battles.models, items[0].id, battles.spec.baseline))
               if battles.spec.schedule != Schedule.SAMPLED else 0)
    n_battles = (sampled_budget(battles.spec, len(all_pairs(battles.models)), len(items))[0] if not n_pairs
                 else n_pairs * len(items))
    generation = len(endpoints) * sum(len(item.turns) for item in items)
    total = generation + asks_of(config.judges) * n_battles * battles.kind.requests_per_item(task, items[0])
    run = battles.run_sampled if battles.spec.schedule == Schedule.SAMPLED else battles.run_fixed
    return Work(f"{len(battles.models)}-models", total, run, battles.summary)


__all__ = ["battles_work", "sampled_budget"]
