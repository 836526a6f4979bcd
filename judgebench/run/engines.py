"""Where a run's judge requests go: the local runner (``local``, the default) or an engine that takes all of a run's
judge requests at once (``ray``: judgebench.run.ray_engine). Generation always stays on the local runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..clients.pricing import add_tokens
from ..errors import BackendError, ConfigError
from ..judging.kinds import JudgingKind
from ..types import Candidate, ChatReply, ChatRequest, JudgeRequest, Judgment, Task
from .cache import Cache
from .runner import Counters, RetryPolicy

ENGINES = ("local", "ray")


class BatchEngine(Protocol):
    """The contract of ``Runner.outcomes``, for every request of a run in one call."""

    async def outcomes(self, requests: Sequence[ChatRequest],
                       accept: Callable[[ChatRequest, ChatReply], bool]) -> list[ChatReply | BackendError]: ...

    def close(self) -> None: ...


def make_engine(name: str, cache: Cache, retry: RetryPolicy, counters: Counters, *,
                progress: bool = False) -> BatchEngine | None:
    """The engine a run's judge requests go through; None for the local runner."""
    if name == "local":
        return None
    if name == "ray":
        from .ray_engine import RayEngine, RaySettings

        # --timeout bounds a Ray worker's request as it bounds the runner's.
        return RayEngine(cache, retry=retry, counters=counters, progress=progress,
                         settings=RaySettings(timeout_s=retry.timeout_s))
    raise ConfigError(f"engine {name!r}: expected one of {', '.join(ENGINES)}")


async def judge_at_once(engine: BatchEngine, kind: JudgingKind, task: Task,
                        groups: list[tuple[Candidate, list[JudgeRequest]]],
                        record: Callable[[list[Judgment]], None],
                        usage: dict[str, Counters] | None = None) -> None:
    """Every group's judge requests through ``engine`` in one call (one Ray dataset, not one per answer), then each
    group's judgments assembled by the task's kind, in the groups' order."""
    flat = [request for _, requests in groups for request in requests]
    by_chat = {id(r.chat): r for r in flat}

    def accept(chat: ChatRequest, reply: ChatReply) -> bool:
        return kind.parse(task, by_chat[id(chat)], reply).ok

    outcomes = await engine.outcomes([r.chat for r in flat], accept)
    if usage is not None:  # tokens per endpoint, as the runner counts them, for the cost report
        for request, outcome in zip(flat, outcomes, strict=True):
            counters = usage.setdefault(request.chat.endpoint.name, Counters())
            if isinstance(outcome, BackendError):
                counters.failed_calls += 1
            elif outcome.from_cache:
                counters.cache_hits += 1
            else:
                counters.requests += 1
                add_tokens(outcome, counters)
    start = 0
    for candidate, requests in groups:
        record(kind.assemble(task, candidate, requests, outcomes[start:start + len(requests)]))
        start += len(requests)
