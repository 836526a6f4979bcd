"""`--engine ray` against the local runner: the same chat requests, the same concurrency per endpoint, sent to the
same stub server (bench/stub_server.py, its own process, a fixed service time per request), alternating, with a
fresh cache for every trial so both sides send everything.

Ray runs as a local instance started once before timing (its start-up is reported apart); each Ray trial still
pays for starting its processor's actors, as every run does.

    PYTHONPATH=. python bench/bench_ray.py [--requests 512] [--concurrency 16] [--delay 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stub_server import running_stub

from judgebench.run.cache import Cache
from judgebench.run.ray_engine import RayEngine
from judgebench.run.runner import Runner
from judgebench.types import ChatRequest, Endpoint

ROUNDS = 3


def requests(base_url: str, n: int, concurrency: int) -> list[ChatRequest]:
    endpoint = Endpoint(provider="openai", name="stub", model="stub", base_url=base_url, concurrency=concurrency)
    return [ChatRequest(endpoint, (("system", "Grade the answer."), ("user", f"Question {i}: answer {i}.")),
                        (("max_tokens", 32), ("temperature", 0.0))) for i in range(n)]


async def local(batch: list[ChatRequest], workdir: Path) -> float:
    runner = Runner(Cache(Path(tempfile.mkdtemp(dir=workdir)) / "c.sqlite"), progress=False)
    started = time.perf_counter()
    found = await runner.outcomes(batch, lambda _r, _p: True)
    elapsed = time.perf_counter() - started
    await runner.aclose()
    assert runner.counters.requests == len(batch) and all(not isinstance(f, Exception) for f in found)
    return elapsed


async def ray(batch: list[ChatRequest], workdir: Path) -> float:
    engine = RayEngine(Cache(Path(tempfile.mkdtemp(dir=workdir)) / "c.sqlite"))
    started = time.perf_counter()
    found = await engine.outcomes(batch, lambda _r, _p: True)
    elapsed = time.perf_counter() - started
    assert engine.counters.requests == len(batch) and all(not isinstance(f, Exception) for f in found)
    return elapsed


def main(n: int = 512, concurrency: int = 16, delay_s: float = 0.02) -> dict[str, Any]:
    import ray as ray_module

    workdir = Path(tempfile.mkdtemp(prefix="jb-bench-ray-"))
    started = time.perf_counter()
    ray_module.init(include_dashboard=False, logging_level=logging.WARNING)
    ray_init_s = time.perf_counter() - started
    ray_module.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        with running_stub(delay_s=delay_s) as base_url:
            batch = requests(base_url, n, concurrency)
            asyncio.run(ray(batch[:8], workdir))  # warm-up: the worker imports
            local_s, ray_s = [], []
            for _ in range(ROUNDS):
                local_s.append(asyncio.run(local(batch, workdir)))
                ray_s.append(asyncio.run(ray(batch, workdir)))
    finally:
        ray_module.shutdown()
    return {"n_requests": n, "concurrency": concurrency, "service_time_s": delay_s, "rounds": ROUNDS,
            "ray_init_s": round(ray_init_s, 3), "local_runner_s": [round(x, 3) for x in local_s],
            "ray_engine_s": [round(x, 3) for x in ray_s],
            "ratio_ray_over_local": round(statistics.median(ray_s) / statistics.median(local_s), 4)}


if __name__ == "__main__":
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    print(json.dumps(main(args.requests, args.concurrency, args.delay), indent=2))
