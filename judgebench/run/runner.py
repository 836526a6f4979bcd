"""The only place with concurrency, retries and progress: it turns chat requests into replies, nothing more.

Every model call goes cache -> retry loop -> replica pool (least busy replica, adaptive concurrency) -> backend.
The retry loop follows run.retry's policy (shared with the Ray executor): each attempt picks its replica afresh (a
request a dead replica dropped goes to a live one at once, without backoff), and a first attempt that succeeds
costs nothing beyond the call.
Replies are cached only when accepted (a judge reply must parse), so what failed is asked again on the next run.
What a reply means (a verdict, a judgment) is the task kind's business (judging.kinds), not the runner's.

Cache reads, claims and writes are grouped: every request that reaches the cache in one turn of the event loop
shares one SQLite transaction, so the cache costs next to nothing per request however many run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clients.backends import Backend, make_backend
from ..clients.pricing import add_tokens
from ..clients.replicas import Replica, ReplicaPool
from ..errors import BackendError, ResultsError
from ..types import ChatReply, ChatRequest, Endpoint
from .cache import Cache, cache_fault
from .retry import RetryPolicy

if TYPE_CHECKING:
    from tqdm import tqdm

    from ..clients.batch import BatchReport


@dataclass
class Counters:
    """What a run cost. ``requests`` counts calls sent to a server (each retry included)."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


# A key refused, a model or route not found: the same answer to every request, so after a few in a row the
# endpoint is stopped instead of being sent the whole run.
REFUSALS = frozenset({401, 403, 404})
REFUSALS_TO_STOP = 3
PROGRESS_EVERY_S = 5.0
POSTFIX_EVERY_S = 0.5
# Another process's claim on a request lasts as long as that request may keep retrying, and a little more.
CLAIM_MARGIN_S = 30.0
CLAIM_POLL_S = 0.2
# How long stored replies and released claims may wait for company in the cache's next transaction.
WRITE_DELAY_S = 0.02


# A request that would wait this long for a slot (twice the longest its look-up may wait for company) has its look-up
# wait for the next transaction of stored replies.
LOOKUP_WAIT_S = 2 * WRITE_DELAY_S


def _pool_key(endpoint: Endpoint) -> tuple[str, str, str, str]:
    return (endpoint.provider, endpoint.identity(), endpoint.model, endpoint.transport)


@dataclass
class _Lookup:
    key: str
    future: asyncio.Future[tuple[ChatReply | None, bool]]


@dataclass
class _Progress:
    """Requests done out of a total, for one bar or a line every few seconds."""

    total: int = 0
    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    description: str = ""

    def rate(self, now: float) -> float:
        return self.done / max(now - self.started, 1e-9)

    def eta_s(self, now: float) -> float | None:
        rate = self.rate(now)
        return (self.total - self.done) / rate if rate > 0 and self.done else None


async def _within(call: Coroutine[Any, Any, ChatReply], seconds: float, label: str) -> ChatReply:
    """``call``'s reply, or a retryable timeout once ``seconds`` have passed, however the server keeps the request
    open (a reply that drips a byte at a time defeats every per-read timeout a client has)."""
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(seconds):
                return await call
        return await asyncio.wait_for(call, seconds)
    except asyncio.TimeoutError:
        raise BackendError(f"{label}: request timed out (no whole reply within {seconds:g}s; --timeout and "
                           "--max-elapsed give a slow server longer)", retryable=True, unreachable=True) from None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class Runner:
    """Runs generation and judging against backends: bounded, adaptive concurrency per replica, one cache. The live
    executor (run.executors): what every other executor builds on."""

    # Judge requests are answered as they come (an executor with whole_run collects a run's and sends them at once).
    whole_run = False

    def __init__(self, cache: Cache, *, retry: RetryPolicy | None = None, progress: bool = True,
                 backend_factory: Callable[[Endpoint], Backend] | None = None, progress_lines: bool = False,
                 adaptive: bool = True) -> None:
        self.cache = cache
        self.retry = retry or RetryPolicy()
        if backend_factory is None:
            # The clients' own (per-read) timeouts never fire before the runner's bound on the whole attempt.
            timeout_s = self.retry.timeout_s

            def backend_factory(endpoint: Endpoint) -> Backend:
                return make_backend(endpoint, timeout_s=timeout_s)
        self.progress = progress
        self.counters = Counters()
        # The same counts per endpoint name, for the tokens and cost each endpoint reports (run.pricing).
        self.usage: dict[str, Counters] = {}
        self._backend_factory = backend_factory
        self._adaptive = adaptive
        self._pools: dict[tuple[str, str, str, str], ReplicaPool] = {}
        # The circuit breaker: consecutive refusals per endpoint, and the refusal that stopped one.
        self._refusals: dict[tuple[str, str, str], int] = {}
        self.stopped: dict[str, BackendError] = {}
        # Cache work waiting for the next grouped transaction.
        self._lookups: list[_Lookup] = []
        self._writes: list[tuple[str, str, ChatReply]] = []
        self._releases: list[str] = []
        self._flush_handle: asyncio.Handle | None = None
        self._flush_soon = False
        self._write_error: ResultsError | None = None
        # Progress: a bar on a terminal, else (if asked for) a line every few seconds.
        self._lines = progress_lines
        self._bar: tqdm | None = None
        self._state = _Progress()
        self._last_line = self._last_postfix = 0.0
        # Requests another process sharing the cache has claimed (it is sending them, or was killed while it did:
        # its claims expire after --max-elapsed and a margin).
        self._waiting_on_others = 0

    # -- replicas -------------------------------------------------------------------------------------------

    def pool(self, endpoint: Endpoint) -> ReplicaPool:
        key = _pool_key(endpoint)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = ReplicaPool(endpoint, self._backend_factory, adaptive=self._adaptive)
        return pool

    def _queued(self, endpoint: Endpoint) -> bool:
        """Whether a request to ``endpoint`` would now wait LOOKUP_WAIT_S or longer for a slot, behind others (its
        pool made only when a request is sent: a run its cache answers makes none)."""
        pool = self._pools.get(_pool_key(endpoint))
        return pool is not None and pool.wait_s() >= LOOKUP_WAIT_S

    # -- the cache, grouped ---------------------------------------------------------------------------------

    def _schedule_flush(self, *, soon: bool) -> None:
        """Lookups are flushed at the end of this turn of the event loop (a request waits on them); stored replies
        and released claims may wait a few milliseconds, so more of them share a transaction."""
        if self._flush_handle is not None:
            if not soon or self._flush_soon:
                return
            self._flush_handle.cancel()
        loop = asyncio.get_running_loop()
        self._flush_soon = soon
        self._flush_handle = loop.call_soon(self._flush) if soon else loop.call_later(WRITE_DELAY_S, self._flush)

    def _flush(self) -> None:
        """One transaction for everything queued since the last one (Cache.exchange)."""
        self._flush_handle = None
        writes, self._writes = self._writes, []
        releases, self._releases = self._releases, []
        lookups, self._lookups = self._lookups, []
        try:
            # (Not the look-up of a request cancelled meanwhile, as an interrupted run's: it claims what is never sent.)
            keys = list(dict.fromkeys(lookup.key for lookup in lookups if not lookup.future.done()))
            found, mine = self.cache.exchange(writes, releases, keys, self.retry.max_elapsed_s + CLAIM_MARGIN_S)
            for lookup in lookups:
                if not lookup.future.done():
                    lookup.future.set_result((found.get(lookup.key), lookup.key in mine))
        except (sqlite3.Error, OSError) as exc:
            self._write_error = cache_fault(self.cache.path, exc)
            for lookup in lookups:
                if not lookup.future.done():
                    lookup.future.set_exception(self._write_error)

    async def _lookup(self, key: str, *, soon: bool = True) -> tuple[ChatReply | None, bool]:
        """(the cached reply or None, whether this process now holds the claim to send it). ``soon``: in the
        transaction at the end of this turn of the event loop; else, the request being queued behind others for longer
        (``ReplicaPool.wait_s``), in the next one of stored replies, WRITE_DELAY_S away at most."""
        future: asyncio.Future[tuple[ChatReply | None, bool]] = asyncio.get_running_loop().create_future()
        self._lookups.append(_Lookup(key, future))
        self._schedule_flush(soon=soon)
        try:
            return await future
        except asyncio.CancelledError:
            # Cancelled once its transaction had claimed the request, before this task ran again (an interrupted
            # run's): the claim is given up with the next transaction, not left for another host's process to wait
            # out (the request is never sent).
            if future.done() and not future.cancelled() and future.exception() is None and future.result()[1]:
                self._release(key)
            raise

    def _store(self, request: ChatRequest, reply: ChatReply) -> None:
        self._writes.append((request.cache_key(), request.endpoint.model, reply))
        self._schedule_flush(soon=False)

    def _release(self, key: str) -> None:
        self._releases.append(key)
        self._schedule_flush(soon=False)

    def flush(self) -> None:
        """Write what is queued now (the end of a run, or before reading the cache from outside)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        if self._write_error is not None:
            raise self._write_error

    # -- calls ----------------------------------------------------------------------------------------------

    async def call(self, request: ChatRequest, accept: Callable[[ChatReply], bool] = lambda _: True) -> ChatReply:
        """One chat call through the cache and the retry loop. Raises BackendError when it finally fails."""
        if self._write_error is not None:
            raise self._write_error
        key = request.cache_key()
        # A request that would wait for a slot longer than its look-up may wait for company has it wait: at a fast
        # server's pace, a transaction each turn of the event loop was the cache's main cost.
        cached, mine = await self._lookup(key, soon=not self._queued(request.endpoint))
        if cached is None and not mine:  # another process is sending it: wait for its reply
            self._waiting_on_others += 1
            try:
                while cached is None and not mine:
                    await asyncio.sleep(CLAIM_POLL_S)
                    cached, mine = await self._lookup(key)
            finally:
                self._waiting_on_others -= 1
        if cached is not None and not accept(cached):
            # Stored before the parser refused such replies (a content filter's, a copied verdict): asked again,
            # and replaced once a reply is accepted.
            cached = None
        if cached is not None:
            self.counters.cache_hits += 1
            self._usage(request.endpoint).cache_hits += 1
            return cached
        try:
            return await self._miss(request, accept)
        finally:
            self._release(key)

    def _miss(self, request: ChatRequest, accept: Callable[[ChatReply], bool]) -> Awaitable[ChatReply]:
        """A request the cache does not hold: sent (the provider-batch executor collects or queues some instead).
        (Not a coroutine of its own: every await of a live request resumes through each coroutine it passes.)"""
        return self._send(request, accept)

    async def _send(self, request: ChatRequest, accept: Callable[[ChatReply], bool]) -> ChatReply:
        pool = self.pool(request.endpoint)
        # What the request has used of --max-elapsed: its attempts and the waits between them, never its waits for
        # a free slot (a request queued behind the server's slots has not been sent).
        spent = 0.0
        attempt = 0
        failed_on = None
        while True:
            attempt += 1
            replica = await pool.acquire(avoid=failed_on, prompt=request.messages)
            sent = time.monotonic()
            try:
                reply = await self._attempt(pool, replica, request, spent)
            except BackendError as exc:
                pool.release(replica, time.monotonic() - sent, exc)
                spent += time.monotonic() - sent
                wait = self._retry_wait(pool, replica, request.endpoint, attempt, spent, exc)
                if wait is None:
                    self._failed(pool, request.endpoint, exc)
                    raise
                failed_on = replica
                if wait:
                    await asyncio.sleep(wait)
                    spent += wait
                continue
            except BaseException:
                pool.release(replica, time.monotonic() - sent, None)
                raise
            pool.release(replica, time.monotonic() - sent, None)
            self._succeeded(request, reply, accept)
            return reply

    def _attempt(self, pool: ReplicaPool, replica: Replica, request: ChatRequest, spent: float
                 ) -> Awaitable[ChatReply]:
        """The attempt, bounded as a whole (awaited by ``_send``, where a refusal raised here is handled as one the
        attempt raised)."""
        # Checked when the request's turn comes: requests queued before the endpoint was stopped are not sent either.
        self._refuse_if_stopped(pool.label)
        self.counters.requests += 1
        self._usage(request.endpoint).requests += 1
        return _within(replica.backend.complete(request), self.retry.attempt_s(spent), pool.label)

    def _retry_wait(self, pool: ReplicaPool, replica: Replica, endpoint: Endpoint, attempt: int, spent: float,
                    exc: BackendError) -> float | None:
        """How long to wait before the next attempt (counted as a retry), or None: the request has failed."""
        # With replicas, a garbled reply (a 2xx that is not a chat completion) is one replica's fault: another may
        # answer it. A refusal of the request itself (a 4xx) is not retried anywhere.
        elsewhere = pool.has_healthy_other(replica)
        # Another replica takes the request at once (the failed one is avoided while another has room); a lone
        # replica gets a wait: its Retry-After, or a backoff. A wait that leaves no time to try again is not waited.
        wait = 0.0 if elsewhere else self.retry.wait_s(attempt, exc.retry_after)
        if not ((exc.retryable or (exc.status is None and elsewhere)) and self.retry.may_retry(attempt, spent, wait)):
            return None
        self.counters.retries += 1
        self._usage(endpoint).retries += 1
        return wait

    def _failed(self, pool: ReplicaPool, endpoint: Endpoint, exc: BackendError) -> None:
        self.counters.failed_calls += 1
        self._usage(endpoint).failed_calls += 1
        if exc.status in REFUSALS:
            key = (endpoint.provider, endpoint.identity(), endpoint.model)
            self._refusals[key] = self._refusals.get(key, 0) + 1
            if self._refusals[key] >= REFUSALS_TO_STOP:
                self.stopped.setdefault(pool.label, exc)

    def _succeeded(self, request: ChatRequest, reply: ChatReply, accept: Callable[[ChatReply], bool]) -> None:
        endpoint = request.endpoint
        self._refusals[(endpoint.provider, endpoint.identity(), endpoint.model)] = 0
        usage = self._usage(endpoint)
        add_tokens(reply, self.counters, usage)
        if accept(reply):
            self._store(request, reply)

    def _usage(self, endpoint: Endpoint) -> Counters:
        usage = self.usage.get(endpoint.name)
        if usage is None:  # (not setdefault: it would build a Counters on every call, several per request)
            usage = self.usage[endpoint.name] = Counters()
        return usage

    def _refuse_if_stopped(self, label: str) -> None:
        refusal = self.stopped.get(label)
        if refusal is not None:
            raise BackendError(f"{refusal} (the endpoint was stopped after {REFUSALS_TO_STOP} refusals in a row; "
                               "nothing more is sent to it)", retryable=False, status=refusal.status)

    async def outcomes(self, requests: Sequence[ChatRequest],
                       accept: Callable[[ChatRequest, ChatReply], bool]) -> list[ChatReply | BackendError]:
        """Every request's reply, or the error it finally failed with, in the requests' order. A reply is cached
        only when ``accept`` takes it (a judge reply must parse)."""
        async def one(request: ChatRequest) -> ChatReply | BackendError:
            try:
                reply = await self.call(request, accept=lambda reply: accept(request, reply))
            except BackendError as exc:
                self.tick(failed=1)
                return exc
            self.tick()
            return reply

        if len(requests) == 1:  # the common case (single grading, one turn): no task, and no coroutine of ``one``
            (request,) = requests
            try:
                reply = await self.call(request, accept=lambda reply: accept(request, reply))
            except BackendError as exc:
                self.tick(failed=1)
                return [exc]
            self.tick()
            return [reply]
        return list(await asyncio.gather(*(one(r) for r in requests)))

    def known(self, groups: Sequence[Sequence[ChatRequest]],
              accepts: Sequence[Callable[[ChatRequest, ChatReply], bool]]) -> list[list[ChatReply] | None]:
        """For each group of requests, the cached replies of all of them where the cache holds every one with a reply
        its ``accept`` takes (read for every group in one look-up, no claim needed), counted as cache hits and done as
        ``outcomes`` counts them; None for any other group, nothing of it counted (``outcomes`` asks those: a miss,
        a reply refused, a claim to wait for). A rerun's judgments pay no task, future or turn of the event loop."""
        if self._write_error is not None or not groups:
            return [None] * len(groups)  # (``outcomes`` raises the cache's fault)
        try:
            cached = self.cache.get_many(list(dict.fromkeys(r.cache_key() for group in groups for r in group)))
        except (sqlite3.Error, OSError):
            return [None] * len(groups)  # ``outcomes`` meets the fault again, and reports it
        found: list[list[ChatReply] | None] = []
        counters = self.counters
        for group, accept in zip(groups, accepts, strict=True):
            replies: list[ChatReply] | None = []
            for request in group:  # (in order, up to the first request the cache cannot answer)
                reply = cached.get(request.cache_key())
                if reply is None or not accept(request, reply):
                    replies = None
                    break
                replies.append(reply)  # type: ignore[union-attr]
            if replies is None:
                found.append(None)
                continue
            for request in group:
                counters.cache_hits += 1
                self._usage(request.endpoint).cache_hits += 1
            if group:
                self.tick(len(group))
            found.append(replies)
        return found

    # -- the executor's other duties (run.executors.Executor) ---------------------------------------------------

    @property
    def generation(self) -> Runner:
        """Where candidates' answers are generated: here."""
        return self

    def batched(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint``'s requests go through a provider batch API (priced as such)."""
        return False

    async def finish(self, run_dir: Path | None = None) -> BatchReport | None:
        """The end of a run's requests: nothing more to do for live requests."""
        return None

    # -- progress -------------------------------------------------------------------------------------------

    def tick(self, n: int = 1, failed: int = 0) -> None:
        """Count ``n`` requests as done (a cached reply counts as done too), ``failed`` of them failed."""
        state = self._state
        state.done += n
        state.failed += failed
        if self._bar is None and not self._lines:
            return
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(n)
            if now - self._last_postfix >= POSTFIX_EVERY_S:
                self._last_postfix = now
                self._bar.set_postfix_str(self._in_flight(), refresh=False)
        if self._lines and now - self._last_line >= PROGRESS_EVERY_S:
            self._last_line = now
            self._print_line(now)

    def _in_flight(self) -> str:
        """In-flight requests and the concurrency limit of each replica, e.g. ``judge: a 12/16, b down``."""
        return "; ".join(pool.describe() for pool in self._pools.values())

    def progress_line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        state = self._state
        waiting = (f"; {self._waiting_on_others} claimed by another process on this cache, waited for"
                   if self._waiting_on_others else "")
        return (f"{state.description}: {state.done}/{state.total} requests done, {state.rate(now):.1f} req/s, "
                f"ETA {_duration(state.eta_s(now))}, {state.failed} failed; in flight: {self._in_flight() or '-'}"
                f"{waiting}")

    def _print_line(self, now: float) -> None:
        print(self.progress_line(now), file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def progress_bar(self, total: int, description: str) -> Iterator[None]:
        """A bar on a terminal (tqdm shows the rate and the ETA); without one (a CI log, cron), a plain line
        every few seconds if asked for."""
        if self.progress:
            from tqdm import tqdm  # (here: a run without a bar, in a log or a notebook, does not import it)

            self._bar = tqdm(total=total, desc=description, disable=not self.progress, unit="req", leave=False)
        else:
            self._bar = None
        self._state = _Progress(total=total, description=description)
        self._last_line = self._last_postfix = time.monotonic()
        heartbeat: asyncio.TimerHandle | None = None
        if self._lines:
            # A line every few seconds even while nothing finishes (a stalled server, claims of a killed process):
            # a log that stops says nothing about why.
            loop = asyncio.get_running_loop()

            def beat() -> None:
                nonlocal heartbeat
                now = time.monotonic()
                if now - self._last_line >= PROGRESS_EVERY_S * 0.9:
                    self._last_line = now
                    self._print_line(now)
                heartbeat = loop.call_later(PROGRESS_EVERY_S, beat)

            heartbeat = loop.call_later(PROGRESS_EVERY_S, beat)
        try:
            yield
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if self._lines:
                self._print_line(time.monotonic())

    async def aclose(self) -> None:
        with contextlib.suppress(ResultsError):
            self.flush()
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


__all__ = ["Counters", "RetryPolicy", "Runner"]
