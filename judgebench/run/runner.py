"""The only place with concurrency, retries and progress: it turns chat requests into replies, nothing more.

Every model call goes cache -> per-endpoint semaphore -> one tenacity retry layer -> backend. Replies are
cached only when accepted (a judge reply must parse), so what failed is asked again on the next run. What a
reply means (a verdict, a judgment) is the task kind's business (judging.kinds), not the runner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter
from tqdm import tqdm

from ..errors import BackendError
from ..types import ChatReply, ChatRequest, Endpoint
from .backends import Backend, make_backend
from .cache import Cache


@dataclass(frozen=True)
class RetryPolicy:
    """Limits of the single retry layer. A server's Retry-After is honoured up to ``max_wait_s``."""

    max_attempts: int = 5
    max_elapsed_s: float = 180.0
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0


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
# Another process's claim on a request lasts as long as that request may keep retrying, and a little more.
CLAIM_MARGIN_S = 30.0
CLAIM_POLL_S = 0.2


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, BackendError) and exc.retryable


class Runner:
    """Runs generation and judging against backends with bounded concurrency per endpoint."""

    def __init__(self, cache: Cache, *, retry: RetryPolicy | None = None, progress: bool = True,
                 backend_factory: Callable[[Endpoint], Backend] = make_backend, progress_lines: bool = False) -> None:
        self.cache = cache
        self.retry = retry or RetryPolicy()
        self.progress = progress
        self.counters = Counters()
        # The same counts per endpoint name, for the tokens and cost each endpoint reports (run.pricing).
        self.usage: dict[str, Counters] = {}
        self._backend_factory = backend_factory
        self._backends: dict[tuple[str, str | None, str], Backend] = {}
        self._semaphores: dict[tuple[str, str | None, str], asyncio.Semaphore] = {}
        self._bar: tqdm | None = None
        # The circuit breaker: consecutive refusals per endpoint, and the refusal that stopped one.
        self._refusals: dict[tuple[str, str | None, str], int] = {}
        self.stopped: dict[str, BackendError] = {}
        # Progress without a terminal: a line every few seconds.
        self._lines = progress_lines
        self._done = self._failed = self._total = 0
        self._started = self._last_line = 0.0
        self._description = ""

    def _slot(self, endpoint: Endpoint) -> tuple[Backend, asyncio.Semaphore]:
        key = (endpoint.provider, endpoint.base_url, endpoint.model)
        if key not in self._backends:
            self._backends[key] = self._backend_factory(endpoint)
            self._semaphores[key] = asyncio.Semaphore(max(1, endpoint.concurrency))
        return self._backends[key], self._semaphores[key]

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_exponential_jitter(multiplier=self.retry.initial_wait_s, max=self.retry.max_wait_s)(state)
        if isinstance(exc, BackendError) and exc.retry_after is not None:
            return min(self.retry.max_wait_s, max(exc.retry_after, 0.0))
        return float(backoff)

    async def call(self, request: ChatRequest, accept: Callable[[ChatReply], bool] = lambda _: True) -> ChatReply:
        """One chat call through the cache and the retry layer. Raises BackendError when it finally fails."""
        cached = self.cache.get(request)
        if cached is None:
            cached = await self._wait_for_other_process(request)
        if cached is not None:
            self.counters.cache_hits += 1
            self._usage(request.endpoint).cache_hits += 1
            return cached
        try:
            return await self._send(request, accept)
        finally:
            self.cache.release(request)

    async def _wait_for_other_process(self, request: ChatRequest) -> ChatReply | None:
        """Claim the request; while another process holds it, wait for its reply in the cache. None: ours to send."""
        ttl = self.retry.max_elapsed_s + CLAIM_MARGIN_S
        while not self.cache.claim(request, ttl):
            await asyncio.sleep(CLAIM_POLL_S)
            cached = self.cache.get(request)
            if cached is not None:
                return cached
        return self.cache.get(request)  # stored while we took the claim

    async def _send(self, request: ChatRequest, accept: Callable[[ChatReply], bool]) -> ChatReply:
        key = (request.endpoint.provider, request.endpoint.base_url, request.endpoint.model)
        label = f"{request.endpoint.name} at {request.endpoint.base_url or request.endpoint.provider}"
        backend, semaphore = self._slot(request.endpoint)

        usage = self._usage(request.endpoint)

        def before_sleep(_: RetryCallState) -> None:
            self.counters.retries += 1
            usage.retries += 1

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts) | stop_after_delay(self.retry.max_elapsed_s),
            wait=self._wait, retry=retry_if_exception(_is_retryable), reraise=True, before_sleep=before_sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with semaphore:
                        # Checked when the request's turn comes: requests queued before the endpoint was
                        # stopped are not sent either.
                        self._refuse_if_stopped(label)
                        self.counters.requests += 1
                        usage.requests += 1
                        reply = await backend.complete(request)
        except BackendError as exc:
            self.counters.failed_calls += 1
            usage.failed_calls += 1
            if exc.status in REFUSALS:
                self._refusals[key] = self._refusals.get(key, 0) + 1
                if self._refusals[key] >= REFUSALS_TO_STOP:
                    self.stopped.setdefault(label, exc)
            raise
        self._refusals[key] = 0
        self.counters.prompt_tokens += reply.prompt_tokens or 0
        self.counters.completion_tokens += reply.completion_tokens or 0
        usage.prompt_tokens += reply.prompt_tokens or 0
        usage.completion_tokens += reply.completion_tokens or 0
        if accept(reply):
            self.cache.put(request, reply)
        return reply

    def _usage(self, endpoint: Endpoint) -> Counters:
        return self.usage.setdefault(endpoint.name, Counters())

    def _refuse_if_stopped(self, label: str) -> None:
        refusal = self.stopped.get(label)
        if refusal is not None:
            raise BackendError(f"{refusal} (the endpoint was stopped after {REFUSALS_TO_STOP} refusals in a row; "
                               "nothing more is sent to it)", retryable=False, status=refusal.status)

    def tick(self, n: int = 1, failed: int = 0) -> None:
        """Count ``n`` requests as done (a cached reply counts as done too), ``failed`` of them failed."""
        if self._bar is not None:
            self._bar.update(n)
        self._done += n
        self._failed += failed
        now = time.monotonic()
        if self._lines and now - self._last_line >= PROGRESS_EVERY_S:
            self._last_line = now
            self._print_line(now)

    def _print_line(self, now: float) -> None:
        rate = self._done / max(now - self._started, 1e-9)
        print(f"{self._description}: {self._done}/{self._total} done, {rate:.1f} req/s, {self._failed} requests failed",
              file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def progress_bar(self, total: int, description: str) -> Iterator[None]:
        """A bar on a terminal; without one (a CI log, cron), a plain line every few seconds if asked for."""
        self._bar = tqdm(total=total, desc=description, disable=not self.progress, unit="req", leave=False)
        self._done = self._failed = 0
        self._total, self._description = total, description
        self._started = self._last_line = time.monotonic()
        try:
            yield
        finally:
            self._bar.close()
            self._bar = None
            if self._lines:
                self._print_line(time.monotonic())

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

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()


__all__ = ["Counters", "RetryPolicy", "Runner"]
