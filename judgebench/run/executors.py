"""Executors: what turns a run's chat requests into replies. Every run mode is one of them, and the pipeline
(run.pipeline) is the same loop whichever it gets:

- ``Runner`` (run.runner): live, the default: the cache, then the servers, with retries and adaptive concurrency.
- ``ProviderBatch``: live, but a cache miss of an endpoint with a provider batch API is collected from a batch or
  queued for one (``run --batch``; the batch API code is judgebench.clients.batch).
- ``RayExecutor``: judge requests through Ray Data, all of a run's at once (``--engine ray``); generation stays live.
- ``DryRun``: sends nothing; records every request the run makes and whether the cache holds it (``--dry-run``), so
  its counts are the real run's by construction.

``--engine NAME`` picks from ``ENGINES``, a registry, not a chain of name tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..clients.pricing import add_tokens
from ..errors import BackendError, ConfigError
from ..types import ChatReply, ChatRequest, Endpoint
from .cache import Cache
from .retry import RetryPolicy
from .runner import Counters, Runner

if TYPE_CHECKING:
    from ..clients.batch import BatchOptions, BatchReport
    from .batch_queue import BatchQueue
    from .ray_engine import RayEngine

Accept = Callable[[ChatRequest, ChatReply], bool]


class Executor(Protocol):
    """The one interface of every run mode."""

    counters: Counters  # what the run cost, all endpoints together
    usage: dict[str, Counters]  # the same per endpoint name (the cost report)
    stopped: dict[str, BackendError]  # endpoints stopped by the circuit breaker, and the refusal that stopped them
    # True: the pipeline collects every judge request of a run and hands them over in one call at the end (Ray).
    whole_run: bool

    async def outcomes(self, requests: Sequence[ChatRequest], accept: Accept) -> list[ChatReply | BackendError]:
        """Every request's reply, or the error it finally failed with, in order. A reply is cached only when
        ``accept`` takes it (a judge reply must parse; an answer must not be empty)."""
        ...

    def known(self, groups: Sequence[Sequence[ChatRequest]], accepts: Sequence[Accept]
              ) -> list[list[ChatReply] | None]:
        """For each group of requests (with its ``accept``), the replies of all of them where the executor has them
        at once, without a request or a wait (a rerun's cached replies), counted as ``outcomes`` counts them; None
        for a group it does not have whole, nothing of it counted: those go to ``outcomes``."""
        ...

    @property
    def generation(self) -> Executor:
        """The executor candidates' answers are generated with (turn by turn): itself, or a live one."""
        ...

    def tick(self, n: int = 1, failed: int = 0) -> None:
        """Count ``n`` requests as done for the progress display, ``failed`` of them failed."""
        ...

    def progress_bar(self, total: int, description: str) -> contextlib.AbstractContextManager[None]: ...

    def flush(self) -> None:
        """Write what is queued for the cache now."""
        ...

    def batched(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint``'s requests go through a provider batch API (priced as such)."""
        ...

    async def finish(self, run_dir: Path | None = None) -> BatchReport | None:
        """The end of the run's requests (a provider batch submits what it queued)."""
        ...

    async def aclose(self) -> None: ...


class ProviderBatch(Runner):
    """``run --batch``: a cache miss of an endpoint the queue handles is collected from a provider batch, or queued
    for one (BatchPending: the judgment is pending), never sent; the others are sent live."""

    def __init__(self, cache: Cache, queue: BatchQueue, **runner_options: object) -> None:
        super().__init__(cache, **runner_options)  # type: ignore[arg-type]
        self.queue = queue

    async def _miss(self, request: ChatRequest, accept: Callable[[ChatReply], bool]) -> ChatReply:
        if not self.queue.handles(request.endpoint):
            return await super()._miss(request, accept)
        reply = self.queue.take(request, accept)
        # Collected from a provider batch: its tokens are this run's to pay (at the batch price).
        add_tokens(reply, self.usage.setdefault(request.endpoint.name, Counters()), self.counters)
        return reply

    def batched(self, endpoint: Endpoint) -> bool:
        return self.queue.handles(endpoint)

    async def finish(self, run_dir: Path | None = None) -> BatchReport | None:
        """What this run queued goes out now, one batch per endpoint."""
        return await self.queue.submit(run_dir)

    async def aclose(self) -> None:
        try:
            await self.queue.aclose()
        finally:
            await super().aclose()


class RayExecutor:
    """``--engine ray``: judge requests through Ray Data (run.ray_engine), every one of a run in one call; answers
    are generated by the live executor, which also shows the progress and writes the cache's queued work."""

    whole_run = True

    def __init__(self, live: Runner, engine: RayEngine) -> None:
        self.live = live
        self.engine = engine
        # The engine counts into the live counters: the summary's request counts cover both.
        self.counters = live.counters
        self.usage = live.usage
        self.stopped = live.stopped

    @property
    def generation(self) -> Executor:
        return self.live

    def known(self, groups: Sequence[Sequence[ChatRequest]], accepts: Sequence[Accept]
              ) -> list[list[ChatReply] | None]:
        return [None] * len(groups)  # a whole run's requests go to the engine at the end, cached or not

    async def outcomes(self, requests: Sequence[ChatRequest], accept: Accept) -> list[ChatReply | BackendError]:
        self.live.flush()  # the engine reads the cache itself
        outcomes = await self.engine.outcomes(requests, accept)
        for request, outcome in zip(requests, outcomes, strict=True):  # tokens per endpoint, as the runner counts
            counters = self.usage.setdefault(request.endpoint.name, Counters())
            if isinstance(outcome, BackendError):
                counters.failed_calls += 1
            elif outcome.from_cache:
                counters.cache_hits += 1
            else:
                counters.requests += 1
                add_tokens(outcome, counters)
        return outcomes

    def tick(self, n: int = 1, failed: int = 0) -> None:
        self.live.tick(n, failed)

    def progress_bar(self, total: int, description: str) -> contextlib.AbstractContextManager[None]:
        return self.live.progress_bar(total, description)

    def flush(self) -> None:
        self.live.flush()

    def batched(self, endpoint: Endpoint) -> bool:
        return self.live.batched(endpoint)

    async def finish(self, run_dir: Path | None = None) -> BatchReport | None:
        return await self.live.finish(run_dir)

    async def aclose(self) -> None:
        try:
            self.engine.close()
        finally:
            await self.live.aclose()


@dataclass(frozen=True)
class PlannedRequest:
    """One request of a dry run and its cached reply (None: it would be sent)."""

    request: ChatRequest
    cached: ChatReply | None


def placeholder_answer(tokens: int) -> str:
    """Text that the bytes / 4 rule counts as ``tokens`` tokens (at least one): what stands in for an answer that
    is not in the cache, so that later prompts have the length they would have."""
    return "xxx " * max(1, tokens)


@dataclass
class DryRun:
    """Sends nothing: each request is looked up (``lookup``: the cache's, or none), recorded with what was found,
    and answered with the cached reply. Where the real run would send it (a cached reply the run would not accept is
    asked again there, so it counts as to send here), a generation request gets a placeholder answer of
    ``answer_tokens`` tokens, so later turns and the judge's prompts have the length they would have, and a judge
    request an error: no verdict is read from a placeholder, and none is written."""

    lookup: Callable[[ChatRequest], ChatReply | None]
    answer_tokens: Callable[[ChatRequest], int]
    planned: list[PlannedRequest] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    usage: dict[str, Counters] = field(default_factory=dict)
    stopped: dict[str, BackendError] = field(default_factory=dict)
    answers: bool = False  # True: the generation view (placeholders, not errors)
    _generation: DryRun | None = field(default=None, repr=False)
    whole_run = False

    @property
    def generation(self) -> Executor:
        if self.answers:
            return self
        if self._generation is None:  # the same records, answered with placeholders
            self._generation = DryRun(self.lookup, self.answer_tokens, self.planned, self.counters, self.usage,
                                      self.stopped, True)
        return self._generation

    def known(self, groups: Sequence[Sequence[ChatRequest]], accepts: Sequence[Accept]
              ) -> list[list[ChatReply] | None]:
        return [None] * len(groups)  # every request goes through ``outcomes``, which records it

    async def outcomes(self, requests: Sequence[ChatRequest], accept: Accept) -> list[ChatReply | BackendError]:
        replies: list[ChatReply | BackendError] = []
        for request in requests:
            cached = self.lookup(request)
            if cached is not None and not accept(request, cached):
                cached = None
            self.planned.append(PlannedRequest(request, cached))
            if cached is not None:
                replies.append(cached)
            elif self.answers:
                replies.append(ChatReply(placeholder_answer(self.answer_tokens(request)), "stop"))
            else:
                replies.append(BackendError("dry run: not sent", retryable=False))
        return replies

    def tick(self, n: int = 1, failed: int = 0) -> None:
        return None

    @contextlib.contextmanager
    def progress_bar(self, total: int, description: str) -> Iterator[None]:
        yield

    def flush(self) -> None:
        return None

    def batched(self, endpoint: Endpoint) -> bool:
        return False

    async def finish(self, run_dir: Path | None = None) -> BatchReport | None:
        return None

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class ExecutorOptions:
    """How a run's executor is built (from RunConfig, without importing it)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = True
    progress_lines: bool = False
    adaptive: bool = True
    batch: BatchOptions | None = None
    endpoints: tuple[Endpoint, ...] = ()  # every endpoint of the run (a provider batch prepares theirs)


async def live_executor(cache: Cache, options: ExecutorOptions) -> Runner:
    """The runner, or with --batch the provider-batch executor, its queue prepared for the run's endpoints."""
    settings = {"retry": options.retry, "progress": options.progress, "progress_lines": options.progress_lines,
                "adaptive": options.adaptive}
    if options.batch is None:
        return Runner(cache, **settings)  # type: ignore[arg-type]
    from .batch_queue import BatchQueue

    executor = ProviderBatch(cache, BatchQueue(cache, options.batch), **settings)
    try:
        await executor.queue.prepare(options.endpoints)
    except BaseException:
        await executor.aclose()
        raise
    return executor


def _local(live: Runner, cache: Cache, options: ExecutorOptions) -> Executor:
    return live


def _ray(live: Runner, cache: Cache, options: ExecutorOptions) -> Executor:
    from .ray_engine import RayEngine, RaySettings

    # --timeout bounds a Ray worker's request as it bounds the runner's; the engine counts into the runner's counters.
    engine = RayEngine(cache, retry=options.retry, counters=live.counters, progress=options.progress,
                       settings=RaySettings(timeout_s=options.retry.timeout_s))
    return RayExecutor(live, engine)


def _ray_check(judges: Sequence[Endpoint]) -> None:
    from .ray_engine import check_endpoints

    check_endpoints(judges)


def _nothing_to_check(judges: Sequence[Endpoint]) -> None:
    return None


@dataclass(frozen=True)
class Engine:
    """An ``--engine`` choice: how its executor is built around the live one, and what it checks of the judges'
    endpoints before anything starts."""

    make: Callable[[Runner, Cache, ExecutorOptions], Executor]
    check: Callable[[Sequence[Endpoint]], None] = _nothing_to_check


ENGINES: dict[str, Engine] = {"local": Engine(_local), "ray": Engine(_ray, _ray_check)}


def engine(name: str) -> Engine:
    found = ENGINES.get(name)
    if found is None:
        raise ConfigError(f"engine {name!r}: expected one of {', '.join(ENGINES)}")
    return found


async def open_executor(name: str, cache: Cache, options: ExecutorOptions) -> Executor:
    """The executor ``--engine name`` (and ``--batch``) asks for; close it with ``aclose``."""
    chosen = engine(name)
    live = await live_executor(cache, options)
    try:
        return chosen.make(live, cache, options)
    except BaseException:
        await live.aclose()
        raise


__all__ = ["ENGINES", "DryRun", "Engine", "Executor", "ExecutorOptions", "PlannedRequest", "ProviderBatch",
           "RayExecutor", "engine", "open_executor", "placeholder_answer"]
