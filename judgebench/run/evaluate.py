"""One evaluation, end to end: task -> candidate answers -> judge requests -> replies -> judgments ->
results/<run-id>/. This module wires the stages together; each stage does its own job: the task kind
(judging.kinds) builds requests and assembles judgments, the runner turns requests into replies, the store
writes, analysis aggregates (the same aggregation `judgebench stats` uses)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import importlib.metadata
import platform
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..analysis.diagnostics import Diagnostics, diagnose
from ..analysis.records import judgments_frame
from ..analysis.scores import score_rows
from ..errors import BackendError
from ..formats import judgebench as store
from ..formats import read_answers
from ..judging.answers import split_reasoning
from ..judging.kinds import JudgingKind, is_empty, kind_of
from ..judging.prompts import template_hash
from ..judging.requests import generation_request, render_all
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
    Task,
    sha256_text,
)
from .cache import Cache
from .engines import BatchEngine, judge_at_once, make_engine
from .runner import Counters, RetryPolicy, Runner

PACKAGES = ("judgebench", "openai", "anthropic", "llama_cpp_python", "jinja2", "tenacity", "numpy", "scipy",
            "pandas", "vllm", "ray")
T = TypeVar("T")


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
    n_bootstrap: int = 1000
    engine: str = "local"  # where judge requests run: "local" (the runner) or "ray" (judgebench.run.engines)


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
        "generation": task.generation_params(),
        "judges": [{"name": j.name, "constrained": j.constrained, "temperature": j.temperature,
                    "endpoint": j.endpoint.public()} for j in config.judges],
        "judge_spec": asdict(task.judge),
        "prompt_sha256": {t: template_hash(t, task.prompt_dirs) for t in sorted(templates)}
        if not task.judge.fastchat_prompts else {p.name: sha256_text(p.system + "\x1f" + p.template)
                                                  for p in task.judge.fastchat_prompts},
        "packages": package_versions(),
        "python": platform.python_version(),
    }


async def _generate_one(runner: Runner, task: Task, item: Item, endpoint: Endpoint) -> Candidate:
    """Turn k sees the model's own answers to 1..k-1, so an item's turns go in order."""
    answers: list[str] = []
    thoughts: list[str] = []
    calls: list[CallRecord] = []
    error = None
    for turn in range(len(item.turns)):
        request = generation_request(task, item, endpoint, tuple(answers))
        try:
            # An empty answer (nothing but thinking, or nothing at all) is recorded but not cached: the next run
            # asks again.
            reply = await runner.call(request, accept=lambda r: not is_empty(split_reasoning(r.text, r.reasoning)[0]))
        except BackendError as exc:
            error = f"turn {turn + 1}: {exc}"
            calls.append(CallRecord(request.cache_key(), f"turn{turn + 1}", error=str(exc)))
            runner.tick(len(item.turns) - turn, failed=1)
            break
        answer, thought = split_reasoning(reply.text, reply.reasoning)
        answers.append(answer)  # the next turn, and the judge, see the answer alone
        thoughts.append(thought)
        calls.append(CallRecord(request.cache_key(), f"turn{turn + 1}", reply.prompt_tokens, reply.completion_tokens,
                                round(reply.latency_s, 4), reply.from_cache, reply.finish_reason))
        runner.tick()
    return Candidate(task.benchmark, item.id, endpoint.name, tuple(answers), task.generation, error, tuple(calls),
                     tuple(thoughts) if any(thoughts) else ())


async def generate(runner: Runner, task: Task, items: list[Item], endpoint: Endpoint,
                   on_candidate: Callable[[Candidate], None] = lambda _: None) -> list[Candidate]:
    """Every item's answer (items concurrently), in the items' order."""
    async def one(item: Item) -> Candidate:
        candidate = await _generate_one(runner, task, item, endpoint)
        on_candidate(candidate)
        return candidate

    with runner.progress_bar(sum(len(i.turns) for i in items), f"answers {endpoint.name}"):
        return list(await asyncio.gather(*(one(i) for i in items)))


async def _judge_one(runner: Runner, kind: JudgingKind, task: Task, candidate: Candidate,
                     requests: list[JudgeRequest]) -> list[Judgment]:
    by_chat = {id(r.chat): r for r in requests}

    def accept(chat: ChatRequest, reply: ChatReply) -> bool:
        return kind.parse(task, by_chat[id(chat)], reply).ok

    outcomes = await runner.outcomes([r.chat for r in requests], accept)
    return kind.assemble(task, candidate, requests, outcomes)


async def judge(runner: Runner, task: Task, items: list[Item], candidates: list[Candidate], judges: tuple[Judge, ...],
                on_judgment: Callable[[Judgment], None] = lambda _: None,
                engine: BatchEngine | None = None) -> list[Judgment]:
    """Every candidate answer judged by every judge, as the task's kind asks (pairwise: both orders)."""
    kind = kind_of(task.kind)
    by_id = {item.id: item for item in items}
    judgments: list[Judgment] = []

    def record(found: list[Judgment]) -> None:
        for judgment in found:
            judgments.append(judgment)
            on_judgment(judgment)

    groups: list[tuple[Candidate, list[JudgeRequest]]] = []
    for judge_ in judges:
        for candidate in candidates:
            item = by_id[candidate.item_id]
            if not candidate.ok:
                record(kind.unanswered(task, item, candidate, judge_))
                continue
            # Empty answers are never shown to the judge; the kind records what they count for.
            record(kind.empty(task, item, candidate, judge_))
            requests = kind.requests(task, candidate, item, judge_)
            if requests:
                groups.append((candidate, requests))

    if engine is not None:  # every judge request of the run in one call (one Ray dataset)
        await judge_at_once(engine, kind, task, groups, record)
        return judgments

    async def one(candidate: Candidate, requests: list[JudgeRequest]) -> None:
        record(await _judge_one(runner, kind, task, candidate, requests))

    with runner.progress_bar(sum(len(r) for _, r in groups), f"judging {task.name}"):
        await asyncio.gather(*(one(c, r) for c, r in groups))
    return judgments


async def _evaluate(task: Task, config: RunConfig, runner: Runner, engine: BatchEngine | None = None) -> RunResult:
    items = select_items(task, config.limit)
    supplied = read_answers(config.answers_file, task, items) if config.answers_file else None
    # Every prompt renders before anything is sent or written: a template error costs no request.
    render_all(task, items, config.judges, supplied)
    model_label = config.model.name if config.model else (supplied[0].model if supplied else "answers")
    run_dir = store.new_run_dir(config.out, f"{task.name}-{model_label}", config.run_id)
    store.write_json_atomic(run_dir / store.CONFIG, _manifest(task, config, items))
    answers_log = store.JsonlWriter(run_dir / store.ANSWERS)
    judgments_log = store.JsonlWriter(run_dir / store.JUDGMENTS)
    try:
        if supplied is not None:
            candidates = supplied
            for candidate in candidates:
                answers_log.append(store.candidate_record(candidate))
        else:
            assert config.model is not None
            candidates = await generate(runner, task, items, config.model,
                                        lambda c: answers_log.append(store.candidate_record(c)))
        judgments = await judge(runner, task, items, candidates, config.judges,
                                lambda j: judgments_log.append(store.judgment_record(j)), engine)
    finally:
        answers_log.close()
        judgments_log.close()
    # The same aggregation as `judgebench stats` on this run directory: one path, the same numbers.
    frame = judgments_frame(judgments, run_dir.name)
    rows = tuple(score_rows(frame, config.n_bootstrap))
    diagnostics = diagnose(frame, n_bootstrap=200)
    n_failed = sum(1 for j in judgments if j.error)
    causes = Counter((j.failure or "parse", j.error) for j in judgments if j.error)
    failure_causes = tuple((cause, message or "", n) for (cause, message), n in causes.most_common())
    stopped = tuple(str(refusal) for refusal in runner.stopped.values())
    store.write_json_atomic(run_dir / store.SUMMARY, {
        "benchmark": task.benchmark, "task": task.name, "kind": task.kind,
        "rows": [asdict(row) for row in rows],
        "n_judgments": len(judgments), "n_failed": n_failed,
        "failures": {cause: sum(1 for j in judgments if j.failure == cause)
                     for cause in ("parse", "truncated", "request", "no_answer", "empty")},
        "failure_causes": [list(c) for c in failure_causes], "stopped_endpoints": list(stopped),
        "requests": asdict(runner.counters),
        "diagnostics": diagnostics.to_json(),
    })
    return RunResult(run_dir, task, rows, runner.counters, n_failed, len(judgments), diagnostics, failure_causes,
                     stopped)


async def aevaluate(task: Task, config: RunConfig) -> RunResult:
    """Run one task: generate (or import) answers, judge them, write results/<run-id>/. For code that already
    runs an event loop (a notebook, a server); ``evaluate`` is the same for code that does not."""
    cache = Cache(config.cache_path)
    runner = Runner(cache, retry=config.retry, progress=config.progress, progress_lines=config.progress_lines)
    # The engine counts into the runner's counters: the summary's request counts cover both.
    engine = make_engine(config.engine, cache, config.retry, runner.counters, progress=config.progress)
    try:
        return await _evaluate(task, config, runner, engine)
    finally:
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
