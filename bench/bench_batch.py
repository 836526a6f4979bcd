"""run --batch bookkeeping at scale: judging N requests through a provider batch (one run that queues and submits
them, one that polls, downloads, checks and caches the replies) against the same requests sent directly to the
stub server (answering at once, so the client is the only cost), and against a run that finds everything cached.

The batch provider is the tests' local fake (tests/fakebatch.py), in this process: its share (parsing the upload,
writing the results file) is inside the batch timings. Each side gets a fresh cache per round; rounds alternate."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakebatch

from stub_server import running_stub

from judgebench.clients.batch import BatchOptions
from judgebench.run.cache import Cache
from judgebench.run.config import MIN_WINDOW
from judgebench.run.executors import ExecutorOptions, open_executor
from judgebench.run.pipeline import Pipeline, one_model_work
from judgebench.tasks import load_task
from judgebench.types import Candidate, Endpoint, Item, Judge, Judgment, Task
from tests.fakebatch import FakeProvider, fake_batch_server

N_ITEMS = 2000  # two turns each: 4000 judge requests
CONCURRENCY = 16
ROUNDS = 3


def _task() -> tuple[Task, list[Candidate]]:
    base = load_task("sample-mt")
    items = tuple(replace(item, id=f"{item.id}-{n}") for n in range(N_ITEMS // len(base.items)) for item in base.items)
    task = replace(base, items=items)
    return task, [Candidate(task.benchmark, i.id, "bench", tuple(f"A short answer to: {t} ({i.id})" for t in i.turns))
                  for i in items]


class _Kept:
    """The pipeline's sink for the benchmark: the judgments, in memory."""

    def __init__(self) -> None:
        self.judgments: list[Judgment] = []

    def candidate(self, candidate: Candidate) -> None:
        return None

    def judgment(self, judgment: Judgment) -> None:
        self.judgments.append(judgment)


async def _judge(task: Task, items: list[Item], candidates: list[Candidate], judge: Judge, cache: Cache,
                 batch: BatchOptions | None, submit: bool) -> tuple[float, int]:
    started = time.perf_counter()
    executor = await open_executor("local", cache, ExecutorOptions(progress=False, batch=batch,
                                                                   endpoints=(judge.endpoint,)))
    kept = _Kept()
    work = one_model_work(task, items, None, candidates, 1)
    await work.run(Pipeline(task, (judge,), executor, kept, MIN_WINDOW))
    if submit:
        await executor.finish()
    elapsed = time.perf_counter() - started
    await executor.aclose()
    return elapsed, sum(1 for j in kept.judgments if j.ok)


def main() -> dict[str, Any]:
    task, candidates = _task()
    items = list(task.items)
    workdir = Path(tempfile.mkdtemp(prefix="jb-bench-batch-"))
    timings: dict[str, list[float]] = {"direct": [], "batch_submit": [], "batch_collect": [], "cached": []}
    provider = FakeProvider(answer=lambda _: '{"score": 7}')
    with running_stub() as stub_url, fake_batch_server(provider) as fake_base:
        stub = Endpoint("openai", "bench", "stub", stub_url, concurrency=CONCURRENCY)
        direct = Judge("bench", stub, constrained=True)
        batched = Judge("bench", Endpoint("openai", "bench", "bench", f"{fake_base}/v1"), constrained=True)
        options = BatchOptions.of([batched.endpoint])
        for n in range(ROUNDS):
            cache = Cache(workdir / f"direct-{n}.sqlite")
            seconds, ok = asyncio.run(_judge(task, items, candidates, direct, cache, None, False))
            assert ok == 2 * len(items), ok
            timings["direct"].append(seconds)
            seconds, ok = asyncio.run(_judge(task, items, candidates, direct, cache, None, False))
            timings["cached"].append(seconds)
            cache.close()
            cache = Cache(workdir / f"batch-{n}.sqlite")
            seconds, ok = asyncio.run(_judge(task, items, candidates, batched, cache, options, True))
            assert ok == 0, ok  # all pending
            timings["batch_submit"].append(seconds)
            seconds, ok = asyncio.run(_judge(task, items, candidates, batched, cache, options, False))
            assert ok == 2 * len(items), ok
            timings["batch_collect"].append(seconds)
            cache.close()
    median = {name: statistics.median(values) for name, values in timings.items()}
    return {"n_requests": 2 * len(items), "concurrency_direct": CONCURRENCY, "rounds": ROUNDS,
            **{f"{name}_s": [round(v, 3) for v in values] for name, values in timings.items()},
            **{f"ratio_{name}_over_direct": round(median[name] / median["direct"], 3)
               for name in ("batch_submit", "batch_collect", "cached")}}


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
