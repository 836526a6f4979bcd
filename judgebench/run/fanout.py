"""The one bounded fan-out of a run: work on many values, a bounded number at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def bounded(values: Iterable[T] | AsyncIterable[T], limit: int, work: Callable[[T], Awaitable[None]]
                  ) -> None:
    """``work`` on every value, at most ``limit`` at once. A value's task is created only when a place is free, so
    memory does not grow with the number of values. ``values`` may be an async iterable, which can wait between
    values (this loop waits only there, or for a place). The first failure (a template error, an unwritable cache)
    or an interruption cancels what is still running, and the failure is raised as itself (a one-line error stays
    one line)."""
    window = asyncio.Semaphore(limit)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    # Set once the last task is done or one has failed: the tail of the run waits on it (waiting on the set of
    # tasks instead cost O(tasks) per task done, O(limit^2) at the end of every run).
    ended: list[asyncio.Future[None]] = []

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
        if ended and (failures or not tasks) and not ended[0].done():
            ended[0].set_result(None)

    def start(value: T) -> None:
        started = asyncio.create_task(one(value))
        tasks.add(started)
        started.add_done_callback(finished)

    try:
        async for value in _each(values):
            await window.acquire()
            if failures:
                break
            start(value)
        if tasks and not failures:
            ended.append(asyncio.get_running_loop().create_future())
            await ended[0]
    finally:
        for pending in tasks:
            pending.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failures:
        raise failures[0]



async def _each(values: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    """The values of either kind of iterable, one at a time (an async one may wait between values: the pipeline's
    turn of the event loop after each window)."""
    if isinstance(values, AsyncIterable):
        async for value in values:
            yield value
    else:
        for value in values:
            yield value


__all__ = ["bounded"]
