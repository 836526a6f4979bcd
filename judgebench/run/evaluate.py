"""One evaluation, end to end: task -> candidate answers -> judge requests -> replies -> judgments ->
results/<run-id>/. This module wires the stages together; each stage does its own job: the schedule (a one-model
task's, run.pipeline; a battles task's, run.battles) says what is compared, the task kind (judging.kinds) builds
requests and assembles judgments, the executor (run.executors) turns requests into replies, the store writes,
analysis aggregates (the same aggregation `judgebench stats` uses)."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.metadata
import platform
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..aio import run_sync
from ..analysis.diagnostics import Diagnostics, diagnose
from ..analysis.records import canonical_frame
from ..analysis.run_summary import summarized_by_columns, table_summary
from ..analysis.scores import score_rows
from ..clients.batch import BatchReport
from ..clients.pricing import BUILTIN_NAME, EndpointUsage, builtin_prices, usage_report
from ..errors import ConfigError
from ..formats import judgebench as store
from ..formats import read_answers
from ..formats.item_lists import listed_items
from ..formats.table import ColumnStore, judgment_row
from ..judging import render_store
from ..judging.kinds import kind_of
from ..judging.prompts import template_hash
from ..judging.requests import render_all
from ..tasks.fetch import file_sha256
from ..types import Candidate, Item, Judgment, ScoreRow, Task, sha256_text
from .cache import Cache
from .config import RunConfig, window_size
from .executors import Executor, ExecutorOptions, open_executor
from .pipeline import Pipeline, Work, asks_of, one_model_work
from .runner import Counters

PACKAGES = ("judgebench", "openai", "anthropic", "llama_cpp_python", "jinja2", "numpy", "scipy",
            "pandas", "vllm", "sglang", "ray", "aiohttp", "orjson")
T = TypeVar("T")
# Records handed to the operating system at once (formats.judgebench.JsonlWriter).
RECORD_BATCH = 256


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


def select_items(task: Task, limit: int | None, ids: frozenset[str] | None = None) -> list[Item]:
    """The task's items to run: those of ``ids`` (formats.item_lists.listed_items), then the first ``limit``."""
    items = listed_items(task, ids)
    return items[:limit] if limit else items


def _manifest(task: Task, config: RunConfig, items: list[Item]) -> dict[str, Any]:
    templates = {t for t in (task.judge.prompt, task.judge.reference_prompt) if t}
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "task": {
            "name": task.name, "benchmark": task.benchmark, "kind": task.kind, "path": task.path,
            "sha256": hashlib.sha256(Path(task.path).read_bytes()).hexdigest() if task.path else None,
            "n_items": len(items), "limit": config.limit,
            "item_ids": sorted(config.item_ids) if config.item_ids is not None else None,
            "reference_model": task.reference_model,
        },
        "model": config.model.public() if config.model else None,
        "answers_file": str(config.answers_file) if config.answers_file else None,
        "models": [m.public() for m in config.candidate_models()],
        "answers_files": [str(p) for p in config.candidate_answers()],
        "generation": task.generation_params(),
        "generation_by_category": {category: dict(params) for category, params in task.generation_by_category},
        "judges": [{"name": j.name, "constrained": j.constrained, "temperature": j.temperature,
                    **({"repeats": j.repeats} if j.repeats > 1 else {}), "endpoint": j.endpoint.public()}
                   for j in config.judges],
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


class RunFiles:
    """A run's sink (run.pipeline.Sink): the run's JSONL files, and a compact row per judgment for the
    statistics at the end (the judgments themselves, with their raw text, are not kept in memory)."""

    def __init__(self, run_dir: Path, run_id: str) -> None:
        # Records are written in groups (at most a second or RECORD_BATCH records late); close writes the rest.
        self.answers = store.JsonlWriter(run_dir / store.ANSWERS, batch=RECORD_BATCH)
        self.judgments = store.JsonlWriter(run_dir / store.JUDGMENTS, batch=RECORD_BATCH)
        self.run_id = run_id
        self.rows = ColumnStore()  # column by column: memory does not hold every judgment's objects
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
        failure = judgment.failure
        if failure and failure.message and failure.cause != "pending":
            self.causes[(failure.cause, failure.message)] += 1
        if failure:
            self.failures[failure.cause] += 1

    def close(self) -> None:
        self.answers.close()
        self.judgments.close()


def work_for(task: Task, config: RunConfig, items: list[Item], executor: Executor) -> Work:
    """What the run of ``task`` does: the schedule of a one-model task or of a battles task. Checks and renders
    every prompt's form first: a configuration or template error costs no request and writes nothing."""
    if kind_of(task.kind).compares_models:
        from .battles import battles_work  # (here: a one-model task's run does not import the battles' schedules)

        return battles_work(task, config, items, executor)
    if len(config.candidate_models()) > 1 or len(config.candidate_answers()) > 1:
        raise ConfigError(f"task {task.name!r} (kind {task.kind}) judges one model at a time: give one --model or "
                          "one --answers (several are for a battles task), or run once per model")
    supplied = read_answers(config.answers_file, task, items) if config.answers_file else None
    render_all(task, items, config.judges, supplied)
    return one_model_work(task, items, config.model, supplied, asks_of(config.judges))


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


async def _run_work(task: Task, config: RunConfig, executor: Executor, work: Work, items: list[Item]
                    ) -> tuple[Path, RunFiles]:
    """The work, from its manifest to its last record, into a new run directory."""
    run_dir = store.start_run_dir(config.out, f"{task.name}-{work.label}", config.run_id,
                                  _manifest(task, config, items))
    sink = RunFiles(run_dir, run_dir.name)
    try:
        with executor.progress_bar(work.total, task.name):
            await work.run(Pipeline(task, config.judges, executor, sink, window_size(config)))
        executor.flush()
    except BaseException:
        sink.close()
        # Interrupted (Ctrl-C, SIGTERM) or failed before any answer or judgment was written: no directory that
        # holds no result is left behind. One that holds any is kept: the next run resumes from the cache.
        if not sink.written:
            _remove_empty_run_dir(run_dir)
        raise
    finally:
        sink.close()
    return run_dir, sink


def _summarize(task: Task, config: RunConfig, executor: Executor, work: Work, run_dir: Path, sink: RunFiles,
               batch: BatchReport | None) -> RunResult:
    """The same aggregation as `judgebench stats` on this run directory (one path, the same numbers), written to
    summary.json."""
    n_judgments = len(sink.rows)
    if summarized_by_columns(sink.rows):  # one judge of a graded kind: from the columns, no frame
        rows, diagnostics = table_summary(sink.rows, config.n_bootstrap)
    else:
        frame = canonical_frame(sink.rows, run_dir.name)
        sink.rows = ColumnStore()  # the frame holds the judgments now: their columns are let go before the statistics
        rows = tuple(score_rows(frame, config.n_bootstrap))
        diagnostics = diagnose(frame)  # constants.DIAGNOSTIC_BOOTSTRAP, as every other surface
    n_failed = sum(sink.causes.values())
    failure_causes = tuple((cause, message or "", n) for (cause, message), n in sink.causes.most_common())
    stopped = tuple(str(refusal) for refusal in executor.stopped.values())
    prices = config.prices or builtin_prices()
    endpoints = [e for e in (config.model, *(j.endpoint for j in config.judges)) if e]
    usage = usage_report(executor.usage, endpoints, prices, batch=[e.name for e in endpoints if executor.batched(e)])
    store.write_json_atomic(run_dir / store.SUMMARY, {
        "benchmark": task.benchmark, "task": task.name, "kind": task.kind,
        "rows": [asdict(row) for row in rows],
        "n_judgments": n_judgments, "n_failed": n_failed,
        "failures": {cause: sink.failures.get(cause, 0)
                     for cause in ("parse", "truncated", "request", "filtered", "no_answer", "empty", "pending",
                                   "split")},
        "failure_causes": [list(c) for c in failure_causes], "stopped_endpoints": list(stopped),
        "n_pending": sink.failures.get("pending", 0), "batch": batch.to_json() if batch else None,
        "requests": asdict(executor.counters),
        "usage": {u.endpoint: u.to_json() for u in usage},
        "prices": {"sha256": prices.sha256, "tables": [BUILTIN_NAME, *prices.files]},
        "diagnostics": diagnostics.to_json(),
        **work.summary(),
    })
    return RunResult(run_dir, task, rows, executor.counters, n_failed, n_judgments, diagnostics, failure_causes,
                     stopped, sink.failures.get("pending", 0), batch, usage)


async def _evaluate(task: Task, config: RunConfig, executor: Executor) -> RunResult:
    items = select_items(task, config.limit, config.item_ids)
    work = work_for(task, config, items, executor)
    run_dir, sink = await _run_work(task, config, executor, work, items)
    # run --batch: what this run queued goes out now, one batch per endpoint.
    batch = await executor.finish(run_dir)
    return _summarize(task, config, executor, work, run_dir, sink, batch)


def executor_options(config: RunConfig) -> ExecutorOptions:
    return ExecutorOptions(retry=config.retry, progress=config.progress, progress_lines=config.progress_lines,
                           adaptive=config.adaptive, batch=config.batch,
                           endpoints=tuple(e for e in (config.model, *(j.endpoint for j in config.judges)) if e))


_RUNS_FREEZING = 0  # runs in this process inside _older_objects_frozen (a notebook may run several at once)


@contextlib.contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """The objects alive before the run (the modules imported: pandas, numpy, scipy, jinja2, aiohttp ...) kept out
    of the garbage collector's full collections while it runs, and handed back after: each full collection walks
    every one of them, and a run of 8,000 judgments makes several (measured: a fifth of its CPU). Objects the run
    makes are collected as always. A program that froze objects itself (before forking workers, say) keeps its
    freeze: a run then freezes nothing; runs at once in one process unfreeze when the last of them ends."""
    global _RUNS_FREEZING
    if _RUNS_FREEZING == 0 and gc.get_freeze_count() > 0:
        yield  # the caller's own freeze: not ours to undo
        return
    if _RUNS_FREEZING == 0:
        gc.freeze()
    _RUNS_FREEZING += 1
    try:
        yield
    finally:
        _RUNS_FREEZING -= 1
        if _RUNS_FREEZING == 0:
            gc.unfreeze()


async def aevaluate(task: Task, config: RunConfig) -> RunResult:
    """Run one task: generate (or import) answers, judge them, write results/<run-id>/. For code that already
    runs an event loop (a notebook, a server); ``evaluate`` is the same for code that does not."""
    with _older_objects_frozen(), render_store.kept_beside(config.cache_path):
        cache = Cache(config.cache_path)
        try:
            executor = await open_executor(config.engine, cache, executor_options(config))
            try:
                return await _evaluate(task, config, executor)
            finally:
                await executor.aclose()
        finally:
            cache.close()


def evaluate(task: Task, config: RunConfig) -> RunResult:
    """Run one task: generate (or import) answers, judge them, write results/<run-id>/."""
    return run_sync(aevaluate(task, config))


__all__ = ["RunConfig", "RunResult", "aevaluate", "evaluate", "run_sync", "select_items", "work_for"]
