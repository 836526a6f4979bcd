"""One evaluation, end to end: task -> candidate answers -> judge requests -> replies -> judgments ->
results/<run-id>/. This module wires the stages together; each stage does its own job: the task kind
(judging.kinds) builds requests and assembles judgments, the runner turns requests into replies, the store
writes, analysis aggregates (the same aggregation `judgebench stats` uses)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import importlib.metadata
import platform
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..analysis.diagnostics import Diagnostics, diagnose
from ..analysis.records import canonical_order
from ..analysis.scores import score_rows
from ..clients.batch import BatchOptions, BatchReport
from ..clients.pricing import BUILTIN_NAME, EndpointUsage, PriceTable, builtin_prices, usage_report
from ..clients.replicas import most_in_flight
from ..errors import BackendError, BatchPending, ConfigError
from ..formats import judgebench as store
from ..formats import read_answers
from ..formats.table import columns_frame, judgment_row, rows_columns
from ..judging.answers import split_reasoning
from ..judging.kinds import JudgingKind, is_empty, kind_of
from ..judging.prompts import template_hash
from ..judging.requests import generation_request, render_all
from ..stats.winrate import DEFAULT_BOOTSTRAP
from ..tasks.fetch import file_sha256
from ..types import (
    CallRecord,
    Candidate,
    ChatReply,
    ChatRequest,
    Endpoint,
    Item,
    Judge,
    JudgeRequest,
    Judgment,
    ScoreRow,
    ServerLaunch,
    Task,
    sha256_text,
)
from .cache import Cache
from .engines import BatchEngine, judge_at_once, make_engine
from .runner import Counters, RetryPolicy, Runner

PACKAGES = ("judgebench", "openai", "anthropic", "llama_cpp_python", "jinja2", "numpy", "scipy",
            "pandas", "vllm", "sglang", "ray", "aiohttp", "orjson")
T = TypeVar("T")
# The fewest items in flight at once, whatever the concurrency.
MIN_WINDOW = 256


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the task. model is None when answers come from a file."""

    model: Endpoint | None
    judges: tuple[Judge, ...]
    out: Path
    cache_path: Path
    limit: int | None = None
    answers_file: Path | None = None
    run_id: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = True
    progress_lines: bool = False  # without a terminal: a progress line every few seconds
    adaptive: bool = True  # each replica's concurrency adapts, starting from the endpoint's
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    batch: BatchOptions | None = None  # run --batch: these endpoints go through provider batch APIs (run.batch)
    prices: PriceTable | None = None  # the price table for the cost report; None: the built-in one
    launched: tuple[ServerLaunch, ...] = ()  # servers judgebench started for the run (judgebench.clients.serve)
    engine: str = "local"  # where judge requests run: "local" (the runner) or "ray" (judgebench.run.engines)
    # A battles task's candidates (run.battles): every model to generate with and every answers file, ``model`` and
    # ``answers_file`` being the first of each. A task that judges one model refuses more than one.
    models: tuple[Endpoint, ...] = ()
    answers_files: tuple[Path, ...] = ()

    def candidate_models(self) -> tuple[Endpoint, ...]:
        return self.models or ((self.model,) if self.model else ())

    def candidate_answers(self) -> tuple[Path, ...]:
        return self.answers_files or ((self.answers_file,) if self.answers_file else ())


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    task: Task
    rows: tuple[ScoreRow, ...]
    counters: Counters
    n_failed: int
    n_judgments: int
    diagnostics: Diagnostics
    # Why judgments failed: (cause, message, count), most frequent first; and endpoints the circuit breaker
    # stopped, with the refusal that stopped them.
    failure_causes: tuple[tuple[str, str, int], ...] = ()
    stopped: tuple[str, ...] = ()
    # run --batch: judgments waiting in provider batches (not failed, not scored), and what batching did.
    n_pending: int = 0
    batch: BatchReport | None = None
    usage: tuple[EndpointUsage, ...] = ()  # tokens and cost per endpoint


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def select_items(task: Task, limit: int | None) -> list[Item]:
    return list(task.items[:limit] if limit else task.items)


def _manifest(task: Task, config: RunConfig, items: list[Item]) -> dict[str, Any]:
    templates = {t for t in (task.judge.prompt, task.judge.reference_prompt) if t}
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "task": {
            "name": task.name, "benchmark": task.benchmark, "kind": task.kind, "path": task.path,
            "sha256": hashlib.sha256(Path(task.path).read_bytes()).hexdigest() if task.path else None,
            "n_items": len(items), "limit": config.limit, "reference_model": task.reference_model,
        },
        "model": config.model.public() if config.model else None,
        "answers_file": str(config.answers_file) if config.answers_file else None,
        "models": [m.public() for m in config.candidate_models()],
        "answers_files": [str(p) for p in config.candidate_answers()],
        "generation": task.generation_params(),
        "generation_by_category": {category: dict(params) for category, params in task.generation_by_category},
        "judges": [{"name": j.name, "constrained": j.constrained, "temperature": j.temperature,
                    "endpoint": j.endpoint.public()} for j in config.judges],
        "judge_spec": asdict(task.judge),
        "prompt_sha256": _prompt_hashes(task, templates),
        "launched": [launch.public() for launch in config.launched],
        "packages": package_versions(),
        "python": platform.python_version(),
    }


def _prompt_hashes(task: Task, templates: set[str]) -> dict[str, str]:
    """sha256 of what the judge prompts are made of: a published protocol's files, FastChat's prompts, or our
    templates."""
    if task.judge.files:
        return {name: file_sha256(Path(path)) for name, path in task.judge.files}
    if task.judge.fastchat_prompts:
        return {p.name: sha256_text(p.system + "\x1f" + p.template) for p in task.judge.fastchat_prompts}
    return {t: template_hash(t, task.prompt_dirs) for t in sorted(templates)}


async def _generate_one(runner: Runner, task: Task, item: Item, endpoint: Endpoint) -> Candidate:
    """Turn k sees the model's own answers to 1..k-1, so an item's turns go in order."""
    answers: list[str] = []
    thoughts: list[str] = []
    calls: list[CallRecord] = []
    error = None
    pending = False
    for turn in range(len(item.turns)):
        request = generation_request(task, item, endpoint, tuple(answers))
        try:
            # An empty answer (nothing but thinking, or nothing at all) is recorded but not cached: the next run
            # asks again.
            reply = await runner.call(request, accept=lambda r: not is_empty(split_reasoning(r.text, r.reasoning)[0]))
        except BackendError as exc:
            error = f"turn {turn + 1}: {exc}"
            pending = isinstance(exc, BatchPending)
            calls.append(CallRecord(request.cache_key(), f"turn{turn + 1}", error=str(exc)))
            runner.tick(len(item.turns) - turn, failed=1)
            break
        answer, thought = split_reasoning(reply.text, reply.reasoning)
        answers.append(answer)  # the next turn, and the judge, see the answer alone
        thoughts.append(thought)
        calls.append(CallRecord(request.cache_key(), f"turn{turn + 1}", reply.prompt_tokens, reply.completion_tokens,
                                round(reply.latency_s, 4), reply.from_cache, reply.finish_reason))
        runner.tick()
    return Candidate(task.benchmark, item.id, endpoint.name, tuple(answers), task.generation_for(item.category),
                     error, tuple(calls),
                     tuple(thoughts) if any(thoughts) else (), pending)


async def judge_one(runner: Runner, kind: JudgingKind, task: Task, item: Item, candidate: Candidate,
                    judge_: Judge, later: list[tuple[Candidate, list[JudgeRequest]]] | None = None,
                    opponent: Candidate | None = None) -> tuple[list[Judgment], int]:
    """One judge's judgments of one candidate answer (against ``opponent``'s, in a battle), and how many requests
    were sent for them. With ``later`` (an engine that takes every judge request of a run at once), the requests
    are put there instead of sent."""
    if not candidate.ok or (opponent is not None and not opponent.ok):
        return kind.unanswered(task, item, candidate, judge_, opponent), 0
    # Empty answers are never shown to the judge; the kind records what they count for.
    found = kind.empty(task, item, candidate, judge_, opponent)
    requests = kind.requests(task, candidate, item, judge_, opponent)
    if not requests:
        return found, 0
    if later is not None:
        later.append((candidate, requests))
        return found, len(requests)
    by_chat = {id(r.chat): r for r in requests}

    def accept(chat: ChatRequest, reply: ChatReply) -> bool:
        return kind.parse(task, by_chat[id(chat)], reply).ok

    outcomes = await runner.outcomes([r.chat for r in requests], accept)
    return found + kind.assemble(task, candidate, requests, outcomes, opponent), len(requests)


class Sink:
    """Where finished work goes as it finishes: the run's JSONL files, and a compact row per judgment for the
    statistics at the end (the judgments themselves, with their raw text, are not kept in memory)."""

    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.answers = store.JsonlWriter(run_dir / store.ANSWERS)
        self.judgments = store.JsonlWriter(run_dir / store.JUDGMENTS)
        self.run_id = run_id
        self.rows: list[tuple[object, ...]] = []
        self.written = 0  # answers and judgments written: a run directory without any holds no result
        self.causes: Counter[tuple[str, str]] = Counter()
        self.failures: Counter[str] = Counter()

    def candidate(self, candidate: Candidate) -> None:
        self.answers.append(store.candidate_record(candidate))
        self.written += 1

    def judgment(self, judgment: Judgment) -> None:
        self.judgments.append(store.judgment_record(judgment))
        self.written += 1
        self.rows.append(judgment_row(judgment))
        # A judgment waiting in a provider batch (run --batch) has not failed: it is counted apart.
        if judgment.error and judgment.failure != "pending":
            self.causes[(judgment.failure or "parse", judgment.error)] += 1
        if judgment.failure:
            self.failures[judgment.failure] += 1

    def close(self) -> None:
        self.answers.close()
        self.judgments.close()


def window_size(config: RunConfig) -> int:
    """How many items are in flight at once: enough to keep every replica of every endpoint at the most
    concurrency the adaptive limit may reach, bounded so memory does not grow with the number of items."""
    endpoints = [j.endpoint for j in config.judges] + list(config.candidate_models())
    room = sum(most_in_flight(e) * len(e.replica_urls()) for e in endpoints)
    return max(MIN_WINDOW, 2 * room)


async def _pipeline(runner: Runner, task: Task, items: list[Item], config: RunConfig,
                    supplied: dict[str, Candidate] | None, sink: Sink, engine: BatchEngine | None = None) -> None:
    """Every item through generation and every judge, a bounded window of items at a time: an item's judge
    requests are sent as soon as its answer exists, and its records written as soon as they are done, so the
    candidate server and the judges work at the same time and memory does not depend on the number of items."""
    kind = kind_of(task.kind)
    window = asyncio.Semaphore(window_size(config))
    # --engine ray: judge requests wait here for one dataset at the end (held in memory, unlike the local runner's).
    later: list[tuple[Candidate, list[JudgeRequest]]] | None = [] if engine is not None else None

    async def one(item: Item) -> None:
        try:
            if supplied is not None:
                candidate = supplied[item.id]
            else:
                assert config.model is not None
                candidate = await _generate_one(runner, task, item, config.model)
            sink.candidate(candidate)
            if len(config.judges) == 1:  # no task to create for the common case
                judged = [await judge_one(runner, kind, task, item, candidate, config.judges[0], later)]
            else:
                judged = await asyncio.gather(*(judge_one(runner, kind, task, item, candidate, j, later)
                                                for j in config.judges))
            for judgments, sent in judged:
                for judgment in judgments:
                    sink.judgment(judgment)
                # Requests a failed or empty answer did not need count as done, so the total stays true.
                if sent < kind.requests_per_item(item):
                    runner.tick(kind.requests_per_item(item) - sent)
        finally:
            window.release()

    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    def finished(done: asyncio.Task[None]) -> None:
        tasks.discard(done)
        error = None if done.cancelled() else done.exception()
        if error is not None:
            failures.append(error)

    try:
        for item in items:
            await window.acquire()
            if failures:
                break
            started = asyncio.create_task(one(item))
            tasks.add(started)
            started.add_done_callback(finished)
        while tasks and not failures:
            await asyncio.wait(set(tasks), return_when=asyncio.FIRST_EXCEPTION)
    finally:
        # A failure (a template error, an unwritable cache) or an interruption stops the items still in flight.
        for pending in tasks:
            pending.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failures:
        raise failures[0]
    if engine is not None and later:
        runner.flush()  # the engine reads the cache itself

        def record(judgments: list[Judgment]) -> None:
            for judgment in judgments:
                sink.judgment(judgment)

        await judge_at_once(engine, kind, task, later, record, runner.usage)


def count_requests(task: Task, items: list[Item], config: RunConfig, answers_supplied: bool) -> int:
    kind = kind_of(task.kind)
    generation = 0 if answers_supplied else sum(len(item.turns) for item in items)
    return generation + len(config.judges) * sum(kind.requests_per_item(item) for item in items)


@dataclass(frozen=True)
class Work:
    """What a run does between writing its manifest and aggregating: ``run`` sends every request and hands every
    answer and judgment to the sink. label: names the run directory; total: requests, for progress; summary:
    what the run adds to summary.json (a battles run: its schedule)."""

    label: str
    total: int
    run: Callable[[Runner, Sink], Awaitable[None]]
    summary: Callable[[], dict[str, Any]] = dict


def _one_model(task: Task, config: RunConfig, items: list[Item], engine: BatchEngine | None) -> Work:
    """The work of a task that judges one candidate model (single grading, comparison with a reference)."""
    if len(config.candidate_models()) > 1 or len(config.candidate_answers()) > 1:
        raise ConfigError(f"task {task.name!r} (kind {task.kind}) judges one model at a time: give one --model or "
                          "one --answers (several are for a battles task), or run once per model")
    supplied = read_answers(config.answers_file, task, items) if config.answers_file else None
    # Every prompt's form renders before anything is sent or written: a template error costs no request.
    render_all(task, items, config.judges, supplied)
    label = config.model.name if config.model else (supplied[0].model if supplied else "answers")

    async def run(runner: Runner, sink: Sink) -> None:
        await _pipeline(runner, task, items, config,
                        {c.item_id: c for c in supplied} if supplied is not None else None, sink, engine)

    return Work(label, count_requests(task, items, config, supplied is not None), run)


def _remove_empty_run_dir(run_dir: Path) -> None:
    """Remove a run directory this run created and wrote no result into: its manifest and empty record files. A
    directory holding anything else is left as it is."""
    with contextlib.suppress(OSError):
        found = list(run_dir.iterdir())
        if any(p.name not in (store.CONFIG, store.ANSWERS, store.JUDGMENTS) or
               (p.name != store.CONFIG and p.stat().st_size) for p in found):
            return
        for path in found:
            path.unlink()
        run_dir.rmdir()


async def _evaluate(task: Task, config: RunConfig, runner: Runner, engine: BatchEngine | None = None) -> RunResult:
    items = select_items(task, config.limit)
    if kind_of(task.kind).compares_models:
        from .battles import battles_work

        work = battles_work(task, config, items, engine)
    else:
        work = _one_model(task, config, items, engine)
    run_dir = store.start_run_dir(config.out, f"{task.name}-{work.label}", config.run_id,
                                  _manifest(task, config, items))
    sink = Sink(run_dir, run_dir.name)
    try:
        with runner.progress_bar(work.total, task.name):
            await work.run(runner, sink)
        runner.flush()
    except BaseException:
        sink.close()
        # Interrupted (Ctrl-C, SIGTERM) or failed before any answer or judgment was written: no directory that
        # holds no result is left behind. One that holds any is kept: the next run resumes from the cache.
        if not sink.written:
            _remove_empty_run_dir(run_dir)
        raise
    finally:
        sink.close()
    # run --batch: what this run queued goes out now, one batch per endpoint.
    batch = await runner.batch.submit(run_dir) if runner.batch is not None else None
    # The same aggregation as `judgebench stats` on this run directory: one path, the same numbers.
    frame = canonical_order(columns_frame(rows_columns(sink.rows), run_dir.name))
    rows = tuple(score_rows(frame, config.n_bootstrap))
    diagnostics = diagnose(frame)  # constants.DIAGNOSTIC_BOOTSTRAP, as every other surface
    n_judgments = len(sink.rows)
    n_failed = sum(sink.causes.values())
    n_pending = sink.failures.get("pending", 0)
    failure_causes = tuple((cause, message or "", n) for (cause, message), n in sink.causes.most_common())
    stopped = tuple(str(refusal) for refusal in runner.stopped.values())
    prices = config.prices or builtin_prices()
    endpoints = [e for e in (config.model, *(j.endpoint for j in config.judges)) if e]
    batched = [e.name for e in endpoints if runner.batch is not None and runner.batch.handles(e)]
    usage = usage_report(runner.usage, endpoints, prices, batch=batched)
    store.write_json_atomic(run_dir / store.SUMMARY, {
        "benchmark": task.benchmark, "task": task.name, "kind": task.kind,
        "rows": [asdict(row) for row in rows],
        "n_judgments": n_judgments, "n_failed": n_failed,
        "failures": {cause: sink.failures.get(cause, 0)
                     for cause in ("parse", "truncated", "request", "filtered", "no_answer", "empty", "pending")},
        "failure_causes": [list(c) for c in failure_causes], "stopped_endpoints": list(stopped),
        "n_pending": n_pending, "batch": batch.to_json() if batch else None,
        "requests": asdict(runner.counters),
        "usage": {u.endpoint: u.to_json() for u in usage},
        "prices": {"sha256": prices.sha256, "tables": [BUILTIN_NAME, *prices.files]},
        "diagnostics": diagnostics.to_json(),
        **work.summary(),
    })
    return RunResult(run_dir, task, rows, runner.counters, n_failed, n_judgments, diagnostics, failure_causes,
                     stopped, n_pending, batch, usage)


async def aevaluate(task: Task, config: RunConfig) -> RunResult:
    """Run one task: generate (or import) answers, judge them, write results/<run-id>/. For code that already
    runs an event loop (a notebook, a server); ``evaluate`` is the same for code that does not."""
    cache = Cache(config.cache_path)
    runner = Runner(cache, retry=config.retry, progress=config.progress, progress_lines=config.progress_lines,
                    adaptive=config.adaptive)
    # The engine counts into the runner's counters: the summary's request counts cover both.
    engine = make_engine(config.engine, cache, config.retry, runner.counters, progress=config.progress)
    try:
        if config.batch is not None:
            from ..clients.batch.queue import BatchQueue

            runner.batch = BatchQueue(cache, config.batch)
            await runner.batch.prepare([e for e in (config.model, *(j.endpoint for j in config.judges)) if e])
        return await _evaluate(task, config, runner, engine)
    finally:
        if runner.batch is not None:
            await runner.batch.aclose()
        if engine is not None:
            engine.close()
        await runner.aclose()
        cache.close()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, also where an event loop is already running (a
    Jupyter cell): there it runs on a fresh loop in a worker thread, since a running loop cannot be re-entered."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgebench") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def evaluate(task: Task, config: RunConfig) -> RunResult:
    """Run one task: generate (or import) answers, judge them, write results/<run-id>/."""
    return run_sync(aevaluate(task, config))
