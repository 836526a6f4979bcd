"""The command line. Thin: parse options, call the library, print. Every library error is a JudgebenchError,
caught once (``Main.invoke``) and printed as one line."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Collection
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# Only what every command needs is imported here: `judgebench --help` and `judgebench tasks` must not load
# pandas, scipy, matplotlib or the HTTP clients (tests/test_cli_startup.py checks it), so each command imports
# the library it calls.
from .arena.cli import arena as arena_group
from .constants import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_MAX_ELAPSED_S,
    DEFAULT_TIMEOUT_S,
    DIAGNOSTIC_BOOTSTRAP,
    FORMATS,
    RUBRIC_TOP_DISAGREEMENTS,
)
from .credentials import redact
from .errors import ConfigError, JudgebenchError

if TYPE_CHECKING:
    from .clients.batch import BatchOptions
    from .run.evaluate import RunConfig, RunResult
    from .run.plan import RunPlan
    from .types import Endpoint, Task, Transport

DEFAULT_TASKS = ("sample-mt", "sample-pairwise")
# The embedded default is a panel of two configurations of the local model, so the diagnostics have two judges
# to compare: greedy and sampled (temperature 0.7) JSON-schema constrained verdicts. (Free-text verdicts from a
# 135M model almost never contain a parseable [[8]]: see `--judge local#text`.)
DEFAULT_JUDGES = ("local#json", "local#json,t=0.7")
EXIT_FAILED_JUDGMENTS = 3
EXIT_PENDING = 75  # run --batch: nothing failed, some judgments wait in provider batches; run again later
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
# What to do after a Ctrl-C, by command: every reply a run finished is in the cache, and its records on disk.
RESUME_HINT = {"run": "run the same command again to resume (if it named a --run-id, name a new one: a run directory "
                      "is never overwritten); everything finished is cached and is not asked again"}


class Main(click.Group):
    """Every library error is one line on stderr, with any secret value redacted. Anything else is a bug: one
    line too, with the traceback only when JUDGEBENCH_DEBUG is set (redacted as well)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JudgebenchError as exc:
            raise click.ClickException(redact(str(exc))) from None
        except KeyboardInterrupt:
            # Ctrl-C: the conventional status (128 + SIGINT), and how to go on, not click's "Aborted!" and 1.
            hint = RESUME_HINT.get(ctx.invoked_subcommand or "")
            click.echo("\ninterrupted" + (f": {hint}" if hint else ""), err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:
            from .errors import environment_fault

            fault = environment_fault(exc)  # the machine's (a full disk, a read-only folder): not a bug
            if fault is not None:
                raise click.ClickException(redact(str(fault))) from None
            if os.environ.get("JUDGEBENCH_DEBUG"):
                click.echo(redact(traceback.format_exc()), err=True)
            raise click.ClickException(redact(f"internal error: {type(exc).__name__}: {exc} (a bug: please report "
                                              "it; set JUDGEBENCH_DEBUG=1 for the traceback)")) from None


def _print_result(result: RunResult) -> None:
    from .analysis.diagnostics import format_report
    from .publish.tables import format_scores
    from .run.runner import REFUSALS_TO_STOP

    click.echo(f"\n== {result.task.name} ({result.task.kind}, benchmark {result.task.benchmark}) -> {result.run_dir}")
    click.echo(format_scores(result.rows))
    c = result.counters
    click.echo(f"requests made: {c.requests} (retries {c.retries}), served from cache: {c.cache_hits}, "
               f"tokens: {c.prompt_tokens} prompt / {c.completion_tokens} completion")
    if result.usage:
        from .publish.costs import format_usage

        click.echo(format_usage(result.usage))
    if result.n_failed:
        from .types import FINAL_FAILURES

        final = sum(n for cause, _, n in result.failure_causes if cause in FINAL_FAILURES)
        retry = ("a rerun cannot change them (see their causes)" if final == result.n_failed else
                 "run the same command again to retry only those" + (f" ({final} of them are final: a rerun gives "
                                                                      "the same)" if final else ""))
        click.echo(f"{result.n_failed} of {result.n_judgments} judgments failed (recorded, not scored); {retry}. "
                   "Causes:", err=True)
        for cause, message, n in result.failure_causes[:8]:
            click.echo(f"  {n} x {cause}: {redact(message)}", err=True)
        if len(result.failure_causes) > 8:
            click.echo(f"  ... and {len(result.failure_causes) - 8} other causes (judgments.jsonl has each)", err=True)
    for line in result.batch.lines() if result.batch else ():
        click.echo(line, err=True)
    if result.n_pending:
        click.echo(f"{result.n_pending} of {result.n_judgments} judgments wait for batches (recorded as pending, "
                   "not scored)", err=True)
    for refusal in result.stopped:
        click.echo(f"stopped: {redact(refusal)}; it refused {REFUSALS_TO_STOP} requests in a row, so nothing more "
                   "was sent to it and its judgments are recorded as failed", err=True)
    click.echo("\n-- judge diagnostics --")
    click.echo(format_report(result.diagnostics))


def _print_plan(task: Task, config: RunConfig) -> RunPlan:
    from .publish.costs import format_plan
    from .run.plan import plan_run

    assert config.prices is not None
    plan = plan_run(task, config, config.prices)
    click.echo(f"\n== {task.name}\n{format_plan(plan)}")
    return plan


def _print_plan_total(plans: list[RunPlan]) -> None:
    from .publish.costs import format_plan_rows
    from .run.plan import total

    if len(plans) > 1:
        click.echo(f"\n== all {len(plans)} tasks\n{format_plan_rows(total(plans))}")


def _set_data_dirs(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    from .tasks.fetch import using_data_dirs

    if value:  # for this command only (the library called in-process afterwards does not keep them)
        ctx.with_resource(using_data_dirs(value))
    return value


# Where a task's data by URL is looked for first: DIR/<host>/<path of the URL> (tasks.fetch). Repeatable.
DATA_DIR_OPTION = click.option(
    "--data-dir", "data_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path), expose_value=False,
    callback=_set_data_dirs, is_eager=True,
    help="A local mirror of the data tasks read by URL (DIR/<host>/<path of the URL>, as `judgebench download` "
         "fills it), looked in before the network; also JUDGEBENCH_DATA_DIR. Repeatable.")


def _set_allowed(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    from .tasks.fetch import allowing_paths

    if value:
        ctx.with_resource(allowing_paths(value))
    return value


# Folders besides a task's own that its `path:` fields may name (tasks.fetch.confined). Repeatable.
ALLOW_PATH_OPTION = click.option(
    "--allow-path", "allow_paths", multiple=True, type=click.Path(file_okay=False, path_type=Path),
    expose_value=False, callback=_set_allowed, is_eager=True,
    help="A folder outside the task's own whose files the task's `path:` fields may name (they are refused "
         "otherwise: a shared task file must not send any file on the machine to the models); also "
         "JUDGEBENCH_ALLOW_PATH. Repeatable.")


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="judgebench")
def main() -> None:
    """judgebench: LLM-as-a-judge evaluation (MT-Bench, AlpacaEval, pairwise battles)."""


def _no_or_enough_resamples(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """0 (no interval) or at least 10 resamples: a percentile interval of one to nine resamples can miss its own
    point estimate."""
    if 0 < value < 10:
        raise click.BadParameter(f"{value}: give 0 (no interval) or at least 10 resamples")
    return value


@main.command()
@DATA_DIR_OPTION
@ALLOW_PATH_OPTION
@click.option("--task", "tasks", multiple=True, help="Task name or YAML path (repeatable). "
              f"Default: {', '.join(DEFAULT_TASKS)}.")
@click.option("--model", "models", multiple=True,
              help="Candidate model (default: local): NAME@URL (OpenAI-compatible, e.g. vLLM), NAME@openai, "
                   "NAME@anthropic, local, or a model judgebench serves for the run: vllm:HF_ID, sglang:HF_ID or "
                   "llamacpp:PATH.gguf, "
                   "server flags after it (\"vllm:Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2\"). "
                   "Several URLs separated by commas (NAME@http://a:8000/v1,http://b:8000/v1) are replicas of one "
                   "server: each request goes to the least busy one, and one that stops answering is left out "
                   "until it answers again. Repeat for a battles task (every model battles the others).")
@click.option("--judge", "judges", multiple=True,
              help="Judge: NAME@URL, NAME@openai, NAME@anthropic, local, vllm:HF_ID, sglang:HF_ID or "
                   "llamacpp:PATH.gguf; optionally #json or #text for the "
                   "verdict mode, then settings after commas: ,t=0.7 for a temperature, ,key_env=VAR for the "
                   "variable holding its key and ,logprobs (with #json) to ask for token log-probabilities, which "
                   "give each grade a probability-weighted expected_score (e.g. j@http://host/v1,t=0.7 or "
                   "j@https://host/v1#text,key_env=HOST_KEY; after replica URLs, the first WORD=VALUE or logprobs "
                   "begins the settings). Repeat for a panel. "
                   "Default: local#json and local#json,t=0.7 (a panel of two).")
@click.option("--answers", "answers_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Judge existing answers instead of generating: FastChat model_answer .jsonl or AlpacaEval "
                   "model_outputs.json (the model's name comes from the file). Repeat for a battles task, one file "
                   "per model (--model may add models that generate).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N items of each task.")
@click.option("--items", "items_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Only the items a file lists: the JSONL `judgebench escalate --write-items` writes, or item ids one "
                   "per line (before --limit).")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests in flight per replica of each endpoint, to start with: it then adapts, rising while "
                   "latency holds and halving on 429s and timeouts (up to 8x), unless --fixed-concurrency; never "
                   "above the slots of a server judgebench starts (llama.cpp: 1).")
@click.option("--adaptive/--fixed-concurrency", default=True, show_default=True,
              help="Adapt each replica's concurrency to how it answers, or keep --concurrency throughout.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Results directory; each run gets its own subdirectory.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Request cache (SQLite). Default: OUT/cache.sqlite.")
@click.option("--run-id", help="Name of the run directory (must not exist yet).")
@click.option("--verdicts", type=click.Choice(["auto", "json", "text"]), default="auto", show_default=True,
              help="Verdict mode for judges without #json/#text: auto = JSON schema on the embedded server, "
                   "free text elsewhere.")
@click.option("--judge-key-env", metavar="VAR",
              help="Environment variable holding the judges' API key. NAME@openai / NAME@anthropic judges use "
                   "OPENAI_API_KEY / ANTHROPIC_API_KEY otherwise; a NAME@URL judge gets no key unless one is named "
                   "(here, or key_env=VAR in its spec).")
@click.option("--model-key-env", metavar="VAR",
              help="Environment variable holding the candidate model's API key (as --judge-key-env).")
@click.option("--max-attempts", type=click.IntRange(min=1), default=5, show_default=True,
              help="Attempts per request (the first included) before it is recorded as failed.")
@click.option("--max-elapsed", type=click.FloatRange(min=1, max=86400), default=DEFAULT_MAX_ELAPSED_S,
              show_default=True, callback=lambda _ctx, _param, value: _finite("--max-elapsed", value),
              help="Seconds a request may take in all, its attempts and the waits between them included (a single "
                   "slow attempt too); the time it waits for a free slot, unsent, does not count.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1, max=86400), default=DEFAULT_TIMEOUT_S,
              show_default=True, metavar="SECONDS", callback=lambda _ctx, _param, value: _finite("--timeout", value),
              help="Seconds one attempt may take once sent, its whole reply included; then it is retried (within "
                   "--max-attempts and --max-elapsed). Suits a CPU-only llama.cpp server; a request waiting for a "
                   "free slot has not been sent, so its wait does not count.")
@click.option("--progress/--no-progress", default=True, help="Show progress bars on stderr.")
@click.option("--batch", is_flag=True,
              help="Send NAME@openai and NAME@anthropic requests through the provider's batch API (half the price, "
                   "replies within 24 hours): what is not cached is submitted as a batch when the run ends, and the "
                   "same command run again collects it (one batch per turn of a multi-turn task, then one for the "
                   "judge). Other endpoints are called directly. Exit status 75 while judgments wait.")
@click.option("--batch-wait", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SECONDS",
              help="With --batch: first wait up to SECONDS for unfinished batches, polling every 30 seconds.")
@click.option("--dry-run", is_flag=True, help="Send nothing and write nothing: print per endpoint the requests the "
              "run would send (the cache taken into account), their estimated tokens and cost.")
@click.option("--prices", "prices_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A price table (YAML, USD per million tokens) whose entries replace or add to the built-in one "
                   "(judgebench/builtin/prices.yaml shows the format).")
@click.option("--serve-timeout", type=click.FloatRange(min=1), metavar="SECONDS",
              help="How long a server judgebench starts may take to load its model. Default: 30 minutes for vllm: "
                   "and sglang:, 5 for llamacpp: and local.")
@click.option("--transport", type=click.Choice(["sdk", "lean"]), default="lean", show_default=True,
              envvar="JUDGEBENCH_TRANSPORT", show_envvar=True,
              help="Client for OpenAI-compatible servers (model and judges): the openai SDK, or lean (aiohttp, "
                   "several times less CPU per request). Replies and the cache are the same either way.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where judge requests run: local (this process) or ray (Ray Data, on the cluster RAY_ADDRESS "
                   "names, else a local Ray instance; needs judgebench[ray]). Answers are generated locally.")
@click.option("--profile", "profile_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A preference profile (YAML: values and dislikes, a line each, optionally weighted): each task's "
                   "items are judged against it as a rubric (kind rubric, protocol profile-NAME), each answer on its "
                   "own, whatever the task's kind. See docs/rubrics.md.")
def run(tasks: tuple[str, ...], models: tuple[str, ...], judges: tuple[str, ...], answers_files: tuple[Path, ...],
        limit: int | None, items_file: Path | None,
        concurrency: int, out: Path, cache_path: Path | None, run_id: str | None, verdicts: str,
        judge_key_env: str | None, model_key_env: str | None, max_attempts: int, max_elapsed: float, timeout_s: float,
        progress: bool, adaptive: bool, batch: bool, batch_wait: float, dry_run: bool,
        prices_path: Path | None, serve_timeout: float | None, transport: Transport, engine: str,
        profile_path: Path | None) -> None:
    """Generate answers and judge them; with no options, the built-in sample on the embedded model."""
    from .clients.backends import with_transport
    from .clients.endpoints import check_reachable, judge_base, parse_endpoint, parse_judge, parse_panel
    from .clients.pricing import load_prices
    from .clients.serve import served_specs, serving
    from .formats.item_lists import read_item_list
    from .run.evaluate import RunConfig, evaluate
    from .run.runner import RetryPolicy
    from .tasks import load_task

    prices = load_prices(prices_path)
    item_list = read_item_list(items_file) if items_file else None
    loaded = _with_profile([load_task(t) for t in (tasks or DEFAULT_TASKS)], profile_path)
    if item_list is not None:
        item_list.check([task.benchmark for task in loaded])
    if run_id and len(loaded) > 1:
        raise ConfigError("--run-id names one run: give a single --task")
    judge_specs = judges or DEFAULT_JUDGES
    # Answers files replace the default model; a battles task may mix both (models given and files).
    model_specs = models or (() if answers_files else ("local",))
    # Served specs (local, vllm:, sglang:, llamacpp:) are checked before anything starts; a server named twice
    # (a model and a judge) is started once.
    served = served_specs(model_specs, judge_specs)
    remote = [parse_endpoint(spec, role="model", concurrency=concurrency, key_env=model_key_env)
              for spec in model_specs if spec not in served]
    remote_judges = [parse_judge(s, concurrency=concurrency, key_env=judge_key_env).endpoint
                     for s in judge_specs if judge_base(s) not in served]
    batching = _batching(batch, batch_wait, [spec for spec in model_specs if spec not in served],
                         [s for s in judge_specs if judge_base(s) not in served], remote + remote_judges, served=served)
    from .run.executors import engine as engine_named

    engine_named(engine).check(remote_judges)
    if not dry_run:
        # The probe waits no longer than a request of this run may.
        for warning in check_reachable(remote + remote_judges, timeout_s=min(10.0, max_elapsed, timeout_s)):
            click.echo(f"warning: {warning}", err=True)
    results, plans = [], []
    # A dry run starts no server: a served model's endpoint is known to the cache by its identity alone.
    with serving(() if dry_run else served.values(), log_dir=out / ".server-logs", ready_timeout_s=serve_timeout,
                 on_event=lambda message: click.echo(message, err=True)) as servers:
        endpoints = {text: spec.endpoint(None, concurrency=concurrency) if dry_run
                     else servers[spec].endpoint(concurrency=concurrency) for text, spec in served.items()}
        remote_by_spec = dict(zip([spec for spec in model_specs if spec not in served], remote, strict=True))
        model_endpoints = tuple(with_transport(endpoints.get(spec) or remote_by_spec[spec], transport)
                                for spec in model_specs)
        panel = parse_panel(judge_specs, default_mode=verdicts, concurrency=concurrency, key_env=judge_key_env,
                            served=endpoints)
        panel = tuple(replace(j, endpoint=with_transport(j.endpoint, transport)) for j in panel)
        launched = tuple(each.launch() for server in servers.values() for each in (server, *server.replicas))
        for task in loaded:
            config = RunConfig(model=model_endpoints[0] if model_endpoints else None, judges=panel, out=out,
                               cache_path=cache_path or out / "cache.sqlite", limit=limit,
                               item_ids=item_list.ids_for(task.benchmark) if item_list else None,
                               answers_file=answers_files[0] if answers_files else None,
                               models=model_endpoints, answers_files=answers_files,
                               run_id=run_id, retry=RetryPolicy(max_attempts=max_attempts, max_elapsed_s=max_elapsed,
                                                                 timeout_s=timeout_s),
                               progress=progress and sys.stderr.isatty(),
                               progress_lines=progress and not sys.stderr.isatty(), adaptive=adaptive,
                               batch=batching, prices=prices, launched=launched, engine=engine)
            if dry_run:
                plans.append(_print_plan(task, config))
                continue
            result = evaluate(task, config)
            _print_result(result)
            results.append(result)
    if dry_run:
        _print_plan_total(plans)
        return
    click.echo(f"\ntotal requests made: {sum(r.counters.requests for r in results)}, cost USD "
               f"{sum(u.cost_usd for r in results for u in r.usage):.4f}")
    if any(r.n_failed for r in results):
        sys.exit(EXIT_FAILED_JUDGMENTS)
    # A batch that could not be submitted is a failure, not a wait: running again without a fix would only wait
    # for it for ever (the lines above say why it failed).
    if any(r.batch is not None and r.batch.errors for r in results):
        click.echo("some requests could not be submitted as batches (see above): nothing waits for them", err=True)
        sys.exit(EXIT_FAILED_JUDGMENTS)
    if any(r.n_pending for r in results):
        sys.exit(EXIT_PENDING)


def _with_profile(tasks: list[Task], profile_path: Path | None) -> list[Task]:
    """``run --profile``: every task's items judged against the person's profile, as a rubric (tasks.profile)."""
    if profile_path is None:
        return tasks
    from .tasks.profile import apply_profile, load_profile

    profile = load_profile(profile_path)
    return [apply_profile(t, profile) for t in tasks]


def _finite(option: str, value: float) -> float:
    if value != value:  # NaN passes every range check
        raise click.BadParameter(f"{option} takes a number, not NaN")
    return value


def _batching(enabled: bool, wait_s: float, model_specs: list[str], judge_specs: list[str],
              remote: list[Endpoint], served: Collection[str] = ()) -> BatchOptions | None:
    """--batch: the endpoints with a batch API (``remote`` are the endpoints of ``model_specs`` and the remote
    ``judge_specs``, in order; the ``served`` models, which judgebench starts, are not among them)."""
    from .clients.batch import BatchOptions, has_batch_api

    if wait_s and not enabled:
        raise ConfigError("--batch-wait waits for provider batches: add --batch")
    if not enabled:
        return None
    specs = [*model_specs, *judge_specs]
    batched = [endpoint for spec, endpoint in zip(specs, remote, strict=True) if has_batch_api(spec)]
    if not batched:
        from .clients.endpoints import judge_base

        # What this run has instead, each endpoint once (a panel names one server several times).
        kinds = {judge_base(spec): "servers given by URL" for spec in specs}
        kinds |= {spec: "the embedded model" if spec == "local" else "servers judgebench starts" for spec in served}
        groups: dict[str, list[str]] = {}
        for spec, kind in kinds.items():
            groups.setdefault(kind, []).append(spec)
        have = " and ".join(f"{kind} ({', '.join(names)})" for kind, names in groups.items())
        raise ConfigError(f"--batch: no endpoint of this run has a batch API: only NAME@openai and NAME@anthropic "
                          f"have one (half the price, replies within 24 hours); this run's are called directly: "
                          f"{have}; drop --batch")
    click.echo(f"batching requests to {', '.join(sorted({e.name for e in batched}))}", err=True)
    return BatchOptions.of(batched, wait_s=wait_s)


@main.command()
@click.argument("tasks", nargs=-1)
@DATA_DIR_OPTION
@ALLOW_PATH_OPTION
def validate(tasks: tuple[str, ...]) -> None:
    """Load tasks and render every prompt with placeholder answers; report problems. Default: all built-in.
    Downloads nothing: a task whose data by URL is in no data mirror (--data-dir) nor the cache is skipped."""
    from .judging.kinds import kind_of
    from .judging.requests import render_all
    from .tasks import builtin_task_names, load_task
    from .tasks.fetch import NotLocal, no_downloads
    from .tasks.loader import find_task
    from .tasks.rubric_lint import lint_source_criteria, lint_task_file
    from .types import Endpoint, Judge

    names = tasks or tuple(builtin_task_names())
    if not names:
        raise ConfigError("no tasks to validate: no built-in task was found (is judgebench installed whole?)")
    placeholder = Endpoint(provider="openai", name="validate", model="validate", base_url="http://127.0.0.1:9/v1")
    problems = 0
    for name in names:
        try:
            # A rubric file's lint (tasks.rubric_lint): every problem of its criteria, one line each.
            lints = lint_task_file(find_task(name))
        except JudgebenchError:
            lints = []  # the load below says what is wrong
        for message in lints:
            click.echo(f"lint  {message}")
        problems += len(lints)
        try:
            with no_downloads():
                task = load_task(name)
                # A published protocol's prompts ask for a text verdict; judgebench's prompts render in both modes.
                judges = ((Judge("text", placeholder, False),) if kind_of(task.kind).text_verdicts_only
                          else (Judge("json", placeholder, True), Judge("text", placeholder, False)))
                n = render_all(task, list(task.items), judges, every_item=True)
            # The criteria the load read from a source file (HealthBench, WildBench), linted as the YAML's are.
            source_lints = lint_source_criteria(find_task(name), task)
            for message in source_lints:
                click.echo(f"lint  {message}")
            problems += len(source_lints)
            click.echo(f"ok    {name}: {task.kind}, benchmark {task.benchmark}, {len(task.items)} items, "
                       f"{n} judge prompts rendered")
        except NotLocal as exc:
            click.echo(f"skip  {name}: {exc}")
        except JudgebenchError as exc:
            problems += 1
            click.echo(f"FAIL  {name}: {exc}")
    if problems:
        sys.exit(1)


QUESTIONS_OPTION = click.option(
    "--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="FastChat question.jsonl giving categories to FastChat judgment files kept apart from it.")
FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto",
                             show_default=True, help="Input format; auto-detected from each path.")


DIFFICULTY_OPTION = click.option(
    "--difficulty", metavar="CSV|alpaca-eval",
    help="Instruction difficulties for the length-controlled win rate: a table from `judgebench difficulty fit`, "
         "AlpacaEval's instruction_difficulty.csv, or 'alpaca-eval' to download AlpacaEval's (checked by sha256). "
         "Without one, they are fitted on the models given, and a model's LC depends on its company.")


def _difficulty(spec: str | None) -> Any:
    from .formats.difficulty import load_difficulty

    return load_difficulty(spec) if spec else None


def _read(paths: tuple[Path, ...], fmt: str, questions: Path | None = None) -> Any:
    """The judgments of the inputs, one record per judgment; says on stderr what deduplication did."""
    from .analysis.records import read_judgments

    result = read_judgments(paths, fmt, questions)
    click.echo(f"read {result.describe()}", err=True)
    return result


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@FORMAT_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per model; a rubric task's "
              "object holds its rubric tables' rows under 'rubric' (pairs, categories, tags, criteria).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=DEFAULT_BOOTSTRAP, show_default=True,
              help="Bootstrap samples for the confidence intervals (95%, percentile) of win rates and grades. "
                   "Bradley-Terry rankings of battles always use 200 (0 here: none), so every command and page "
                   "shows the same intervals for them.")
@QUESTIONS_OPTION
@click.option("--battles", is_flag=True, help="Rank by Bradley-Terry over all pairwise judgments instead: "
              "each model's predicted win rate against --baseline (= 50), 95% percentile bootstrap interval, "
              "raw and style-controlled (answer length and markdown fitted jointly), with the style coefficients.")
@click.option("--baseline", help="With --battles: the anchor model (default: the most frequent opponent).")
@DIFFICULTY_OPTION
def stats(paths: tuple[Path, ...], fmt: str, as_json: bool, bootstrap: int, questions: Path | None,
          battles: bool, baseline: str | None, difficulty: str | None) -> None:
    """Win rates (with length control), MT-Bench scores or rubric scores from runs or other harnesses' judgment files.
    A rubric task's tables follow its scores: per pair of models, category, tag and criterion.

    PATHS: judgebench run directories or results directories, AlpacaEval annotations.json(.gz), FastChat
    model_judgment files, Arena-Hard judgment files. The same judgment read twice counts once.
    """
    table = _difficulty(difficulty)  # a bad table is an error before anything is read
    frame = _read(paths, fmt, questions).frame
    if battles:
        from .analysis.battles import battle_groups, battles_json
        from .publish.battle_tables import format_battles
        from .stats.battle_ranking import BATTLE_BOOTSTRAP

        groups = battle_groups(frame, baseline, n_bootstrap=BATTLE_BOOTSTRAP if bootstrap else 0)
        if as_json:
            click.echo(json.dumps(battles_json(groups), indent=2, allow_nan=False))
        else:
            click.echo(format_battles(groups))
        return
    from .analysis.rubric import rubric_tables
    from .analysis.rubric_versions import mixed_versions
    from .analysis.scores import score_rows
    from .judging.kinds import kind_of
    from .publish.rubric_tables import format_rubric
    from .publish.tables import format_scores

    for warning in mixed_versions(frame):
        click.echo(warning, err=True)
    rows = score_rows(frame, n_bootstrap=bootstrap, difficulty=table)
    # A rubric task's tables (none for other kinds): per pair of models, category, tag and criterion.
    tables = rubric_tables(frame, n_bootstrap=bootstrap)
    if as_json:
        # A rubric score row carries its share of the tables (analysis.rubric.RubricTables.of_model).
        click.echo(json.dumps([{**asdict(r), "rubric": tables.of_model(r.benchmark, r.protocol, r.judge, r.model)}
                               if kind_of(r.kind).has_criteria else asdict(r) for r in rows],
                              indent=2, allow_nan=False))
        return
    click.echo(format_scores(rows))
    rubric = format_rubric(tables)
    if rubric:
        click.echo("\n" + rubric)


@main.command()
@click.argument("outputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per judge (the columns of "
              "judgebench.analysis.judge_accuracy.judges_frame; with --labels, of analysis.judge_labels.label_frame; "
              "without labels, of judge_profiles.PROFILE_COLUMNS).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=DEFAULT_BOOTSTRAP, show_default=True,
              callback=_no_or_enough_resamples,
              help="Bootstrap resamples of pairs for the accuracies' 95% percentile intervals (0: none).")
@click.option("--pairs", "pair_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JudgeBench pair file(s) giving the labels of runs of a JudgeBench task among OUTPUTS "
                   "(repeatable; JudgeBench's own output files carry their labels).")
@click.option("--labels", "label_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Measure the judges in OUTPUTS (any judgments judgebench reads) against these labels instead: "
                   "human labels (CSV/JSONL/JSON/Parquet pairwise labels, FastChat's MT-Bench human judgments, "
                   "AlpacaEval's human cross-annotations, a human arena's database) or another judge's judgment "
                   "files as the reference (e.g. GPT-4's). Repeatable.")
@click.option("--prices", "prices_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Without labels: a price table (YAML, as `run --prices`) for the cost per 1,000 judgments.")
@click.option("--families", "families_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Without labels: YAML mapping family -> name prefixes, for self-preference (as `diagnose "
                   "--families`); without it a name's leading letters are its family, which misreads judges named "
                   "after a config (AlpacaEval's alpaca_eval_* annotators are no relatives of alpaca-7b).")
def judges(outputs: tuple[Path, ...], as_json: bool, bootstrap: int, pair_files: tuple[Path, ...],
           label_files: tuple[Path, ...], prices_path: Path | None, families_path: Path | None) -> None:
    """How far judges can be trusted: one row per judge configuration.

    OUTPUTS: JudgeBench (ScalerLab, arXiv:2410.12784) judge output files, each one judge on labelled response pairs;
    or judgebench runs of a JudgeBench task (a pair file as task source), with --pairs.
    Accuracy by JudgeBench's metric overall and per source (Knowledge, Reasoning, Math, Coding) with bootstrap
    intervals, position consistency, and how often the judge preferred the longer response beside the labels' rate.
    With --labels: per judge and label set, agreement with ties (S1) and without (S2) with bootstrap intervals,
    Cohen's kappa, the labels' tie rate, and Brier/ECE where the judge's verdict is a probability.

    Without labels (no JudgeBench file among OUTPUTS, no --pairs, no --labels): judgebench runs or results
    directories and any judgment file `stats` reads give each judge's profile (analysis.judge_profiles): failure and
    parse-failure rates, position consistency, the share preferring the longer answer, self-preference (with
    `diagnose`'s intervals, whatever --bootstrap says), tokens, cost and seconds per 1,000 judgments, and the
    variance across repeated asks of judges with ,repeats=K.
    """
    from .publish.tables import format_judge_profiles, format_judges, format_label_judges

    if label_files and pair_files:
        raise ConfigError("--labels and --pairs measure against different labels: give one of them")
    if label_files:
        from .analysis.judge_labels import judges_against_labels

        frame = judges_against_labels(
            outputs, label_files, n_bootstrap=bootstrap,
            on_unmatched=lambda judge: click.echo(f"judge {judge}: no label matches its verdicts (the item, the two "
                                                  "models and the turn must match): no row", err=True))
        text = format_label_judges
    elif not pair_files and not _has_judgebench_outputs(outputs):
        frame = _judge_profiles(outputs, prices_path, _read_families(families_path))
        text = format_judge_profiles
    else:
        from .analysis.judge_accuracy import judges as judges_table

        frame = judges_table(outputs, n_bootstrap=bootstrap, pairs=pair_files)
        text = format_judges
    if as_json:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        click.echo(json.dumps(records, indent=2, allow_nan=False))
    else:
        click.echo(text(frame))


@main.command("rubric-report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human labels of criteria: CSV/JSONL/JSON/Parquet with item_id, model, criterion (its id) and met "
                   "(optionally turn, benchmark, voter): each judge's agreement with them.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=DEFAULT_BOOTSTRAP, show_default=True,
              callback=_no_or_enough_resamples,
              help="Bootstrap resamples of items for the agreements' 95% percentile intervals (0: none).")
@click.option("--top", type=click.IntRange(min=1), default=RUBRIC_TOP_DISAGREEMENTS, show_default=True,
              help="How many of the criteria the judges disagree on most to list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: panel, constant, disagreements and "
              "labels, each a list of rows (the columns of judgebench.analysis.rubric_quality's tables).")
def rubric_report(paths: tuple[Path, ...], labels_path: Path | None, bootstrap: int, top: int,
                  as_json: bool) -> None:
    """How good a rubric's criteria are, from rubric runs judged by a panel (--judge twice or more).

    Per criterion: the judges' agreement on its verdicts (percent agreement, Cohen's or Fleiss' kappa, bootstrap
    intervals over items), the criteria they disagree on most, the criteria met by every answer or by none (they
    cannot tell models apart) and, with --labels, each judge's agreement with human labels.
    """
    from .analysis.rubric_quality import judgments_quality
    from .formats.criterion_labels import read_criterion_labels
    from .publish.rubric_quality import format_rubric_quality

    labels = read_criterion_labels(labels_path) if labels_path else None
    frame = _read(paths, "auto").frame
    if not frame["criteria"].notna().any():
        raise ConfigError("no rubric judgment among the inputs: rubric-report measures rubric tasks (kind: rubric)")
    from .analysis.rubric_versions import mixed_versions

    for warning in mixed_versions(frame):
        click.echo(warning, err=True)
    quality = judgments_quality(frame, labels, n_bootstrap=bootstrap)
    if as_json:
        click.echo(json.dumps(quality.to_json(), indent=2, allow_nan=False))
    else:
        click.echo(format_rubric_quality(quality, top=top))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--votes", "votes_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The person's votes: a human arena's database (judgebench arena serve --db) or a pairwise labels "
                   "file with a voter column (CSV/JSONL/JSON/Parquet: item_id, model_a, model_b, winner, voter).")
@click.option("--voter", required=True, help="Whose votes: the voter's name in the arena.")
@click.option("--profile", "profile_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The person's preference profile (YAML) the runs among PATHS were judged with (run --profile).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=DEFAULT_BOOTSTRAP, show_default=True,
              callback=_no_or_enough_resamples,
              help="Bootstrap resamples of votes for the 95% percentile intervals (0: none).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: voter, n_votes, agreement and "
              "differences (the columns of judgebench.analysis.personal's tables).")
def personal(paths: tuple[Path, ...], votes_path: Path, voter: str, profile_path: Path, bootstrap: int,
             as_json: bool) -> None:
    """Whether the judge with a person's profile agrees with their own votes better than the generic judge.

    PATHS: runs judged with `run --profile` (one per voted model) and the generic judge's runs or judgment files
    of the same items (pairwise, battles, single or rubric). Per judge configuration: its agreement with the
    voter's votes (the share it decides as they did, ties included), and the profile's judge minus each other
    one on the votes both decide, with paired bootstrap intervals.
    """
    from .analysis.personal import personal_report, voter_votes
    from .formats.labels import read_labels
    from .publish.personal import format_personal
    from .tasks.profile import load_profile

    profile = load_profile(profile_path)
    votes = voter_votes(read_labels(votes_path), voter)
    report = personal_report(_read(paths, "auto").frame, votes, voter, profile.protocol, n_bootstrap=bootstrap)
    click.echo(json.dumps(report.to_json(), indent=2, allow_nan=False) if as_json else format_personal(report))


def _has_judgebench_outputs(paths: tuple[Path, ...]) -> bool:
    from .formats import detect_format
    from .formats.scalerlab import FORMAT

    return any(path.is_file() and detect_format(path) == FORMAT for path in paths)


def _judge_profiles(paths: tuple[Path, ...], prices_path: Path | None,
                    families: dict[str, list[str]] | None = None) -> Any:
    """`judges` without labels: the judges' profiles of the inputs' judgments, printed by the caller."""
    from .analysis.judge_profiles import judge_prices, judge_profiles
    from .clients.pricing import load_prices
    from .formats.scalerlab import judges_pairs

    frame = _read(paths, "auto").frame
    if any(judges_pairs(m, o) for m, o in zip(frame["model"], frame["opponent"], strict=True)):
        click.echo("judgments of JudgeBench pairs: give the pair file they were made from with --pairs for the "
                   "judges' accuracy against its labels; without labels, each judge's profile:", err=True)
    return judge_profiles(frame, judge_prices(paths, load_prices(prices_path)), families)


def _read_families(path: Path | None) -> dict[str, list[str]] | None:
    if path is None:
        return None
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ConfigError(f"{path}: --families expects a mapping family -> list of name prefixes")
    return {str(k): [str(p) for p in v] for k, v in data.items()}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@FORMAT_OPTION
@click.option("--families", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML {family: [model-name prefixes]} for self-preference; default: the name's leading letters.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--bootstrap", type=click.IntRange(min=10), default=DIAGNOSTIC_BOOTSTRAP, show_default=True,
              help="Resamples of the intervals; the default is what `run`, `leaderboard` and load() use.")
@QUESTIONS_OPTION
def diagnose(paths: tuple[Path, ...], fmt: str, families: Path | None, as_json: bool, bootstrap: int,
             questions: Path | None) -> None:
    """Position bias, self-preference, saturation and panel agreement of the judges in runs or judgment files."""
    from .analysis.diagnostics import diagnose as run_diagnostics
    from .analysis.diagnostics import format_report

    report = run_diagnostics(_read(paths, fmt, questions).frame, _read_families(families), n_bootstrap=bootstrap)
    click.echo(json.dumps(report.to_json(), indent=2, allow_nan=False) if as_json else format_report(report))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human labels: a human arena's database (judgebench arena serve --db), or CSV or JSONL, "
                   "item-level or model-level (see docs/statistics.md).")
@click.option("--label-column", help="Model-level labels: the numeric column to compare with (e.g. an Elo).")
@click.option("--model-column", default="model", show_default=True, help="Model-level labels: the model names.")
@FORMAT_OPTION
@click.option("--bootstrap", type=click.IntRange(min=0), default=500, show_default=True,
              help="Resamples for the rank correlations' 95% intervals.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def agree(paths: tuple[Path, ...], labels_path: Path, label_column: str | None, model_column: str, fmt: str,
          bootstrap: int, as_json: bool) -> None:
    """Agreement of the judgments with human labels. Pairwise labels (a human arena's votes): per judge, S1 (with
    ties), S2 (without) and Cohen's kappa, overall and per category, and the Spearman/Kendall between the judge's
    Bradley-Terry ranking and the labels'. Score labels: Spearman and weighted kappa. Model-level labels:
    Spearman/Kendall of the judge's ranking against a column."""
    from .analysis.agreement import item_agreement, model_agreement, ranking_agreement
    from .analysis.scores import score_rows
    from .formats.labels import read_labels
    from .publish.tables import format_agreement, format_model_agreement, format_score_agreement

    frame = _read(paths, fmt).frame
    labels = read_labels(labels_path)
    if label_column:
        scores = {r.model: r.ranking_value for r in score_rows(frame, n_bootstrap=0)}
        model_level = model_agreement({m: s for m, s in scores.items() if s is not None}, labels, label_column,
                                      model_column)
        click.echo(json.dumps(asdict(model_level), indent=2, allow_nan=False) if as_json else
                   format_model_agreement(model_level, label_column))
        return
    items = item_agreement(frame, labels)
    if not isinstance(items, list):  # score labels
        click.echo(json.dumps(asdict(items), indent=2) if as_json else format_score_agreement(items))
        return
    rankings = ranking_agreement(frame, labels, n_bootstrap=bootstrap)
    if as_json:
        click.echo(json.dumps({"items": [asdict(a) for a in items], "rankings": [asdict(r) for r in rankings]},
                              indent=2, allow_nan=False))
    else:
        click.echo(format_agreement(items, rankings))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human labels on a random subset of the judged items: a human arena's database, or CSV or JSONL "
                   "(pairwise: item_id, model_a, model_b, winner; grades: item_id, model, score).")
@click.option("--sample", type=click.IntRange(min=2), help="Use a random SAMPLE of the label rows (what so many "
              "labels would buy).")
@click.option("--seed", type=int, default=0, show_default=True, help="The seed of --sample.")
@FORMAT_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per judge, quantity and model.")
def calibrate(paths: tuple[Path, ...], labels_path: Path, sample: int | None, seed: int, fmt: str,
              as_json: bool) -> None:
    """Human-calibrated scores (PPI++): the judge's verdicts on every item corrected by labels on a random
    subset. Per judge and model: win rate and Bradley-Terry strength (pairwise labels) or mean grade (score
    labels), judge-only, labels-only and PPI++ with 95% intervals, the judge's weight lambda and the effective
    number of labels. Needs ppi-python (pip install 'judgebench[ppi]')."""
    from .analysis.calibrated import calibrate as run_calibration
    from .errors import DataError
    from .formats.labels import read_labels
    from .publish.calibrated import format_calibration

    frame, labels = _read(paths, fmt).frame, read_labels(labels_path)
    try:
        result = run_calibration(frame, labels, sample=sample, seed=seed)
    except DataError as exc:
        raise DataError(f"{labels_path}: {exc}") from None
    if as_json:
        click.echo(json.dumps([asdict(c) for c in result.estimates], indent=2, allow_nan=False))
    else:
        click.echo(format_calibration(result))


def _costs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    found: dict[str, float] = {}
    for value in values:
        name, sep, usd = value.rpartition("=")
        try:
            found[name] = float(usd)
        except ValueError:
            sep = ""
        if not sep or not name or not 0 <= found.get(name, -1) < float("inf"):
            raise click.BadParameter(f"{value!r}: expected NAME=USD, e.g. gpt-4o=6.3 (USD per 1,000 judgments)")
    return found


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--cheap", "cheap_judges", multiple=True, metavar="JUDGE",
              help="The cheap judge's name in PATHS (repeatable: a panel); default: the one judge not --strong.")
@click.option("--strong", "strong_judges", multiple=True, metavar="JUDGE",
              help="The strong judge's name in PATHS (repeatable: a panel). None: escalated items go to the labels' "
                   "source (people), whose verdict is the label.")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labels the threshold is set on: CSV/JSONL pairwise labels, a human arena's database, or a "
                   "JudgeBench pair or output file (its objective labels).")
@click.option("--strong-as-labels", is_flag=True, help="No labels: the --strong judge's verdicts are the labels "
              "(how closely escalation reproduces the strong judge).")
@click.option("--target", type=click.FloatRange(0, 1), default=0.85, show_default=True,
              help="The agreement with the labels to reach (a share).")
@click.option("--cost-per-1000", "costs", multiple=True, metavar="NAME=USD", callback=_costs,
              help="USD per 1,000 judgments of a judge (its name as printed; 'labels' for the labels' source); "
                   "repeatable. Needed for the cost saving.")
@click.option("--prices", "prices_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A price table (USD per million tokens; the format of judgebench/builtin/prices.yaml) whose "
                   "entries replace or add to the built-in ones, for judges of judgebench runs priced by their tokens.")
@click.option("--write-items", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the escalated items (all the cheap judge judged, not only the labelled) as JSONL; an "
                   "existing file is replaced only with --force, and nothing is written when no item is escalated.")
@click.option("--force", is_flag=True, help="Replace an existing --write-items file.")
@FORMAT_OPTION
@click.option("--bootstrap", type=click.IntRange(min=0), default=DEFAULT_BOOTSTRAP, show_default=True,
              callback=_no_or_enough_resamples,
              help="Bootstrap resamples of items for the agreements' 95% intervals (0: none).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def escalate(paths: tuple[Path, ...], cheap_judges: tuple[str, ...], strong_judges: tuple[str, ...],
             labels_path: Path | None, strong_as_labels: bool, target: float, costs: dict[str, float],
             prices_path: Path | None, write_items: Path | None, force: bool, fmt: str, bootstrap: int,
             as_json: bool) -> None:
    """A cheap judge first; a strong judge (or people) only where the cheap one is unsure.

    PATHS: recorded pairwise judgments (runs, AlpacaEval annotations, JudgeBench outputs, ...) of both judges. An
    item's confidence is how far the cheap preference is from a tie (two orders that disagree, a probability near
    1/2, a split panel: low). The threshold is the smallest escalation whose agreement with the labels reaches
    --target; printed with coverage, the agreement (also out of sample), each judge alone, and the cost per 1,000
    items against judging all with the strong judge: judges of judgebench runs are priced by the tokens their
    requests used (the built-in price table, or --prices); others by --cost-per-1000, which also overrides.
    """
    from .analysis.escalation import escalated_items, escalation, prices_per_1000, read_inputs, unpriced
    from .analysis.escalation import write_items as write_escalated
    from .analysis.judge_costs import token_costs
    from .clients.pricing import load_prices
    from .publish.escalation import escalation_json, format_escalation

    if (labels_path is None) != strong_as_labels:
        raise ConfigError("give either --labels FILE or --strong JUDGE with --strong-as-labels")
    if write_items is not None and write_items.exists() and not force:
        raise ConfigError(f"{write_items} exists: give another --write-items, or --force to replace it")
    inputs = read_inputs(paths, cheap_judges, strong_judges, labels_path, fmt)
    runs = [path for path in paths if path.is_dir()]  # only judgebench runs record tokens and endpoints
    priced = {**(token_costs(runs, load_prices(prices_path), fmt) if runs else {}), **costs}
    report = escalation(inputs.cheap, inputs.strong, inputs.labels, target, prices_per_1000(inputs, priced),
                        n_bootstrap=bootstrap, missing_prices=unpriced(inputs, priced))
    if write_items is not None:
        items = escalated_items(inputs.cheap, report.choice.threshold)
        if items.empty:
            click.echo(f"{write_items}: not written: no item is escalated", err=True)
        else:
            write_escalated(items, write_items)
            click.echo(f"{write_items}: {len(items)} escalated item(s)", err=True)
    click.echo(json.dumps(escalation_json(report), indent=2, allow_nan=False) if as_json
               else format_escalation(report))


@main.command("leaderboard")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Site directory.")
@FORMAT_OPTION
@click.option("--bootstrap", type=click.IntRange(min=10), default=DEFAULT_BOOTSTRAP, show_default=True,
              help="Bootstrap resamples for the scores' intervals (the diagnostics use their own fixed setting).")
@DIFFICULTY_OPTION
@ALLOW_PATH_OPTION
@click.option("--title", default=None, help="The site's title, in every page's <title> and header (default: "
              "judgebench leaderboard).")
@click.option("--labels", "label_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Label inputs as `judges --labels` takes them (human labels, or a reference judge's judgment "
                   "files): the Judges page then shows each judge's agreement with them. Repeatable.")
def leaderboard_command(paths: tuple[Path, ...], out: Path, fmt: str, bootstrap: int, difficulty: str | None,
                        title: str | None, label_files: tuple[Path, ...]) -> None:
    """Build the static leaderboard site from results and judgment files (safe to run from cron).

    Exit status: 0 the site was updated; 3 nothing changed (the site was left as it was); 75 another
    regeneration holds the lock; 1 an error.
    """
    from .publish.site import EXIT_LOCKED, EXIT_UNCHANGED, SiteLocked, build_site

    try:
        result = build_site(list(paths), out, fmt=fmt, n_bootstrap=bootstrap, difficulty=_difficulty(difficulty),
                            title=title, labels=label_files)
    except SiteLocked as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_LOCKED)
    if result.status != "unchanged":
        click.echo(f"read {result.n_judgments} judgments ({result.n_superseded} duplicate record(s) of the same "
                   "judgments superseded: the newest successful one is kept)", err=True)
    click.echo(f"{result.status}: {result.out} ({result.n_inputs} inputs, {result.n_parsed} parsed, "
               f"{result.n_recomputed} of {result.n_groups} groups recomputed)")
    if result.status == "unchanged":
        sys.exit(EXIT_UNCHANGED)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--parquet", "parquet_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for runs/answers/judgments/leaderboard .parquet files.")
@FORMAT_OPTION
def export(paths: tuple[Path, ...], parquet_dir: Path, fmt: str) -> None:
    """Export results as Parquet, for notebooks and warehouses."""
    from .analysis.results import export_parquet, load

    results = load(*paths, fmt=fmt)
    if results.n_superseded:
        click.echo(f"{results.n_superseded} duplicate record(s) of the same judgments superseded", err=True)
    for path in export_parquet(results, parquet_dir):
        click.echo(str(path))


@main.command("export-preferences")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The dataset: FILE.jsonl or FILE.parquet (Parquet needs pip install 'judgebench[parquet]').")
@FORMAT_OPTION
@click.option("--text", "as_text", is_flag=True, help="TRL's standard format (prompt, chosen, rejected as strings; "
              "single-turn pairs only) instead of the conversational one (lists of role/content messages).")
@click.option("--implicit-prompt", is_flag=True, help="TRL's implicit prompt: no prompt column, chosen and rejected "
              "each the whole conversation (the RewardTrainer of TRL 0.12-0.15 reads only this); conversational only.")
@click.option("--both-orders-agree", is_flag=True, help="Only verdicts asked in both orders that agree (a human "
              "vote or a one-order annotation is left out).")
@click.option("--min-margin", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Only verdicts at least this strong (margin in [0, 1]: see docs/judges.md).")
@click.option("--human-confirmed", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Only pairs whose winner most human labels on the same item, models and turn name: a human "
                   "arena's database, or CSV/JSONL pairwise labels (item_id, model_a, model_b, winner).")
@click.option("--pair-grades", is_flag=True, help="Pair single grades too: two models graded by the same judge on "
              "the same item and turn, the higher grade chosen (margin: the difference over the scale's width).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def export_preferences(paths: tuple[Path, ...], out: Path, fmt: str, as_text: bool, implicit_prompt: bool,
                       both_orders_agree: bool, min_margin: float, labels_path: Path | None, pair_grades: bool,
                       force: bool) -> None:
    """Decisive pairwise verdicts and human votes as a preference dataset (prompt, chosen, rejected, margin,
    source, ...) in the layout TRL's DPOTrainer and RewardTrainer read. Ties, failed judgments and those the
    filters leave out are counted, never exported.

    PATHS: judgebench run or results directories, AlpacaEval annotations, FastChat judgments (with question.jsonl
    and model_answer/ beside them), human arena databases.
    """
    from .analysis.preferences import Filters, confirmations, export_preferences
    from .errors import DataError
    from .formats.labels import read_labels
    from .formats.preference_file import check_out, write_preferences

    check_out(out, force)  # before reading anything
    if as_text and implicit_prompt:
        raise click.UsageError("--implicit-prompt needs the conversational format (two strings would need a chat "
                               "template to join): leave out --text")
    confirmed = confirmations(read_labels(labels_path), str(labels_path)) if labels_path else None
    result = export_preferences(list(paths), fmt, Filters(both_orders_agree, min_margin, confirmed, as_text,
                                                                pair_grades))
    if not result.pairs:
        raise DataError(f"no preference pair to export ({result.describe_left_out()}); nothing written")
    write_preferences(result.rows(as_text, implicit_prompt), out, force)
    layout = ("standard" if as_text else "conversational") + (", implicit prompt" if implicit_prompt else "")
    click.echo(f"wrote {len(result.pairs)} preference pairs ({layout}) to {out}")
    click.echo(result.describe_left_out())


@main.group()
def difficulty() -> None:
    """Instruction difficulty tables for length-controlled win rates."""


@difficulty.command("fit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The CSV to write.")
@FORMAT_OPTION
def difficulty_fit(paths: tuple[Path, ...], out: Path, fmt: str) -> None:
    """Fit per-instruction difficulties from a pool of pairwise judgments (one benchmark, judge and baseline),
    for `judgebench stats --difficulty`: a model evaluated alone then gets the LC it would get in the pool."""
    from .formats.difficulty import write_difficulty_csv
    from .stats.length_control import MIN_MODELS, ModelAnnotations, fit_difficulty

    frame = _read(paths, fmt).frame
    pairwise = frame[frame["opponent"].notna() & frame["length"].notna() & frame["opponent_length"].notna()]
    groups = sorted({(str(b), str(j), str(o)) for b, j, o in
                     zip(pairwise["benchmark"], pairwise["judge"], pairwise["opponent"], strict=True)})
    if len(groups) != 1:
        found = "; ".join(f"{b} judged by {j} against {o}" for b, j, o in groups) or "none"
        raise ConfigError(f"a difficulty table is fitted for one benchmark, judge and baseline; found: {found}")
    models = {str(m): ModelAnnotations.from_frame(g) for m, g in pairwise.groupby("model", sort=True)
              if not (g["opponent"] == m).all() and g["preference"].notna().sum() >= 2}
    if not models:
        raise ConfigError("no model with judged answers and their lengths to fit on")
    out.parent.mkdir(parents=True, exist_ok=True)
    benchmark, judge, baseline = groups[0]
    table = replace(fit_difficulty(models), benchmark=benchmark, judge=judge, baseline=baseline)
    write_difficulty_csv(table, out)
    click.echo(f"{out}: difficulty of {len(table.item_ids)} items of {benchmark} (judge {judge}, baseline "
               f"{baseline}), fitted on {len(models)} model(s)")
    if len(models) < MIN_MODELS:
        click.echo(f"warning: {len(models)} model(s) is fewer than the {MIN_MODELS} a table needs; LCs computed "
                   "with it can be off by a few points", err=True)


@main.command()
@click.argument("tasks", nargs=-1, required=True)
@ALLOW_PATH_OPTION
@click.option("--data-dir", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to fill: each file goes to DIR/<host>/<path of its URL>.")
def download(tasks: tuple[str, ...], data_dir: Path) -> None:
    """Download the data the tasks read by URL into a local mirror, checked by sha256, so that they run on a
    machine with no network: copy the folder there and pass `--data-dir DIR` (or set JUDGEBENCH_DATA_DIR)."""
    from .tasks import load_task
    from .tasks.fetch import recording, using_data_dirs

    data_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in tasks:
        with using_data_dirs((data_dir,)), recording(fill=data_dir) as fetched:
            task = load_task(name)
        for item in dict.fromkeys(fetched):
            where = item.path if item.path.is_relative_to(data_dir) else f"{item.path} (unpacked from the mirror)"
            click.echo(f"{item.origin:9} {task.name}: {item.url} -> {where}")
        total += len(fetched)
        if not fetched:
            click.echo(f"nothing   {task.name}: reads no data by URL")
    click.echo(f"{total} file(s) checked by sha256 in {data_dir}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="The judgment files' layout (fastchat, arena-hard, alpaca-eval); auto-detected from each file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="0: any free port (printed).")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The anchor's prompt template, for files that record the judge's inputs but not its prompt "
                   "(AlpacaEval's annotations: alpaca_eval_clf.txt).")
def replay(paths: tuple[Path, ...], fmt: str, host: str, port: int, template: Path | None) -> None:
    """Serve an anchor's recorded judge replies as an OpenAI-compatible judge: each request gets the reply recorded
    for its exact prompt and sampling parameters, any other an HTTP 400 saying where it differs. Run a protocol
    task against it (`--judge replay@URL#text`) to check that judgebench reproduces the anchor's numbers."""
    from .replay import ReaderOptions, ReplayTable, read_recordings
    from .replay.server import ReplayServer

    options = ReaderOptions(template=template)
    table = ReplayTable.of(r for path in paths for r in read_recordings(path, fmt, options))
    if not len(table):
        raise ConfigError(f"no recorded judge replies in {', '.join(map(str, paths))}")
    server = ReplayServer(table, host, port)
    click.echo(f"replaying {len(table)} recorded replies ({len(table.by_user)} distinct prompts, "
               f"{table.conflicts} with differing replies: the first is served) at {server.base_url}; Ctrl-C stops")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo(f"served {server.served}, refused {len(server.refused)}", err=True)


@main.command("tasks")
def list_tasks() -> None:
    """List the built-in tasks."""
    from .tasks import builtin_task_names

    names = builtin_task_names()
    if not names:
        raise ConfigError("no built-in task found: the installation is incomplete (reinstall judgebench)")
    for name in names:
        click.echo(name)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as one JSON object.")
def show(run_dir: Path, as_json: bool) -> None:
    """Print a run's scores again (computed from its judgments, so a run that was killed shows what it finished)."""
    from .analysis.records import read_judgments
    from .analysis.scores import score_rows
    from .publish.tables import format_scores

    rows = score_rows(read_judgments([run_dir], "judgebench").frame)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2, allow_nan=False))
    else:
        click.echo(format_scores(rows))


main.add_command(arena_group, "arena")

if __name__ == "__main__":
    main()
