"""The path of one judgment, live and cached, against the client's limit (issue 23).

Against bench/stub_server.py (it answers at once, in its own process: the client is the only limit), 8,000
single-grading judge requests at concurrency 64, in one process, alternating rounds, medians:

- ``aiohttp_loop``: a bare asyncio + aiohttp + orjson loop sending the same rendered requests (the baseline: what a
  client costs at the least);
- ``sdk_loop``: the same with the openai SDK (for continuity with earlier numbers);
- ``judgebench_live`` / ``judgebench_cached``: ``judgebench run --answers FILE`` as the CLI does it (load_task, then
  the library call ``evaluate`` with the CLI's settings: lean transport, fixed concurrency 64), into an empty cache,
  then again with every request in the cache;
- ``judgebench_no_transport``: the live call with the judge an in-process model that answers what the stub answers
  (clients.backends.inprocess: no socket, no HTTP, no JSON on the wire), into an empty cache. Everything judgebench
  does per judgment but the transport: the floor of ``judgebench_live`` however fast the transport were. Its ratio
  to the aiohttp loop, which includes its transport, says how much of the gap is judgebench's own work;
- once each, ``judgebench run`` as a subprocess of the real CLI (start-up included), live and cached.

Then the breakdown per judgment, live and cached, from a separate instrumented pass (perf_counter accumulators
wrapped around the stages, so the timed rounds above run the real path untouched): start-up (importing the CLI's
modules, in a fresh interpreter), task load, render, cache (keys, look-ups, stores), parse, record, statistics, and
the rest of the wall time (transport and the event loop). Every stage's time is time the event loop's thread spent
in it; ``parse_calls`` shows how many times a reply was parsed.

``--before REV``: also runs the judgebench sides of git revision REV (its judgebench package, exported with git
archive) and of this tree, each in a child process per round, alternating with the aiohttp loop: before and after
in the same run. ``--profile``: a cProfile of one live and one cached library call (the top functions by own time).

    python bench/bench_judgment_path.py [--n 8000] [--rounds 3] [--before main] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import openai
import orjson
from stub_server import running_stub

from judgebench.clients.backends.inprocess import serving
from judgebench.types import ChatRequest, Endpoint, Judge, JudgeRequest

N_REQUESTS = 8000
CONCURRENCY = 64
ROUNDS = 3
EXPECTED = '{"score": 7}'  # what the stub answers
ROOT = Path(__file__).resolve().parent.parent
# The modules `judgebench run` imports before its first request (cli.run's own imports).
CLI_IMPORTS = ("judgebench.cli", "judgebench.clients.backends", "judgebench.clients.endpoints",
               "judgebench.clients.pricing", "judgebench.clients.serve", "judgebench.formats.item_lists",
               "judgebench.run.evaluate", "judgebench.run.runner", "judgebench.tasks")


# -- the workload ---------------------------------------------------------------------------------------------

def write_task(path: Path, n: int) -> None:
    """A single-grading task of ``n`` one-turn items (sample-mt's judge settings), its questions in a FastChat
    question.jsonl beside it (as large benchmarks give theirs), as a task file the CLI reads."""
    questions = path.with_name("question.jsonl")
    with questions.open("w") as out:
        for i in range(n):
            out.write(json.dumps({"question_id": f"q{i}", "category": "writing",
                                  "turns": [f"Question {i}: write two sentences about the number {i}."]}) + "\n")
    path.write_text("name: judgment-path\nkind: single\njudge:\n  prompt: single.jinja\n  scale: [1, 10]\n"
                    f"  max_tokens: 32\nsource:\n  format: fastchat\n  path: {questions.name}\n")


def write_answers(path: Path, n: int, model: str = "bench-model") -> None:
    """A FastChat model_answer file with an answer to every item."""
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps({"question_id": f"q{i}", "model_id": model,
                                  "choices": [{"index": 0, "turns": [f"An answer to q{i}, in two sentences."]}]})
                      + "\n")


def judge_for(base_url: str) -> Judge:
    endpoint = Endpoint("openai", "stub-judge", "stub", base_url=base_url, concurrency=CONCURRENCY,
                        transport="lean")
    return Judge("stub-judge#json", endpoint, constrained=True)


def rendered_requests(task_path: Path, answers: Path, judge: Judge) -> list[JudgeRequest]:
    """The run's judge requests, rendered as judgebench renders them (outside any timing)."""
    from judgebench.formats import read_answers
    from judgebench.judging.kinds import kind_of
    from judgebench.tasks import load_task

    task = load_task(str(task_path))
    kind = kind_of(task.kind)
    items = list(task.items)
    by_id = {c.item_id: c for c in read_answers(answers, task, items)}
    return [r for item in items for r in kind.requests(task, by_id[item.id], item, judge)]


# -- the sides --------------------------------------------------------------------------------------------------

def _timed(fn: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def _bodies(requests: list[JudgeRequest]) -> list[dict[str, Any]]:
    """The chat-completions bodies of the requests (as openai_wire.chat_body builds them), built in the loop."""
    return [{"model": r.chat.endpoint.model, "messages": [{"role": a, "content": b} for a, b in r.chat.messages],
             **dict(r.chat.params),
             **({"response_format": {"type": "json_schema", "json_schema": {
                 "name": "verdict", "schema": json.loads(r.chat.response_schema), "strict": True}}}
                if r.chat.response_schema else {})} for r in requests]


def aiohttp_loop(base_url: str, requests: list[JudgeRequest]) -> None:
    """What a user would write with aiohttp and orjson alone: the client's limit."""
    url = f"{base_url}/chat/completions"

    async def run() -> list[str]:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY),
                                         headers={"Content-Type": "application/json"}) as session:
            async def one(request: JudgeRequest) -> str:
                body = _bodies([request])[0]
                async with semaphore, session.post(url, data=orjson.dumps(body)) as response:
                    data = orjson.loads(await response.read())
                    return str(data["choices"][0]["message"]["content"])

            return list(await asyncio.gather(*(one(r) for r in requests)))

    texts = asyncio.run(run())
    if len(texts) != len(requests) or any(t != EXPECTED for t in texts):
        raise RuntimeError("a reply was lost or wrong: the comparison would not be fair")


def sdk_loop(base_url: str, requests: list[JudgeRequest]) -> None:
    """The same with the openai SDK."""
    async def run() -> list[str]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(body: dict[str, Any]) -> str:
            async with semaphore:
                response = await client.chat.completions.create(**body)
                return response.choices[0].message.content or ""

        try:
            return list(await asyncio.gather(*(one(b) for b in _bodies(requests))))
        finally:
            await client.close()

    texts = asyncio.run(run())
    if len(texts) != len(requests) or any(t != EXPECTED for t in texts):
        raise RuntimeError("a reply was lost or wrong: the comparison would not be fair")


def _answers_as_the_stub(request: ChatRequest) -> str:
    """An in-process judge that answers every request as the stub does."""
    return EXPECTED


def library_run(task_path: Path, answers: Path, base_url: str, out: Path, cache: Path, n: int,
                cached: bool) -> None:
    """`judgebench run --answers FILE --judge ... --concurrency 64 --fixed-concurrency` as the CLI runs it, minus
    the interpreter's start-up: the task loaded, then the library call."""
    from judgebench.run.evaluate import RunConfig, evaluate
    from judgebench.tasks import load_task

    task = load_task(str(task_path))
    config = RunConfig(model=None, judges=(judge_for(base_url),), out=out, cache_path=cache, answers_file=answers,
                       progress=False, adaptive=False)
    result = evaluate(task, config)
    hits = result.counters.cache_hits
    if result.n_judgments != n or result.n_failed or hits != (n if cached else 0):
        raise RuntimeError(f"the run was not what it should be: {result.n_judgments} judgments, {result.n_failed} "
                           f"failed, {hits} cache hits")


def cli_run(task_path: Path, answers: Path, base_url: str, out: Path, env: dict[str, str] | None = None
            ) -> dict[str, float]:
    """The real CLI in a subprocess, start-up included: wall time, and the child's CPU time."""
    command = [sys.executable, "-m", "judgebench.cli", "run", "--task", str(task_path), "--answers", str(answers),
               "--judge", f"stub-judge@{base_url}#json", "--concurrency", str(CONCURRENCY), "--fixed-concurrency",
               "--out", str(out), "--no-progress"]
    before = os.times()
    wall = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - wall
    after = os.times()
    if done.returncode:
        raise RuntimeError(f"the CLI failed: {done.stderr.strip()[-500:]}")
    return {"wall_s": wall, "cpu_s": (after.children_user - before.children_user)
            + (after.children_system - before.children_system)}


def startup_s(env: dict[str, str] | None = None) -> dict[str, float]:
    """A fresh interpreter importing what `judgebench run` imports before its first request."""
    code = "import " + ", ".join(CLI_IMPORTS)
    before = os.times()
    wall = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    after = os.times()
    return {"wall_s": time.perf_counter() - wall,
            "cpu_s": (after.children_user - before.children_user) + (after.children_system - before.children_system)}


# -- the breakdown: a separate instrumented pass ---------------------------------------------------------------

class Stages:
    """perf_counter accumulators around the stages of a judgment, installed for one pass and removed after it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[Callable[[], None]] = []

    def _add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.calls[stage] = self.calls.get(stage, 0) + 1

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        if isinstance(original, cached_property):
            func = original.func

            def timed_property(this: Any) -> Any:
                started = time.perf_counter()
                try:
                    return func(this)
                finally:
                    self._add(stage, time.perf_counter() - started)

            replacement: Any = cached_property(timed_property)
            replacement.__set_name__(owner, name)
        else:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    self._add(stage, time.perf_counter() - started)

            replacement = timed
        setattr(owner, name, replacement)
        self._undo.append(lambda: setattr(owner, name, original))

    @contextmanager
    def installed(self) -> Iterator[Stages]:
        import judgebench.formats as formats
        import judgebench.judging.strategies as strategies
        import judgebench.run.evaluate as evaluate
        import judgebench.run.runner as runner
        import judgebench.tasks as tasks
        from judgebench.run.cache import Cache
        from judgebench.types import ChatRequest

        stages = [
            (tasks, "load_task", "task_load"), (evaluate, "read_answers", "task_load"),
            (formats, "read_answers", "task_load"),
            (strategies, "render_messages", "render"),
            (ChatRequest, "_cache_key", "cache"), (runner.Runner, "_flush", "cache"), (Cache, "get_many", "cache"),
            (Cache, "write_many", "cache"),
            (strategies.JudgingKind, "parse", "parse"),
            (evaluate.RunFiles, "judgment", "record"), (evaluate.RunFiles, "candidate", "record"),
            (evaluate.RunFiles, "close", "record"),
            (evaluate, "_summarize", "statistics"),
        ]
        for owner, name, stage in stages:
            if isinstance(owner, type) and name not in owner.__dict__:
                continue  # not on this version of the code
            if not isinstance(owner, type) and not hasattr(owner, name):
                continue
            self.wrap(owner, name, stage)
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()


STAGES = ("task_load", "render", "cache", "parse", "record", "statistics")


def breakdown(task_path: Path, answers: Path, base_url: str, workdir: Path, n: int) -> dict[str, Any]:
    """Per judgment, live and cached: each stage's microseconds (the instrumented pass), the rest of the wall time
    (transport and the event loop) and, from a fresh interpreter, the start-up."""
    found: dict[str, Any] = {}
    cache = workdir / "breakdown.sqlite"
    for mode in ("live", "cached"):
        stages = Stages()
        with stages.installed():
            wall = time.perf_counter()
            library_run(task_path, answers, base_url, workdir / f"breakdown-{mode}", cache, n, mode == "cached")
            wall = time.perf_counter() - wall
        spent = {stage: stages.seconds.get(stage, 0.0) for stage in STAGES}
        per = {f"{stage}_us": round(1e6 * seconds / n, 1) for stage, seconds in spent.items()}
        rest = wall - sum(spent.values())
        found[mode] = {"wall_s": round(wall, 3), **per, "transport_and_loop_us": round(1e6 * rest / n, 1),
                       "parse_calls_per_judgment": round(stages.calls.get("parse", 0) / n, 2),
                       "render_calls_per_judgment": round(stages.calls.get("render", 0) / n, 2)}
    start = startup_s()
    found["startup_s"] = round(start["wall_s"], 3)
    found["startup_us_per_judgment"] = round(1e6 * start["wall_s"] / n, 1)
    return found


def profile(task_path: Path, answers: Path, base_url: str, workdir: Path, n: int, top: int = 25) -> dict[str, str]:
    """cProfile of one live and one cached library call: the functions that cost the most of their own time."""
    found = {}
    cache = workdir / "profile.sqlite"
    for mode in ("live", "cached"):
        profiler = cProfile.Profile()
        profiler.enable()
        library_run(task_path, answers, base_url, workdir / f"profile-{mode}", cache, n, mode == "cached")
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
        found[mode] = text.getvalue()
    return found


# -- before and after in the same run ----------------------------------------------------------------------------

CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
from bench_judgment_path import library_run
from pathlib import Path
args = json.loads(sys.argv[1])
out = []
for cached in (False, True):
    wall, cpu = time.perf_counter(), time.process_time()
    library_run(Path(args["task"]), Path(args["answers"]), args["url"], Path(args["out"]) / str(cached),
                Path(args["cache"]), args["n"], cached)
    out.append({{"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}})
import judgebench
print(json.dumps({{"runs": out, "package": judgebench.__file__}}))
"""


CHILD_BREAKDOWN = """
import json, sys
sys.path.insert(0, {bench!r})
from bench_judgment_path import breakdown, library_run
from pathlib import Path
args = json.loads(sys.argv[1])
task, answers, out = Path(args["task"]), Path(args["answers"]), Path(args["out"])
library_run(task, answers, args["url"], out / "warm", out / "warm.sqlite", args["n"], False)  # as the main pass
import judgebench
found = breakdown(task, answers, args["url"], out, args["n"])
print(json.dumps({{"breakdown": found, "package": judgebench.__file__}}))
"""


def child_breakdown(tree: Path, task_path: Path, answers: Path, base_url: str, workdir: Path, n: int
                    ) -> dict[str, Any]:
    """``breakdown`` of the judgebench package in ``tree``, in a fresh child process (after a warm-up run)."""
    out = Path(tempfile.mkdtemp(dir=workdir))
    args = json.dumps({"task": str(task_path), "answers": str(answers), "url": base_url, "out": str(out), "n": n})
    done = subprocess.run([sys.executable, "-c", CHILD_BREAKDOWN.format(bench=str(Path(__file__).resolve().parent)),
                           args], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)},
                          check=False, cwd=workdir)
    if done.returncode:
        raise RuntimeError(f"the child breakdown in {tree} failed: {done.stderr.strip()[-800:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(found["package"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the child breakdown imported {found['package']}, not the judgebench in {tree}")
    return dict(found["breakdown"])


def export_revision(rev: str, into: Path) -> Path:
    """``rev``'s judgebench package, exported with git archive (no worktree, nothing checked out)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "judgebench"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def child_runs(tree: Path, task_path: Path, answers: Path, base_url: str, workdir: Path, n: int
               ) -> list[dict[str, float]]:
    """A live then a cached library call of the judgebench package in ``tree``, in a fresh child process (each
    call's own wall and CPU, start-up left out)."""
    out = Path(tempfile.mkdtemp(dir=workdir))
    args = json.dumps({"task": str(task_path), "answers": str(answers), "url": base_url, "out": str(out),
                       "cache": str(out / "cache.sqlite"), "n": n})
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # Run from the work folder: `python -c` puts the current folder first on the path, and a checkout's own
    # judgebench/ there would be imported instead of ``tree``'s.
    done = subprocess.run([sys.executable, "-c", CHILD.format(bench=str(Path(__file__).resolve().parent)), args],
                          capture_output=True, text=True, env=env, check=False, cwd=workdir)
    if done.returncode:
        raise RuntimeError(f"the child run in {tree} failed: {done.stderr.strip()[-800:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(found["package"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the child run imported {found['package']}, not the judgebench in {tree}")
    return list(found["runs"])


# -- the whole benchmark -------------------------------------------------------------------------------------------

def _summary(samples: list[dict[str, float]], n: int, base: dict[str, float] | None) -> dict[str, Any]:
    wall = statistics.median(s["wall_s"] for s in samples)
    cpu = statistics.median(s["cpu_s"] for s in samples)
    found: dict[str, Any] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "req_per_s": round(n / wall, 1),
                             "walls": [round(s["wall_s"], 3) for s in samples]}
    if base is not None:
        found["wall_ratio_vs_aiohttp_loop"] = round(wall / base["wall_s"], 2)
        found["cpu_ratio_vs_aiohttp_loop"] = round(cpu / base["cpu_s"], 2)
    return found


def main(n: int = N_REQUESTS, rounds: int = ROUNDS, before: str | None = None, with_profile: bool = False
         ) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="jb-judgment-path-"))
    try:
        task_path, answers = workdir / "task.yaml", workdir / "bench-model.jsonl"
        write_task(task_path, n)
        write_answers(answers, n)
        with running_stub() as base_url:
            requests = rendered_requests(task_path, answers, judge_for(base_url))
            samples: dict[str, list[dict[str, float]]] = {
                name: [] for name in ("aiohttp_loop", "sdk_loop", "judgebench_live", "judgebench_cached",
                                      "judgebench_no_transport")}
            # Warm-up: connections, imports, the template compiled.
            aiohttp_loop(base_url, requests[:300])
            sdk_loop(base_url, requests[:300])
            library_run(task_path, answers, base_url, workdir / "warm", workdir / "warm.sqlite", n, False)
            for round_ in range(rounds):
                samples["aiohttp_loop"].append(_timed(lambda: aiohttp_loop(base_url, requests)))
                samples["sdk_loop"].append(_timed(lambda: sdk_loop(base_url, requests)))
                cache, live, cached = (workdir / f"{name}{round_}" for name in ("cache.sqlite", "live", "cached"))
                samples["judgebench_live"].append(_timed(lambda c=cache, o=live: library_run(  # type: ignore[misc]
                    task_path, answers, base_url, o, c, n, False)))
                samples["judgebench_cached"].append(_timed(lambda c=cache, o=cached: library_run(  # type: ignore[misc]
                    task_path, answers, base_url, o, c, n, True)))
                with serving(_answers_as_the_stub) as in_process_url:
                    samples["judgebench_no_transport"].append(_timed(lambda r=round_, u=in_process_url: library_run(  # type: ignore[misc]
                        task_path, answers, u, workdir / f"no-transport{r}", workdir / f"no-transport{r}.sqlite",
                        n, False)))
            base = {key: statistics.median(s[key] for s in samples["aiohttp_loop"]) for key in ("wall_s", "cpu_s")}
            results: dict[str, Any] = {"n_requests": n, "concurrency": CONCURRENCY, "rounds": rounds,
                                       "cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}
            for name, runs in samples.items():
                results[name] = _summary(runs, n, None if name == "aiohttp_loop" else base)
            cli_out = workdir / "cli"
            cli = {"live": cli_run(task_path, answers, base_url, cli_out),
                   "cached": cli_run(task_path, answers, base_url, cli_out)}
            results["cli_subprocess"] = {mode: _summary([s], n, base) for mode, s in cli.items()}
            results["breakdown_per_judgment"] = breakdown(task_path, answers, base_url, workdir, n)
            results["aiohttp_loop_us_per_request"] = {"wall": round(1e6 * base["wall_s"] / n, 1),
                                                      "cpu": round(1e6 * base["cpu_s"] / n, 1)}
            if before is not None:
                results["before_after"] = before_after(before, task_path, answers, base_url, workdir, n, rounds,
                                                       requests)
            if with_profile:
                results["profile"] = profile(task_path, answers, base_url, workdir, n)
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def before_after(rev: str, task_path: Path, answers: Path, base_url: str, workdir: Path, n: int, rounds: int,
                 requests: list[JudgeRequest]) -> dict[str, Any]:
    """Revision ``rev`` and this tree, live and cached, each in a child process per round, alternating with the
    aiohttp loop (in this process): every ratio against the loop measured in the same rounds."""
    old = export_revision(rev, workdir / "before")
    trees = {"before": old, "after": ROOT}
    samples: dict[str, list[dict[str, float]]] = {"aiohttp_loop": []}
    for _ in range(rounds):
        samples["aiohttp_loop"].append(_timed(lambda: aiohttp_loop(base_url, requests)))
        for label, tree in trees.items():
            live, cached = child_runs(tree, task_path, answers, base_url, workdir, n)
            samples.setdefault(f"{label}_live", []).append(live)
            samples.setdefault(f"{label}_cached", []).append(cached)
    base = {key: statistics.median(s[key] for s in samples["aiohttp_loop"]) for key in ("wall_s", "cpu_s")}
    found: dict[str, Any] = {"revision": rev}
    for name, runs in samples.items():
        found[name] = _summary(runs, n, None if name == "aiohttp_loop" else base)
    for mode in ("live", "cached"):
        found[f"speedup_{mode}"] = round(found[f"before_{mode}"]["wall_s"] / found[f"after_{mode}"]["wall_s"], 2)
    # The stages of each tree's judgment, per judgment, beside what the aiohttp loop spends per request.
    found["aiohttp_loop_us_per_request"] = {"wall": round(1e6 * base["wall_s"] / n, 1),
                                            "cpu": round(1e6 * base["cpu_s"] / n, 1)}
    for label, tree in trees.items():
        found[f"{label}_breakdown_per_judgment"] = child_breakdown(tree, task_path, answers, base_url, workdir, n)
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=N_REQUESTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--before", metavar="REV", help="also measure git revision REV's judgebench, same rounds")
    parser.add_argument("--profile", action="store_true", help="a cProfile of one live and one cached call")
    parser.add_argument("--only-profile", action="store_true", help="only the profile and the breakdown")
    args = parser.parse_args()
    if args.only_profile:
        work = Path(tempfile.mkdtemp(prefix="jb-judgment-profile-"))
        tp, ans = work / "task.yaml", work / "bench-model.jsonl"
        write_task(tp, args.n)
        write_answers(ans, args.n)
        with running_stub() as url:
            library_run(tp, ans, url, work / "warm", work / "warm.sqlite", args.n, False)
            print(json.dumps(breakdown(tp, ans, url, work, args.n), indent=2))
            for mode, text in profile(tp, ans, url, work, args.n).items():
                print(f"== {mode}\n{text}")
        shutil.rmtree(work, ignore_errors=True)
    else:
        found = main(args.n, args.rounds, args.before, args.profile)
        profiles = found.pop("profile", None)
        print(json.dumps(found, indent=2))
        if profiles:
            for mode, text in profiles.items():
                print(f"== {mode}\n{text}")
