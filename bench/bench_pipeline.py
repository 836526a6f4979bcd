"""The runner at scale, against bench/stub_server.py (a server that answers at once, or after a fixed service
time), so judgebench's own cost is what is measured:

- overhead: `judgebench run` (the library call the CLI makes: aevaluate with an answers file, results written,
  statistics computed) vs a bare asyncio + openai SDK loop sending the same judge requests at the same
  concurrency; wall time and this process's CPU time.
- scale: generation + judging of 4,000, 40,000 and 100,000 items, each in a fresh process, with the lean transport
  (the command line's default): peak RSS, wall and CPU time. Memory should not grow with the items (goal: 100,000
  under 200 MB). `--only scale --against DIR` measures a baseline checkout (`git worktree add --detach DIR main`)
  too, size by size in the same run, with the ratios; `--sizes 4000,40000` picks the sizes. The three sizes take
  several minutes (about 100 s of CPU for 100,000 items, more wall time on a busy machine; twice that with a
  baseline): run it in the background and read its JSON, each size's line goes to stderr as it finishes.
- pairwise lookups: building 4,000 pairwise judge requests in a 10,000- and a 100,000-item task.
- replicas: one vs two replicas of a server with a fixed service time and a fixed number of slots.
- pipelining: a slow candidate and a slow judge, the whole run vs generation then judging one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stub_server import ANSWERER, running_stub

from judgebench.judging.kinds import kind_of
from judgebench.judging.requests import generation_request
from judgebench.run.cache import Cache
from judgebench.run.evaluate import RunConfig, aevaluate
from judgebench.run.runner import Runner
from judgebench.tasks import load_task
from judgebench.types import Candidate, Endpoint, Item, Judge, JudgeRequest, Task

CONCURRENCY = 64


def synthetic_task(n_items: int, kind: str = "single") -> Task:
    """``n_items`` one-turn questions in the shape of the built-in samples."""
    base = load_task("sample-mt" if kind == "single" else "sample-pairwise")
    items = tuple(Item(f"q{i}", "writing", (f"Question {i}: write two sentences about the number {i}.",))
                  for i in range(n_items))
    references = tuple((item.id, (f"A reference answer about {item.id}.",)) for item in items)
    return replace(base, items=items, reference_answers=references if kind == "pairwise" else (),
                   path="", judge=replace(base.judge, max_tokens=32))


def write_answers(task: Task, path: Path, model: str = "bench-model") -> None:
    """A FastChat model_answer file: what `judgebench run --answers FILE` reads."""
    with path.open("w") as out:
        for item in task.items:
            out.write(json.dumps({"question_id": item.id, "model_id": model,
                                  "choices": [{"index": 0, "turns": [f"An answer to {item.id}, in two sentences."]}]})
                      + "\n")


def judge_requests(task: Task, judge: Judge) -> list[JudgeRequest]:
    kind = kind_of(task.kind)
    return [r for item in task.items
            for r in kind.requests(task, Candidate(task.benchmark, item.id, "bench-model",
                                                   (f"An answer to {item.id}, in two sentences.",)), item, judge)]


async def bare_sdk_loop(base_url: str, requests: list[JudgeRequest], concurrency: int) -> None:
    import openai  # here: the scale children measure judgebench's memory, not the SDK's

    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(request: JudgeRequest) -> Any:
        async with semaphore:
            extra: dict[str, Any] = {}
            if request.chat.response_schema:
                extra["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "verdict", "schema": json.loads(request.chat.response_schema), "strict": True}}
            return await client.chat.completions.create(
                model=request.chat.endpoint.model,
                messages=[{"role": r, "content": c} for r, c in request.chat.messages],  # type: ignore[misc]
                **dict(request.chat.params), **extra)

    await asyncio.gather(*(one(r) for r in requests))
    await client.close()


def timed(fn: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def overhead(n_requests: int = 8000, rounds: int = 3, transport: str = "sdk") -> dict[str, Any]:
    task = synthetic_task(n_requests)
    workdir = Path(tempfile.mkdtemp(prefix="jb-bench-"))
    answers = workdir / "bench-model.jsonl"
    write_answers(task, answers)
    with running_stub() as base_url:
        endpoint = Endpoint("openai", "stub-judge", "stub", base_url=base_url, concurrency=CONCURRENCY)
        judge = Judge("stub-judge#json", endpoint, constrained=True)
        requests = judge_requests(task, judge)

        def ours(round_: int) -> None:
            config = RunConfig(model=None, judges=(judge,), out=workdir / f"results{round_}",
                               cache_path=workdir / f"cache{round_}.sqlite", answers_file=answers, progress=False)
            result = asyncio.run(aevaluate(task, config))
            assert result.n_judgments == n_requests and result.n_failed == 0 and result.counters.cache_hits == 0

        asyncio.run(bare_sdk_loop(base_url, requests[:200], CONCURRENCY))  # warm-up
        bare, mine = [], []
        for round_ in range(rounds):
            bare.append(timed(lambda: asyncio.run(bare_sdk_loop(base_url, requests, CONCURRENCY))))
            mine.append(timed(lambda r=round_: ours(r)))  # type: ignore[misc]
    bare_wall, bare_cpu = statistics.median(w for w, _ in bare), statistics.median(c for _, c in bare)
    our_wall, our_cpu = statistics.median(w for w, _ in mine), statistics.median(c for _, c in mine)
    return {"n_requests": n_requests, "concurrency": CONCURRENCY, "rounds": rounds,
            "bare_sdk_wall_s": round(bare_wall, 3), "bare_sdk_cpu_s": round(bare_cpu, 3),
            "judgebench_wall_s": round(our_wall, 3), "judgebench_cpu_s": round(our_cpu, 3),
            "bare_req_per_s": round(n_requests / bare_wall, 1), "judgebench_req_per_s": round(n_requests / our_wall, 1),
            "wall_ratio": round(our_wall / bare_wall, 3), "cpu_ratio": round(our_cpu / bare_cpu, 3)}


def _scale_child(n_items: int, base_url: str, transport: str) -> dict[str, Any]:
    """One run of ``n_items`` items (generation and judging, both on the stub) in this process."""
    imports_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the libraries, before any item
    task = synthetic_task(n_items)
    workdir = Path(tempfile.mkdtemp(prefix="jb-scale-"))
    model = Endpoint("openai", "stub-model", ANSWERER, base_url=base_url, concurrency=CONCURRENCY,
                     transport=transport)  # type: ignore[arg-type]
    judge = Judge("stub-judge#json", replace(model, name="stub-judge", model="stub"), constrained=True)
    config = RunConfig(model=model, judges=(judge,), out=workdir / "results", cache_path=workdir / "cache.sqlite",
                       progress=False)
    started = time.perf_counter()
    result = asyncio.run(aevaluate(task, config))
    wall = time.perf_counter() - started
    assert result.n_judgments == n_items and result.n_failed == 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"n_items": n_items, "requests": 2 * n_items, "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "rss_after_imports_mb": round(imports_mb, 1)}


SCALE_SIZES = (4000, 40000, 100_000)
SCALE_GOAL_MB = 200.0
# One child's limit: a size that runs past it is reported as timed out, and the next size still runs. (A 100,000-item
# child takes about 100 s of CPU; on a busy 2-core machine, where the stub and other work share the cores, its wall
# time is two to three times that.)
SCALE_CHILD_TIMEOUT_S = 1800


def _scale_run(n: int, base_url: str, transport: str, code: Path | None) -> dict[str, Any]:
    """One size in a fresh process: this checkout's judgebench, or ``code``'s (a checkout of the baseline)."""
    env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
    try:
        out = subprocess.run([sys.executable, __file__, "--scale-child", str(n), base_url, transport], env=env,
                             check=True, capture_output=True, text=True, timeout=SCALE_CHILD_TIMEOUT_S).stdout
    except subprocess.TimeoutExpired:
        return {"n_items": n, "timed_out_after_s": SCALE_CHILD_TIMEOUT_S}
    return dict(json.loads(out.strip().splitlines()[-1]))


def _scale_summary(found: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in found if "peak_rss_mb" in r]
    if len(done) < 2:
        return {"runs": found}
    small, large = done[0], done[-1]
    return {"runs": found, "items_ratio": large["n_items"] / small["n_items"],
            "time_ratio": round(large["wall_s"] / small["wall_s"], 2),
            "rss_ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
            "within_goal": len(done) == len(found) and large["peak_rss_mb"] <= SCALE_GOAL_MB}


def scale(sizes: tuple[int, ...] = SCALE_SIZES, transport: str = "lean", against: Path | None = None
          ) -> dict[str, Any]:
    """Peak RSS, wall and CPU time of a run of each size, each in a fresh process; with ``against`` (a checkout of
    the baseline, e.g. `git worktree add /tmp/before main`), the baseline's too, each size right after this
    checkout's on the same stub, and their ratios."""
    found, before = [], []
    with running_stub() as base_url:
        for n in sizes:
            found.append(_scale_run(n, base_url, transport, None))
            print(json.dumps({"scale": found[-1]}), file=sys.stderr, flush=True)
            if against is not None:
                before.append(_scale_run(n, base_url, transport, against))
                print(json.dumps({"scale_baseline": before[-1]}), file=sys.stderr, flush=True)
    result = {**_scale_summary(found), "transport": transport, "goal_peak_rss_mb": SCALE_GOAL_MB}
    if against is not None:
        result["baseline"] = {"code": str(against), **_scale_summary(before)}
        result["peak_rss_ratio_by_size"] = {
            str(now["n_items"]): round(now["peak_rss_mb"] / then["peak_rss_mb"], 3)
            for now, then in zip(found, before, strict=True) if "peak_rss_mb" in now and "peak_rss_mb" in then}
        result["cpu_ratio_by_size"] = {
            str(now["n_items"]): round(now["cpu_s"] / then["cpu_s"], 3)
            for now, then in zip(found, before, strict=True) if "cpu_s" in now and "cpu_s" in then}
    return result


def pairwise_lookups(sizes: tuple[int, ...] = (10_000, 100_000), n_candidates: int = 2000) -> dict[str, Any]:
    """Building the judge requests of ``n_candidates`` answers (two each, both orders) in tasks of each size."""
    endpoint = Endpoint("openai", "j", "j", base_url="http://127.0.0.1:9/v1")
    judge = Judge("j#json", endpoint, constrained=True)
    times = {}
    for n in sizes:
        task = synthetic_task(n, kind="pairwise")
        kind = kind_of(task.kind)
        chosen = task.items[-n_candidates:]  # the last items: a linear scan would find them last
        started = time.perf_counter()
        built = sum(len(kind.requests(task, Candidate(task.benchmark, item.id, "m", ("an answer",)), item, judge))
                    for item in chosen)
        times[n] = time.perf_counter() - started
        assert built == 2 * n_candidates
    small, large = sizes[0], sizes[-1]
    return {"requests": 2 * n_candidates, "seconds": {str(n): round(t, 3) for n, t in times.items()},
            "ratio_large_over_small": round(times[large] / times[small], 2)}


def replicas(n_requests: int = 1200, service_s: float = 0.1, slots: int = 8) -> dict[str, Any]:
    """Two replicas vs one, each a stub that serves ``slots`` requests at once in ``service_s`` each."""
    task = synthetic_task(n_requests)
    workdir = Path(tempfile.mkdtemp(prefix="jb-replicas-"))
    answers = workdir / "bench-model.jsonl"
    write_answers(task, answers)
    walls = {}
    with running_stub(service_s, slots) as first, running_stub(service_s, slots) as second:
        for label, urls in (("one", (first,)), ("two", (first, second))):
            endpoint = Endpoint("openai", "stub-judge", "stub", base_url=urls[0], replicas=urls[1:],
                                concurrency=slots)
            config = RunConfig(model=None, judges=(Judge("stub-judge#json", endpoint, constrained=True),),
                               out=workdir / label, cache_path=workdir / f"{label}.sqlite", answers_file=answers,
                               progress=False)
            started = time.perf_counter()
            result = asyncio.run(aevaluate(task, config))
            walls[label] = time.perf_counter() - started
            assert result.n_failed == 0
    return {"n_requests": n_requests, "service_s": service_s, "slots_per_replica": slots,
            "one_replica_s": round(walls["one"], 2), "two_replicas_s": round(walls["two"], 2),
            "speedup": round(walls["one"] / walls["two"], 2)}


def pipelining(n_items: int = 400, service_s: float = 0.1, slots: int = 8) -> dict[str, Any]:
    """A slow candidate server and a slow judge server: the whole run (an item's judging starts as soon as its
    answer exists) vs the same work one stage after the other (every answer, then every judgment)."""
    task = synthetic_task(n_items)
    workdir = Path(tempfile.mkdtemp(prefix="jb-pipeline-"))
    with running_stub(service_s, slots) as candidate_url, running_stub(service_s, slots) as judge_url:
        model = Endpoint("openai", "stub-model", ANSWERER, base_url=candidate_url, concurrency=slots)
        judge = Judge("stub-judge#json", Endpoint("openai", "stub-judge", "stub", base_url=judge_url,
                                                  concurrency=slots), constrained=True)
        started = time.perf_counter()
        result = asyncio.run(aevaluate(task, RunConfig(model=model, judges=(judge,), out=workdir / "piped",
                                                       cache_path=workdir / "piped.sqlite", progress=False)))
        piped = time.perf_counter() - started
        assert result.n_failed == 0

        async def generate_all() -> None:
            runner = Runner(Cache(workdir / "sequential.sqlite"), progress=False)
            await asyncio.gather(*(runner.call(generation_request(task, item, model, ())) for item in task.items))
            await runner.aclose()

        started = time.perf_counter()
        asyncio.run(generate_all())
        answers = workdir / "answers.jsonl"
        write_answers(task, answers)
        result = asyncio.run(aevaluate(task, RunConfig(model=None, judges=(judge,), out=workdir / "sequential",
                                                       cache_path=workdir / "sequential.sqlite",
                                                       answers_file=answers, progress=False)))
        sequential = time.perf_counter() - started
        assert result.n_failed == 0
    return {"n_items": n_items, "service_s": service_s, "slots": slots, "pipelined_s": round(piped, 2),
            "sequential_s": round(sequential, 2), "ratio_pipelined_over_sequential": round(piped / sequential, 3)}


def main() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, bench in (("overhead_vs_bare_sdk_loop", overhead), ("scale_4k_40k_100k_items", scale),
                        ("pairwise_lookup_10k_vs_100k_items", pairwise_lookups),
                        ("two_replicas_vs_one", replicas), ("pipelined_vs_sequential", pipelining)):
        results[name] = bench()
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale-child", nargs=3, metavar=("N", "BASE_URL", "TRANSPORT"))
    parser.add_argument("--only", help="one benchmark: overhead, scale, pairwise, replicas, pipelining")
    parser.add_argument("--sizes", help="scale: the sizes, comma-separated (default: 4000,40000,100000)")
    parser.add_argument("--against", type=Path,
                        help="scale: a checkout of the baseline (git worktree add DIR main), measured in the same run")
    args = parser.parse_args()
    if args.scale_child:
        print(json.dumps(_scale_child(int(args.scale_child[0]), args.scale_child[1], args.scale_child[2])))
    elif args.only == "scale":
        sizes = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else SCALE_SIZES
        print(json.dumps(scale(sizes, against=args.against.resolve() if args.against else None), indent=2))
    elif args.only:
        chosen = {"overhead": overhead, "scale": scale, "pairwise": pairwise_lookups, "replicas": replicas,
                  "pipelining": pipelining}[args.only]
        print(json.dumps(chosen(), indent=2))
    else:
        print(json.dumps(main(), indent=2))
