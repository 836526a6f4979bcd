"""The one pipeline of every run mode: an item's candidate answers (generated turn by turn, or read from a file),
then the scheduled comparisons (judging.schedule) judged by every judge, every request handed to the run's executor
(run.executors) and every answer and judgment to the sink as it is done. A one-model task schedules one comparison
per item: the model's answer against the task's fixed reference, or against none; a battles task (run.battles)
schedules comparisons between models. Live, provider-batch, Ray and dry runs differ only in the executor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..errors import BackendError, BatchPending
from ..judging import render_store
from ..judging.answers import split_reasoning
from ..judging.kinds import JudgingKind, is_empty, kind_of
from ..judging.order import prefix_order
from ..judging.repeats import asked, assemble_asks
from ..judging.requests import generation_request
from ..judging.schedule import Comparison, single
from ..judging.strategies import Parsed
from ..types import CallRecord, Candidate, ChatReply, ChatRequest, Endpoint, Item, Judge, JudgeRequest, Judgment, Task
from .executors import Executor
from .fanout import bounded


class Sink(Protocol):
    """Where finished work goes as it finishes (a run's files; nowhere for a dry run)."""

    def candidate(self, candidate: Candidate) -> None: ...

    def judgment(self, judgment: Judgment) -> None: ...


class NullSink:
    """A dry run's sink: nothing is written."""

    def candidate(self, candidate: Candidate) -> None:
        return None

    def judgment(self, judgment: Judgment) -> None:
        return None


# (candidate, opponent, judge, judgments needing no request, requests)
_Ask = tuple[Candidate, Candidate | None, Judge, list[Judgment], list[JudgeRequest]]


def _answer_accepted(_request: ChatRequest, reply: ChatReply) -> bool:
    # An empty answer (nothing but thinking, or nothing at all) is recorded but not cached: the next run asks again.
    return not is_empty(split_reasoning(reply.text, reply.reasoning)[0])


@dataclass
class Pipeline:
    """One run's steps over its executor: ``answer`` an item, ``judge`` a comparison, ``finish`` at the end."""

    task: Task
    judges: tuple[Judge, ...]
    executor: Executor
    sink: Sink
    window: int  # items in flight at once
    kind: JudgingKind = field(init=False)
    # A whole-run executor's judge requests, waiting for ``finish``: (candidate, opponent, requests, asks of each).
    _later: list[tuple[Candidate, Candidate | None, list[JudgeRequest], int]] = field(init=False,
                                                                                     default_factory=list)

    def __post_init__(self) -> None:
        self.kind = kind_of(self.task.kind)

    async def answer(self, item: Item, endpoint: Endpoint) -> Candidate:
        """``endpoint``'s answer to ``item``. Turn k sees the model's own answers to 1..k-1, so turns go in order."""
        task, executor = self.task, self.executor.generation
        answers: list[str] = []
        thoughts: list[str] = []
        calls: list[CallRecord] = []
        error = None
        pending = False
        for turn in range(len(item.turns)):
            request = generation_request(task, item, endpoint, tuple(answers))
            (reply,) = await executor.outcomes([request], _answer_accepted)
            if isinstance(reply, BackendError):
                error = f"turn {turn + 1}: {reply}"
                pending = isinstance(reply, BatchPending)
                calls.append(CallRecord(request.cache_key(), f"turn{turn + 1}", error=str(reply)))
                executor.tick(len(item.turns) - turn - 1)  # the turns never asked count as done
                break
            answer, thought = split_reasoning(reply.text, reply.reasoning)
            answers.append(answer)  # the next turn, and the judge, see the answer alone
            thoughts.append(thought)
            calls.append(CallRecord(request.cache_key(), f"turn{turn + 1}", reply.prompt_tokens,
                                    reply.completion_tokens, round(reply.latency_s, 4), reply.from_cache,
                                    reply.finish_reason))
        return Candidate(task.benchmark, item.id, endpoint.name, tuple(answers), task.generation_for(item.category),
                         error, tuple(calls), tuple(thoughts) if any(thoughts) else (), pending)

    async def judge(self, item: Item, candidate: Candidate, opponent: Candidate | None = None) -> list[Judgment]:
        """Every judge's judgments of ``candidate`` (against ``opponent``'s answer, in a battle), written to the sink
        (a whole-run executor's come at ``finish``)."""
        return (await self.judge_all(item, [(candidate, opponent)]))[0]

    async def judge_all(self, item: Item, pairs: Sequence[tuple[Candidate, Candidate | None]]) -> list[list[Judgment]]:
        """Every judge's judgments of each (candidate, opponent) of one item, in the order of ``pairs``, each
        written to the sink. Their requests go to the executor in one call, in prefix order (judging.order): the
        requests that share the longest beginning of their prompt (both orders of an answer, every criterion of it,
        the prompts showing one candidate's answer first, a panel's judges asking one server) are sent one after the
        other, which keeps a server's prefix cache hot."""
        return await self._judge_asks(item, self._asks(item, pairs))

    def _asks(self, item: Item, pairs: Sequence[tuple[Candidate, Candidate | None]]) -> list[_Ask]:
        """(candidate, opponent, judge, judgments needing no request, requests) for every pair and judge."""
        kind, task = self.kind, self.task
        asks: list[_Ask] = []
        for candidate, opponent in pairs:
            for judge in self.judges:
                if not candidate.ok or (opponent is not None and not opponent.ok):
                    asks.append((candidate, opponent, judge, kind.unanswered(task, item, candidate, judge, opponent),
                                 []))
                    continue
                # Empty answers are never shown to the judge; the kind records what they count for. A judge with
                # ``,repeats=K`` asks each request K times (judging.repeats): one judgment from the K replies.
                asks.append((candidate, opponent, judge, kind.empty(task, item, candidate, judge, opponent),
                             asked(kind.requests(task, candidate, item, judge, opponent), judge.repeats)))
        return asks

    async def _judge_asks(self, item: Item, asks: list[_Ask]) -> list[list[Judgment]]:
        flat = [request for *_, requests in asks for request in requests]
        parsed = Parsed()  # each reply's verdict, read once: to decide its caching, then to assemble its judgment
        if self.executor.whole_run:
            self._later += [(c, o, requests, judge.repeats) for c, o, judge, _, requests in asks if requests]
            outcomes: list[ChatReply | BackendError] = []
        elif flat:
            order = prefix_order([r.chat for r in flat])
            sent = await self.executor.outcomes([flat[i].chat for i in order], self._accept(flat, parsed))
            outcomes = [sent[0]] * len(flat)
            for position, i in enumerate(order):
                outcomes[i] = sent[position]
        else:
            outcomes = []
        return self._record(item, asks, outcomes, parsed)

    def _record(self, item: Item, asks: list[_Ask], outcomes: Sequence[ChatReply | BackendError],
                parsed: Parsed) -> list[list[Judgment]]:
        """The judgments of ``asks`` from the outcomes of their requests (in order), written to the sink."""
        kind, task = self.kind, self.task
        found: list[list[Judgment]] = []
        start = 0
        for index, (candidate, opponent, judge, judgments, requests) in enumerate(asks):
            if requests and not self.executor.whole_run:
                judgments = judgments + assemble_asks(kind, task, candidate, requests,
                                                      outcomes[start:start + len(requests)], opponent, judge.repeats,
                                                      parsed)
                start += len(requests)
            for judgment in judgments:
                self.sink.judgment(judgment)
            if index % len(self.judges) == 0:
                found.append([])
            found[-1] += judgments
            # Requests a failed or empty answer did not need count as done, so the total stays true.
            expected = kind.requests_per_item(task, item) * judge.repeats
            if len(requests) < expected:
                self.executor.tick(expected - len(requests))
        return found

    def judged_at_once(self, jobs: Sequence[tuple[Item, Sequence[tuple[Candidate, Candidate | None]]]]
                       ) -> list[tuple[Item, list[_Ask]]]:
        """Judge here, without a task or a turn of the event loop, each item of ``jobs`` whose every request the
        executor answers at once (``Executor.known``: a rerun's cached replies, read for all the items in one
        look-up), with the same judgments, records and counts as ``judge_all``; return the others, their requests
        built, for ``judge_prepared``."""
        with render_store.reading():  # the window's stored prompts read in one transaction
            prepared = [(item, self._asks(item, pairs)) for item, pairs in jobs]
        if self.executor.whole_run:
            return prepared
        flats = [[request for *_, requests in asks for request in requests] for _, asks in prepared]
        parsed = [Parsed() for _ in prepared]
        replies = self.executor.known([[r.chat for r in flat] for flat in flats],
                                      [self._accept(flat, p) for flat, p in zip(flats, parsed, strict=True)])
        later = []
        for (item, asks), found, p in zip(prepared, replies, parsed, strict=True):
            if found is None:
                later.append((item, asks))
            else:
                self._record(item, asks, found, p)
        return later

    async def judge_prepared(self, item: Item, asks: list[_Ask]) -> None:
        """``judge_all`` of an item whose requests ``judged_at_once`` built."""
        await self._judge_asks(item, asks)

    def _accept(self, requests: Sequence[JudgeRequest], parsed: Parsed) -> Callable[[ChatRequest, ChatReply], bool]:
        """Whether a reply is cached: its verdict parses. The verdict is kept in ``parsed``, so assembling the
        judgment reads each reply once."""
        if len(requests) == 1:
            (only,) = requests
            return lambda chat, reply: parsed.verdict(self.kind, self.task, only, reply).ok
        by_chat = {id(r.chat): r for r in requests}
        return lambda chat, reply: parsed.verdict(self.kind, self.task, by_chat[id(chat)], reply).ok

    async def finish(self) -> None:
        """A whole-run executor's judge requests, every one in one call (one Ray dataset, not one per answer), then
        their judgments assembled in the order they were asked."""
        later, self._later = self._later, []
        if not later:
            return
        flat = [request for _, _, requests, _ in later for request in requests]
        parsed = Parsed()
        order = prefix_order([r.chat for r in flat])
        sent = await self.executor.outcomes([flat[i].chat for i in order], self._accept(flat, parsed))
        outcomes = list(sent)
        for position, i in enumerate(order):
            outcomes[i] = sent[position]
        start = 0
        for candidate, opponent, requests, times in later:
            for judgment in assemble_asks(self.kind, self.task, candidate, requests,
                                          outcomes[start:start + len(requests)], opponent, times, parsed):
                self.sink.judgment(judgment)
            start += len(requests)


@dataclass(frozen=True)
class Work:
    """What a run does between writing its manifest and aggregating: ``run`` walks its schedule through the
    pipeline. label: names the run directory; total: requests, for progress; summary: what the run adds to
    summary.json (a battles run: its schedule)."""

    label: str
    total: int
    run: Callable[[Pipeline], Awaitable[None]]
    summary: Callable[[], dict[str, Any]] = dict


def count_requests(task: Task, items: Sequence[Item], n_asks: int, answers_supplied: bool) -> int:
    """The requests of a run: every answer's turns (unless supplied) and each judge's requests, ``n_asks`` judge asks
    of every prompt in all (``asks_of``)."""
    kind = kind_of(task.kind)
    generation = 0 if answers_supplied else sum(len(item.turns) for item in items)
    return generation + n_asks * sum(kind.requests_per_item(task, item) for item in items)


def asks_of(judges: Sequence[Judge]) -> int:
    """How many times the judges ask each prompt, all together: one each, K for a judge with ``,repeats=K``."""
    return sum(judge.repeats for judge in judges)


Answers = Callable[[Pipeline, Item], Awaitable[dict[str, Candidate]]]


async def judge_comparisons(pipeline: Pipeline, item: Item, found: dict[str, Candidate],
                            comparisons: Sequence[Comparison]) -> list[Judgment]:
    """The comparisons of one item, judged: each one's answer (model) against its opponent's, or against none, all
    of the item's requests sent together in prefix order (``Pipeline.judge_all``)."""
    judged = await pipeline.judge_all(item, [(found[c.model], found[c.opponent] if c.opponent is not None else None)
                                             for c in comparisons])
    return [j for judgments in judged for j in judgments]


Ready = Callable[[Pipeline, Item], dict[str, Candidate]]


async def stream(pipeline: Pipeline, items: Sequence[Item], answers: Answers,
                 comparisons: Callable[[Item, dict[str, Candidate]], list[Comparison]], ready: Ready | None = None
                 ) -> None:
    """A schedule whose comparisons of an item are known once its answers exist: item by item, a bounded window at
    a time, an item's judge requests going out as soon as its answers exist and its records written as soon as
    they are done, so the candidate servers and the judges work at the same time and memory does not depend on the
    number of items. ``ready``: an item's answers where they need no request (``answers`` without awaiting:
    supplied answers); then the items of each window whose judge requests the executor answers at once are judged
    without a task (``Pipeline.judged_at_once``), and only the others are sent."""
    async def one(item: Item) -> None:
        found = await answers(pipeline, item)
        await judge_comparisons(pipeline, item, found, comparisons(item, found))

    if ready is None or pipeline.executor.whole_run:
        await bounded(items, pipeline.window, one)
    else:
        await bounded(_not_known(pipeline, items, ready, comparisons), pipeline.window, _judge_prepared(pipeline))
    await pipeline.finish()


_Prepared = tuple[Item, list[_Ask]]


async def _not_known(pipeline: Pipeline, items: Sequence[Item], ready: Ready,
                     comparisons: Callable[[Item, dict[str, Candidate]], list[Comparison]]
                     ) -> AsyncIterator[_Prepared]:
    """The items whose judge requests must be sent, their requests built, a window of items at a time (each window's
    others judged at once); a turn of the event loop after each window, taken by the task that iterates (the one an
    interruption cancels): a run judged from its cache sees an interruption, and shows its progress, window by
    window. (A turn taken in a task of its own would not do: ``bounded`` starts a task without waiting while the
    window has room.)"""
    size = pipeline.window
    for start in range(0, len(items), size):
        jobs = []
        for item in items[start:start + size]:
            found = ready(pipeline, item)
            jobs.append((item, [(found[c.model], found[c.opponent] if c.opponent is not None else None)
                                for c in comparisons(item, found)]))
        for prepared in pipeline.judged_at_once(jobs):
            yield prepared
        await asyncio.sleep(0)


def _judge_prepared(pipeline: Pipeline) -> Callable[[_Prepared], Awaitable[None]]:
    # Not a coroutine around ``_judge_asks``'s: each await of a request resumes through every coroutine it passes.
    def work(prepared: _Prepared) -> Awaitable[None]:
        return cast("Awaitable[None]", pipeline._judge_asks(*prepared))  # (its judgments are in the sink)

    return work


def one_model_work(task: Task, items: Sequence[Item], model: Endpoint | None, supplied: Sequence[Candidate] | None,
                   n_asks: int) -> Work:
    """A task that judges one candidate model: one comparison per item, against the task's reference or none."""
    by_id = {c.item_id: c for c in supplied} if supplied is not None else None
    if by_id is None and model is None:
        raise ValueError("a run without answers needs a model endpoint")
    label = model.name if model is not None else (supplied[0].model if supplied else "answers")

    def supplied_answer(pipeline: Pipeline, item: Item) -> dict[str, Candidate]:
        assert by_id is not None
        candidate = by_id[item.id]
        pipeline.sink.candidate(candidate)
        return {candidate.model: candidate}

    async def answer(pipeline: Pipeline, item: Item) -> dict[str, Candidate]:
        if by_id is not None:
            return supplied_answer(pipeline, item)
        assert model is not None
        candidate = await pipeline.answer(item, model)
        pipeline.sink.candidate(candidate)
        return {candidate.model: candidate}

    async def run(pipeline: Pipeline) -> None:
        await stream(pipeline, items, answer, lambda item, found: single(item.id, next(iter(found))),
                     supplied_answer if by_id is not None else None)

    return Work(label, count_requests(task, items, n_asks, supplied is not None), run)


__all__ = ["NullSink", "Pipeline", "Sink", "Work", "asks_of", "count_requests", "judge_comparisons", "one_model_work",
           "stream"]
