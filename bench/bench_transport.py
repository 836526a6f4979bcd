"""Transport cost: the bare openai SDK loop (asyncio.gather + a semaphore + AsyncOpenAI) vs the same requests
through judgebench's backends, the lean transport (aiohttp + orjson) and the SDK transport, against
bench/stub_server.py, which answers at once in its own process: the client's CPU is the only limit, so
requests per second and client CPU per request are what each transport costs.

Alternating, a few rounds, in one process; medians are reported, and ratios against the SDK loop."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import openai
from stub_server import running_stub  # bench/ is on the path: run as a script or from run_all.py

from judgebench.clients.backends import make_backend
from judgebench.types import ChatRequest, Endpoint, Transport

N_REQUESTS = 8000
CONCURRENCY = 64
ROUNDS = 3
WARMUP = 300
EXPECTED = '{"score": 7}'  # what the stub answers


def _measure(run: Callable[[], Awaitable[list[str]]], n: int) -> dict[str, float]:
    async def timed() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        texts = await run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if len(texts) != n or any(t != EXPECTED for t in texts):
            raise RuntimeError("a reply was lost or wrong: the comparison would not be fair")
        return wall, cpu

    wall, cpu = asyncio.run(timed())
    return {"req_per_s": n / wall, "cpu_ms_per_req": 1000 * cpu / n}


def sdk_loop(base_url: str, n: int) -> dict[str, float]:
    """What a user would write with the openai SDK alone."""
    async def run() -> list[str]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> str:
            async with semaphore:
                response = await client.chat.completions.create(
                    model="stub", messages=[{"role": "user", "content": f"q{i}"}], max_tokens=16)
                return response.choices[0].message.content or ""

        try:
            return list(await asyncio.gather(*(one(i) for i in range(n))))
        finally:
            await client.close()

    return _measure(run, n)


def backend_loop(base_url: str, n: int, transport: Transport) -> dict[str, float]:
    """The same requests through a judgebench backend's ``complete()``."""
    endpoint = Endpoint(provider="openai", name="stub", model="stub", base_url=base_url, concurrency=CONCURRENCY,
                        transport=transport)

    async def run() -> list[str]:
        backend = make_backend(endpoint)
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> str:
            async with semaphore:
                reply = await backend.complete(ChatRequest(endpoint, (("user", f"q{i}"),), (("max_tokens", 16),)))
                return reply.text

        try:
            return list(await asyncio.gather(*(one(i) for i in range(n))))
        finally:
            await backend.aclose()

    return _measure(run, n)


def main(n_requests: int = N_REQUESTS, rounds: int = ROUNDS) -> dict[str, Any]:
    sides: dict[str, Callable[[str, int], dict[str, float]]] = {
        "sdk_loop": sdk_loop,
        "lean_backend": lambda url, n: backend_loop(url, n, "lean"),
        "sdk_backend": lambda url, n: backend_loop(url, n, "sdk"),
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    with running_stub() as url:
        for side in sides.values():
            side(url, WARMUP)
        for _ in range(rounds):
            for name, side in sides.items():
                samples[name].append(side(url, n_requests))
    median = {name: {key: statistics.median(s[key] for s in runs) for key in ("req_per_s", "cpu_ms_per_req")}
              for name, runs in samples.items()}
    base = median["sdk_loop"]
    return {
        "n_requests": n_requests, "concurrency": CONCURRENCY, "rounds": rounds,
        **{name: {"req_per_s": [round(s["req_per_s"], 1) for s in runs],
                  "cpu_ms_per_req": [round(s["cpu_ms_per_req"], 4) for s in runs],
                  "median_req_per_s": round(median[name]["req_per_s"], 1),
                  "median_cpu_ms_per_req": round(median[name]["cpu_ms_per_req"], 4)}
           for name, runs in samples.items()},
        # Above 1: the lean transport is that many times faster / cheaper than the SDK loop.
        "throughput_ratio_lean_over_sdk_loop": round(median["lean_backend"]["req_per_s"] / base["req_per_s"], 2),
        "cpu_ratio_sdk_loop_over_lean": round(base["cpu_ms_per_req"] / median["lean_backend"]["cpu_ms_per_req"], 2),
        "throughput_ratio_sdk_backend_over_sdk_loop": round(median["sdk_backend"]["req_per_s"] / base["req_per_s"],
                                                            2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
