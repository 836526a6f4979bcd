"""The replicas of one endpoint, and how many requests each is sent at once.

An endpoint may name several base URLs serving the same model (``NAME@http://a:8000/v1,http://b:8000/v1``).
Each request goes to the least busy replica that has room. A replica that does not answer (refused or dropped
connection, timeout) is taken out for a cool-down that doubles while it stays silent; after it, one request probes
it, and an answer puts it back. Used only by the runner (the one place with concurrency); its state lives on
the event loop, so no locks.

How many requests a replica is sent at once adapts (additive increase, multiplicative decrease, as TCP does):
starting from the endpoint's concurrency, one more after every full window of successes while the replica was
kept busy and its latency held; halved on a 429, a timeout or a 5xx, at most once per round trip. It never rises
above the slots the server has (``Endpoint.slots``, set for the servers judgebench starts): a request past them
would wait inside the server, its wait counted against the client's timeout, where here it waits unsent.

Requests with the same prompt (a panel's judges asking about one answer) go to the same replica, one after the
other, where the server has slots: a llama.cpp server keeps the last prompt it read and reuses it, so the second
reads one token where it would read the whole prompt. Waiting for that replica costs the replies queued before it
there (one, for a panel of two judges), while the other replicas take other work; a run's last requests may leave
a replica idle meanwhile. On the default run, 1.2 to 1.3 times faster (bench/bench_default_run.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from urllib.parse import urlsplit

from ..errors import BackendError
from ..types import Endpoint
from .backends.base import Backend

# Latency "holds" while its moving average stays within this factor of the best seen.
LATENCY_HOLDS = 1.5
# Past this factor the replica is queueing what it is sent: ease off a little.
LATENCY_QUEUEING = 2.5
EWMA_WEIGHT = 0.1
OVERLOAD_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
COOLDOWN_S = (1.0, 30.0)
# Failures in a row (of any kind asking again may cure) after which a replica set takes a replica out.
TAKE_OUT_AFTER = 3
# The ceiling of the adaptive limit, as a multiple of the starting concurrency.
CEILING_FACTOR = 8
MAX_CEILING = 1024


def most_in_flight(endpoint: Endpoint) -> int:
    """The most requests one replica of ``endpoint`` is ever sent at once: its server's slots, else a multiple of
    its starting concurrency."""
    ceiling = min(MAX_CEILING, max(1, endpoint.concurrency) * CEILING_FACTOR)
    return min(ceiling, endpoint.slots) if endpoint.slots else ceiling


@dataclass
class AdaptiveLimit:
    """How many requests one replica is sent at once. ``fixed``: never changes (adaptive concurrency off).
    ``most``: the server's slots, which neither the start nor the adaptation goes past."""

    start: int
    fixed: bool = False
    most: int | None = None
    limit: float = 0.0
    ewma_s: float | None = None
    best_s: float | None = None
    successes: int = 0
    last_cut: float = 0.0
    saturated: bool = False
    increases: int = 0
    cuts: int = 0

    def __post_init__(self) -> None:
        self.start = max(1, min(self.start, self.most or self.start))
        self.limit = float(self.start)

    @property
    def value(self) -> int:
        return max(1, int(self.limit))

    @property
    def ceiling(self) -> int:
        return min(MAX_CEILING, self.start * CEILING_FACTOR, self.most or MAX_CEILING)

    def on_success(self, latency_s: float, now: float) -> None:
        self.ewma_s = latency_s if self.ewma_s is None else (1 - EWMA_WEIGHT) * self.ewma_s + EWMA_WEIGHT * latency_s
        # The best latency drifts up slowly, so a server that got slower for good (longer prompts) is not
        # mistaken for an overloaded one for ever.
        self.best_s = self.ewma_s if self.best_s is None else min(self.ewma_s, self.best_s * 1.001)
        if self.fixed:
            return
        self.successes += 1
        if self.ewma_s > LATENCY_QUEUEING * self.best_s:
            self._cut(now, 0.9)
        elif self.successes >= self.value and self.saturated and self.ewma_s <= LATENCY_HOLDS * self.best_s:
            if self.limit + 1 <= self.ceiling:
                self.limit += 1
                self.increases += 1
            self.successes = 0
            self.saturated = False

    def on_overload(self, now: float) -> None:
        if not self.fixed:
            self._cut(now, 0.5)

    def _cut(self, now: float, factor: float) -> None:
        # One cut per round trip: the requests already in flight when the server pushed back would otherwise
        # each halve the limit again.
        if now - self.last_cut < max(self.ewma_s or 0.0, 0.05):
            return
        self.last_cut = now
        self.limit = max(1.0, self.limit * factor)
        self.successes = 0
        self.cuts += 1


@dataclass
class Replica:
    url: str
    backend: Backend
    limit: AdaptiveLimit
    in_flight: int = 0
    served: int = 0
    failed: int = 0
    down: bool = False
    down_until: float = 0.0
    cooldown_s: float = COOLDOWN_S[0]
    probing: bool = False
    consecutive_errors: int = 0
    # The prompt of the request it was last given (ReplicaPool.acquire's ``prompt``), which its server holds.
    last_prompt: object = None

    def room(self, now: float) -> int:
        """How many more requests it may take now (a replica that is down takes one probe once cooled down)."""
        if self.down:
            return 1 if now >= self.down_until and not self.probing else 0
        return self.limit.value - self.in_flight

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc or self.url


def _continues(prompt: object, earlier: object) -> bool:
    """``prompt`` is ``earlier``, or a tuple of messages that begins with all of ``earlier``'s."""
    if earlier is None:
        return False
    if isinstance(prompt, tuple) and isinstance(earlier, tuple) and 0 < len(earlier) < len(prompt):
        return prompt[:len(earlier)] == earlier
    return prompt == earlier


@dataclass(frozen=True, eq=False)
class _Waiter:
    """A request waiting for room, and its prompt."""

    future: asyncio.Future[Replica]
    prompt: object


@dataclass
class ReplicaPool:
    """Every replica of one endpoint, and the requests waiting for room on one."""

    endpoint: Endpoint
    factory: Callable[[Endpoint], Backend]
    adaptive: bool = True
    replicas: list[Replica] = field(default_factory=list)
    _waiters: deque[_Waiter] = field(default_factory=deque)  # oldest first

    def __post_init__(self) -> None:
        urls = self.endpoint.replica_urls()
        for url in urls:
            # Each replica gets its own client; the cache key stays the endpoint's (Endpoint.identity).
            backend = self.factory(replace(self.endpoint, base_url=url, replicas=()) if url else self.endpoint)
            self.replicas.append(Replica(url or self.endpoint.provider, backend,
                                         AdaptiveLimit(self.endpoint.concurrency, fixed=not self.adaptive,
                                                         most=self.endpoint.slots)))

    @cached_property
    def label(self) -> str:
        # Asked on every attempt (the endpoint is frozen, so it never changes).
        return f"{self.endpoint.name} at {self.endpoint.base_url or self.endpoint.provider}"

    async def acquire(self, avoid: Replica | None = None, prompt: object = None) -> Replica:
        """The least busy replica with room, with its slot taken; when none has room, the first slot that frees up
        is handed to the longest waiting request. ``avoid``: the replica a retried request just failed on, taken
        only when no other has room now. ``prompt``: what the request asks (any hashable value): on servers with
        slots, a replica last given the same prompt is waited for, since its server has read it already."""
        if avoid is not None:
            prompt = None  # a retry goes where there is room, not back to the server its prompt failed on
            other = self._pick(avoid)
            if other is not None:
                self._take(other, None)
                return other
        holder = self._holder(prompt)
        if holder is not None and holder.room(time.monotonic()) > 0:
            self._take(holder, prompt)
            return holder
        if holder is None and not self._waiters:  # (behind waiting requests it waits its turn: no replica picked)
            replica = self._pick()
            if replica is not None:
                self._take(replica, prompt)
                return replica
        waiter: asyncio.Future[Replica] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(waiter, prompt))
        self._hand_over()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot it will not use: pass it on
                handed = waiter.result()
                handed.in_flight -= 1
                if handed.down:  # it was to be the replica's probe: another request probes it
                    handed.probing = False
                self._hand_over()
            raise

    def wait_s(self) -> float:
        """About how long a request queued now would wait for a slot: the requests waiting ahead of it over the pace
        the replicas answer at (each of a replica's slots frees once a latency); 0 before any has answered."""
        waiting = len(self._waiters)
        if not waiting:
            return 0.0
        pace = 0.0
        for replica in self.replicas:
            latency_s = replica.limit.ewma_s
            if not replica.down and latency_s:
                pace += replica.limit.value / latency_s
        return waiting / pace if pace else 0.0

    def _holder(self, prompt: object) -> Replica | None:
        """The healthy replica whose server holds the start of ``prompt``, where servers have slots: it was last
        given the same prompt, or (a tuple of messages) the conversation this one goes on with (a second turn)."""
        if prompt is None or not self._holds_prompts:
            return None
        return next((r for r in self.replicas if not r.down and _continues(prompt, r.last_prompt)), None)

    @cached_property
    def _holds_prompts(self) -> bool:
        """Whether a replica may hold a waiting request's prompt: servers with slots, more than one replica (asked
        on every acquire and release; neither changes once the pool is made)."""
        return bool(self.endpoint.slots) and len(self.replicas) >= 2

    def _take(self, replica: Replica, prompt: object) -> None:
        replica.in_flight += 1
        replica.last_prompt = prompt
        if replica.down:
            replica.probing = True
        elif replica.in_flight >= replica.limit.value:
            replica.limit.saturated = True

    def _hand_over(self) -> None:
        """Give the room there is to waiting requests: first to one whose prompt a replica with room holds (it
        was given the same prompt last, perhaps while this one waited), then to the oldest whose prompt no
        healthy replica holds."""
        if not self._holds_prompts:
            # No replica holds a prompt (one replica, or servers without slots): the oldest waiting requests take
            # the room there is, in order, each in O(1) (rebuilding the queue on every release cost O(waiting)).
            while self._waiters:
                free = self._pick()
                if free is None:
                    return
                waiter = self._waiters.popleft()
                if waiter.future.done():
                    continue
                self._take(free, waiter.prompt)
                waiter.future.set_result(free)
            return
        now = time.monotonic()
        while self._waiters:
            self._waiters = deque(w for w in self._waiters if not w.future.done())
            holders = [(w, self._holder(w.prompt)) for w in self._waiters]
            chosen = next(((w, held) for w, held in holders if held is not None and held.room(now) > 0), None)
            if chosen is None:
                free = self._pick()
                oldest = next((w for w, held in holders if held is None), None)
                if free is None or oldest is None:
                    return
                chosen = (oldest, free)
            waiter, replica = chosen
            self._waiters.remove(waiter)
            self._take(replica, waiter.prompt)
            waiter.future.set_result(replica)

    def _pick(self, avoid: Replica | None = None) -> Replica | None:
        now = time.monotonic()
        best: Replica | None = None
        best_load = 0.0
        for replica in self.replicas:
            if replica is avoid or replica.room(now) <= 0:
                continue
            load = replica.in_flight / replica.limit.value
            if best is None or load < best_load:
                best, best_load = replica, load
        return best

    def release(self, replica: Replica, latency_s: float, error: BackendError | None) -> None:
        """The request on ``replica`` is over: answered (``error`` None) or failed with ``error``."""
        now = time.monotonic()
        replica.in_flight -= 1
        was_probing, replica.probing = replica.probing, False
        if error is None:
            replica.served += 1
            replica.consecutive_errors = 0
            if replica.down:  # its probe was answered: back in the pool
                replica.down, replica.cooldown_s = False, COOLDOWN_S[0]
            replica.limit.on_success(latency_s, now)
        else:
            replica.failed += 1
            # Any failure asking again may cure (a 5xx, a 429, a body cut short) counts, and so does a garbled 2xx
            # (no status): not retried on a lone server, but the runner sends it to another replica as this one's
            # fault, so it must count here too, or a replica that garbles every reply is never taken out and,
            # always least busy, takes requests until some run out of attempts. A refusal of this request (400,
            # 401, ...) says nothing about the replica.
            if error.retryable or error.status is None:
                replica.consecutive_errors += 1
            if error.unreachable or error.status in OVERLOAD_STATUSES:
                replica.limit.on_overload(now)
            # A replica set takes out a replica that does not answer, or fails three times in a row; a lone
            # replica is left to the retry policy's waits.
            if len(self.replicas) > 1 and (error.unreachable or replica.consecutive_errors >= TAKE_OUT_AFTER):
                self._take_out(replica, now, was_probing)
        self._hand_over()

    def _take_out(self, replica: Replica, now: float, was_probing: bool) -> None:
        if replica.down and was_probing:
            replica.cooldown_s = min(COOLDOWN_S[1], replica.cooldown_s * 2)
        replica.down = True
        replica.down_until = now + replica.cooldown_s
        # When the cool-down ends the replica takes a probe, also when every other replica is out too.
        asyncio.get_running_loop().call_later(replica.cooldown_s, self._hand_over)

    def has_healthy_other(self, replica: Replica) -> bool:
        return any(r is not replica and not r.down for r in self.replicas)

    def describe(self) -> str:
        """``NAME: host 12/16, host down`` (in flight / current limit of each replica)."""
        parts = [f"{r.host} down" if r.down else f"{r.host} {r.in_flight}/{r.limit.value}" for r in self.replicas]
        return f"{self.endpoint.name}: {', '.join(parts)}"

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.backend.aclose()
