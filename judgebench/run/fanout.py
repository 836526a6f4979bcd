"""The one bounded fan-out of a run: work on many values, a bounded number at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def bounded(values: Iterable[T], limit: int, work: Callable[[T], Awaitable[None]]) -> None:
    """``work`` on every value, at most ``limit`` at once. A value's task is created only when a place is free, so
    memory does not grow with the number of values. The first failure (a template error, an unwritable cache) or
    an interruption cancels what is still running, and the failure is raised as itself (a one-line error stays one
    line)."""
    window = asyncio.Semaphore(limit)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def one(value: T) -> None:
        try:
            await work(value)
        finally:
            window.release()

    def finished(done: asyncio.Task[None]) -> None:
        tasks.discard(done)
        error = None if done.cancelled() else done.exception()
        if error is not None:
            failures.append(error)

    try:
        for value in values:
            await window.acquire()
            if failures:
                break
            started = asyncio.create_task(one(value))
            tasks.add(started)
            started.add_done_callback(finished)
        while tasks and not failures:
            await asyncio.wait(set(tasks), return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for pending in tasks:
            pending.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failures:
        raise failures[0]


__all__ = ["bounded"]
