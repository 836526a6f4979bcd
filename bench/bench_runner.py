"""Runner overhead: judgebench's runner vs a bare asyncio + openai loop sending the same judge requests with
the same concurrency to the same real embedded llama.cpp server, alternating, in one process.

The runner's cache is fresh for every trial, so both sides make every request."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai

from judgebench.judging.kinds import kind_of
from judgebench.run.backends.local import start_server
from judgebench.run.backends.openai_compat import response_format
from judgebench.run.cache import Cache
from judgebench.run.evaluate import judge as judge_all
from judgebench.run.runner import Runner
from judgebench.tasks import load_task
from judgebench.types import Candidate, Judge, JudgeRequest, Task

CONCURRENCY = 4
ROUNDS = 3


def _requests(task: Task, judge: Judge) -> tuple[list[Candidate], list[JudgeRequest]]:
    candidates = [Candidate(task.benchmark, item.id, "bench", tuple(f"A short answer to: {t}" for t in item.turns))
                  for item in task.items]
    by_id = {i.id: i for i in task.items}
    requests = [r for c in candidates for r in kind_of(task.kind).requests(task, c, by_id[c.item_id], judge)]
    return candidates, requests


async def bare_loop(base_url: str, model: str, requests: list[JudgeRequest]) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(request: JudgeRequest) -> Any:
        async with semaphore:
            extra = {}
            if request.chat.response_schema:
                extra["response_format"] = response_format(request.chat.response_schema, schema_in_json_object=True)
            return await client.chat.completions.create(
                model=model, messages=[{"role": r, "content": c} for r, c in request.chat.messages],  # type: ignore[misc]
                **dict(request.chat.params), **extra)

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def judgebench_runner(task: Task, judge: Judge, candidates: list[Candidate], workdir: Path) -> float:
    cache = Cache(Path(tempfile.mkdtemp(dir=workdir)) / "cache.sqlite")
    runner = Runner(cache, progress=False)
    started = time.perf_counter()
    judgments = await judge_all(runner, task, list(task.items), candidates, (judge,))
    elapsed = time.perf_counter() - started
    await runner.aclose()
    cache.close()
    assert runner.counters.cache_hits == 0 and all(j.ok for j in judgments)
    return elapsed


def main() -> dict[str, Any]:
    base = load_task("sample-mt")
    # Short verdicts keep the server's share of the time small, so the runner's own overhead shows.
    task = replace(base, judge=replace(base.judge, max_tokens=32))
    workdir = Path(tempfile.mkdtemp(prefix="jb-bench-"))
    server = start_server(log_dir=workdir / "logs")
    try:
        endpoint = server.endpoint(concurrency=CONCURRENCY)
        judge = Judge("bench", endpoint, constrained=True)
        candidates, requests = _requests(task, judge)
        asyncio.run(bare_loop(server.base_url, endpoint.model, requests[:4]))  # warm-up
        bare, ours = [], []
        for _ in range(ROUNDS):
            bare.append(asyncio.run(bare_loop(server.base_url, endpoint.model, requests)))
            ours.append(asyncio.run(judgebench_runner(task, judge, candidates, workdir)))
    finally:
        server.stop()
    ratio = statistics.median(ours) / statistics.median(bare)
    return {"n_requests": len(requests), "concurrency": CONCURRENCY, "rounds": ROUNDS,
            "bare_s": [round(x, 3) for x in bare], "runner_s": [round(x, 3) for x in ours],
            "ratio_runner_over_bare": round(ratio, 4)}


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
