"""How many requests at once pay off against llama.cpp on this machine: the measurement behind
``serve.LLAMACPP_SLOTS``.

llama-cpp-python's server (0.3.x) answers one request at a time: one lock around its one model and context, and
no setting for parallel slots (llama.cpp's own ``llama-server --parallel`` is not what it runs). So the choices
are one server sent 1 or 2 requests at once, or two server processes (replicas) with half the threads each. Each
configuration generates the same answers (the sample's first turns, max_tokens 128, temperature 0) on the
embedded SmolLM2-135M model, through the runner, with a fresh cache; the figure is requests and completion tokens
per second.

    python bench/bench_llamacpp_slots.py

Measured on the 2-core development machine while five other engineers built and tested on it (load average 5 to
6), December 2026, 8 requests each, seconds (three rounds where repeated, in the order run):

    1 server x 2 threads, 1 in flight (the old default):  33.4, 136.8, 30.5
    1 server x 1 thread,  1 in flight:                    32.0
    1 server x 2 threads, 2 in flight:                    16.7, 128.1, 15.1
    2 servers x 1 thread, 1 in flight each (chosen):      17.2, 22.9, 22.1

Two threads of one server spin-wait on each other when the cores are busy: 25 to 1,650 ms a token, where one
thread takes 20 ms. A server per core with one thread each is never slow that way and is as fast as the best of
the others, so judgebench starts llama.cpp that way (serve.LLAMACPP_THREADS, serve._llamacpp_servers). (Why two in
flight on one server beat one, when its server answers one at a time, this bench does not say.)
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from judgebench.clients.backends.local import model_path
from judgebench.clients.serve import Server, parse_served, spawn
from judgebench.run.cache import Cache
from judgebench.run.runner import RetryPolicy, Runner
from judgebench.tasks import load_task
from judgebench.types import ChatRequest, Endpoint

MAX_TOKENS = 64
N_REQUESTS = 8  # the sample's first turns: each configuration sends the same, so the comparison holds


def _servers(n: int, threads: int, log_dir: Path) -> list[Server]:
    spec = parse_served(f"llamacpp:{model_path()} --n_threads {threads}")
    servers = [spawn(spec, log_dir=log_dir) for _ in range(n)]
    for server in servers:
        server.wait_ready()
    return servers


def _requests(endpoint: Endpoint) -> list[ChatRequest]:
    task = load_task("sample-mt")
    return [ChatRequest(endpoint, (("user", item.turns[0]),), (("max_tokens", MAX_TOKENS), ("temperature", 0.0)))
            for item in task.items[:N_REQUESTS]]


async def _send(endpoint: Endpoint, cache_path: Path) -> tuple[float, int, int]:
    runner = Runner(Cache(cache_path), retry=RetryPolicy(), progress=False, adaptive=False)
    requests = _requests(endpoint)
    started = time.perf_counter()
    try:
        replies = await runner.outcomes(requests, lambda _request, _reply: True)
    finally:
        await runner.aclose()
    elapsed = time.perf_counter() - started
    tokens = sum(getattr(r, "completion_tokens", 0) or 0 for r in replies)
    return elapsed, len(requests), tokens


def measure(n_servers: int, threads: int, in_flight: int, work: Path) -> dict[str, float]:
    servers = _servers(n_servers, threads, work / "logs")
    try:
        first = servers[0].endpoint(concurrency=in_flight)
        endpoint = replace(first, replicas=tuple(s.base_url for s in servers[1:]), slots=None)
        elapsed, n, tokens = asyncio.run(_send(endpoint, work / f"cache-{n_servers}-{threads}-{in_flight}.sqlite"))
    finally:
        for server in servers:
            server.stop()
    return {"seconds": round(elapsed, 2), "requests_per_s": round(n / elapsed, 3),
            "completion_tokens_per_s": round(tokens / elapsed, 1)}


def main() -> dict[str, object]:
    cores = os.cpu_count() or 2
    work = Path(tempfile.mkdtemp(prefix="bench-slots-"))
    # One server with every core's thread (judgebench's default before this measurement), one with one thread, and
    # a server per core with one thread each (two slots, as replicas), each sent what it can take.
    one = measure(1, cores, 1, work)
    one_thread = measure(1, 1, 1, work)
    one_two = measure(1, cores, 2, work)
    per_core = measure(cores, 1, 1, work)
    return {
        "model": "SmolLM2-135M-Instruct Q4_1 (llama-cpp-python server)", "cores": cores,
        "load_average_1m": round(os.getloadavg()[0], 2), "requests": N_REQUESTS, "max_tokens": MAX_TOKENS,
        f"one_server_{cores}_threads_1_in_flight": one, "one_server_1_thread": one_thread,
        f"one_server_{cores}_threads_2_in_flight": one_two, f"{cores}_servers_1_thread_each": per_core,
        "one_thread_vs_all_threads": round(one["seconds"] / one_thread["seconds"], 2),
        "two_in_flight_vs_one_on_one_server": round(one["seconds"] / one_two["seconds"], 2),
        "server_per_core_vs_one_server": round(one["seconds"] / per_core["seconds"], 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
