"""`judgebench run --dry-run` and the cost every run reports, against scripted local servers: the dry run counts
exactly the requests a real run then sends, a warm cache leaves nothing to send, cached answers feed the later
steps, and the costs in summary.json are the tokens the servers reported times the prices."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.clients.pricing import PriceTable, builtin_path, builtin_prices, load_prices
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.run.plan import (
    EndpointPlan,
    RunPlan,
    estimate_prompt_tokens,
    estimate_tokens,
    plan_run,
    plan_task,
    walk,
)
from judgebench.run.runner import RetryPolicy
from judgebench.tasks import load_task
from judgebench.types import ChatRequest, Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script, fake_server
from .embedded_tasks import short_answers_task

# What tests/fakeserver.py reports for every reply: (prompt, completion) tokens.
OPENAI_USAGE = (11, 3)
ANTHROPIC_USAGE = (21, 4)
PRICES = "models:\n  cand-7b: {input: 0.2, output: 0.6}\n  judge-70b: {input: 0.9, output: 2.7}\n"


def _config(tmp_path: Path, model_url: str, judge_url: str, limit: int | None,
            prices_file: Path | None = None) -> RunConfig:
    model = Endpoint(provider="openai", name="cand", model="cand-7b", base_url=model_url, concurrency=2)
    judge = Endpoint(provider="openai", name="judge", model="judge-70b", base_url=judge_url, concurrency=2)
    return RunConfig(model=model, judges=(Judge("judge", judge),), out=tmp_path / "r", cache_path=tmp_path / "c.sqlite",
                     limit=limit, retry=RetryPolicy(max_attempts=1), progress=False, n_bootstrap=20,
                     prices=load_prices(prices_file))


def _by_name(plan: RunPlan) -> dict[str, EndpointPlan]:
    return {e.endpoint: e for e in plan.endpoints}


def _prices(config: RunConfig) -> PriceTable:
    assert config.prices is not None
    return config.prices


def _price_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES, encoding="utf-8")
    return path


def test_estimates_follow_the_documented_rule() -> None:
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    assert estimate_tokens("é" * 4) == 2  # UTF-8 bytes, not characters
    endpoint = Endpoint(provider="openai", name="e", model="e", base_url="http://127.0.0.1:9/v1")
    request = ChatRequest(endpoint, (("system", "x" * 40), ("user", "y" * 9)), (("max_tokens", 7),), '{"a":1}')
    assert estimate_prompt_tokens(request) == (10 + 4) + (3 + 4) + 3 + 2


@pytest.mark.parametrize("task_name", ["sample-mt", "sample-pairwise"])
def test_a_cold_dry_run_counts_what_the_real_run_sends_and_a_warm_one_sends_nothing(tmp_path: Path,
                                                                                     task_name: str) -> None:
    task = load_task(task_name)
    verdict = "Fine. Rating: [[7]]" if task.kind == "single" else "A is better. [[A]]"
    with fake_model(Script([("ok", "An answer.")])) as model_url, fake_model(Script([("ok", verdict)])) as judge_url:
        config = _config(tmp_path, model_url, judge_url, limit=3)
        cold = plan_run(task, config, _prices(config))
        assert not config.cache_path.exists() and not config.out.exists()  # the dry run wrote nothing
        result = evaluate(task, config)
    sent = {u.endpoint: u.requests for u in result.usage}
    assert result.n_failed == 0 and sum(sent.values()) == result.counters.requests
    cold_by_name = _by_name(cold)
    assert {name: e.to_send for name, e in cold_by_name.items()} == sent
    assert cold.cached == 0 and cold.to_send == result.counters.requests
    # Every request is now cached: turn 2 is asked after turn 1's cached answer, and the judge is shown the cached
    # answers, so their requests are found in the cache too (a placeholder would never be).
    warm = plan_run(task, config, _prices(config))
    assert warm.to_send == 0 and {e.endpoint: e.cached for e in warm.endpoints} == sent
    assert all(e.cost_usd == 0 and e.input_tokens == 0 and e.output_tokens == 0 for e in warm.endpoints)


def test_a_partly_warm_cache_prices_only_the_rest_with_the_typical_length_it_learned(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    prices_file = _price_file(tmp_path)
    with fake_model(Script([("ok", "An answer.")])) as model_url, \
            fake_model(Script([("ok", "Rating: [[7]]")])) as judge_url:
        evaluate(task, _config(tmp_path, model_url, judge_url, limit=2, prices_file=prices_file))
        config = _config(tmp_path, model_url, judge_url, limit=4, prices_file=prices_file)
        plan = plan_run(task, config, _prices(config))
    cand, judge = _by_name(plan)["cand"], _by_name(plan)["judge"]
    turns_new = sum(len(item.turns) for item in task.items[2:4])
    turns_old = sum(len(item.turns) for item in task.items[:2])
    assert (cand.to_send, cand.cached, judge.to_send, judge.cached) == (turns_new, turns_old, turns_new, turns_old)
    # Learned from the cached replies: the servers reported 3 completion tokens each, so that is the typical answer.
    completion = OPENAI_USAGE[1]
    assert cand.typical_from == turns_old and cand.output_tokens == completion * turns_new
    assert cand.output_tokens_max == task.generation_params()["max_tokens"] * turns_new
    assert judge.output_tokens_max == task.judge.max_tokens * turns_new
    # Shorter placeholder answers make shorter turn-2 and judge prompts than answers at their bound would.
    assert cand.input_tokens < cand.input_tokens_max and judge.input_tokens < judge.input_tokens_max
    table = yaml.safe_load(PRICES)["models"]
    for e, model in ((cand, "cand-7b"), (judge, "judge-70b")):
        price = table[model]
        assert e.cost_usd == pytest.approx((e.input_tokens * price["input"] + e.output_tokens * price["output"]) / 1e6)
        assert e.cost_usd_max == pytest.approx(
            (e.input_tokens_max * price["input"] + e.output_tokens_max * price["output"]) / 1e6)
        assert e.batch_cost_usd is None  # a URL server has no batch API


def test_the_planned_judge_requests_are_the_ones_the_run_then_sends(tmp_path: Path) -> None:
    """Answers cached, verdicts not (the judge refused them): the dry run builds the judge's prompts from the
    cached answers, byte for byte what the next real run sends."""
    task = load_task("sample-mt")
    judge_script = Script([("400", None, "no")])
    with fake_model(Script([("ok", "An answer.")])) as model_url, fake_model(judge_script) as judge_url:
        config = _config(tmp_path, model_url, judge_url, limit=2)
        first = evaluate(task, config)
        assert first.n_failed == first.n_judgments
        plan = plan_run(task, config, _prices(config))
        assert (_by_name(plan)["cand"].to_send, _by_name(plan)["judge"].cached) == (0, 0)
        from judgebench.run.cache import Cache

        cache = Cache(config.cache_path)
        planned = walk(task, task.items[:2], config.model, config.judges, None, cache.get, lambda _: 1)
        cache.close()
        judge_script.steps = [("ok", "Rating: [[7]]")]
        judge_script.requests.clear()
        second = evaluate(task, config)
    assert second.n_failed == 0
    expected = sorted(json.dumps(list(p.request.messages)) for p in planned if p.cached is None)
    received = sorted(json.dumps([[m["role"], m["content"]] for m in body["messages"]])
                      for body in judge_script.requests)
    assert len(expected) == _by_name(plan)["judge"].to_send and received == expected


def test_summary_costs_are_reported_tokens_times_prices(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    prices_file = _price_file(tmp_path)
    model_script, judge_script = Script([("ok", "An answer.")]), Script([("ok", "Rating: [[7]]")])
    with fake_model(model_script) as model_url, fake_model(judge_script) as judge_url:
        result = evaluate(task, _config(tmp_path, model_url, judge_url, limit=3, prices_file=prices_file))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    table = yaml.safe_load(PRICES)["models"]
    for name, model, script in (("cand", "cand-7b", model_script), ("judge", "judge-70b", judge_script)):
        n = sum(1 for body in script.requests if body["model"] == model)
        recorded = summary["usage"][name]
        assert (recorded["requests"], recorded["prompt_tokens"], recorded["completion_tokens"]) == \
            (n, n * OPENAI_USAGE[0], n * OPENAI_USAGE[1])
        expected = (n * OPENAI_USAGE[0] * table[model]["input"] + n * OPENAI_USAGE[1] * table[model]["output"]) / 1e6
        assert recorded["cost_usd"] == pytest.approx(expected) and recorded["cost_usd"] > 0
        assert recorded["price"]["entry"] == model and recorded["price"]["source"].startswith(f"{prices_file}:")
    assert summary["prices"] == {"sha256": load_prices(prices_file).sha256,
                                 "tables": ["judgebench/builtin/prices.yaml", str(prices_file)]}


def test_an_anthropic_judge_is_charged_the_builtin_price(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    task = load_task("sample-mt")
    model_id = "claude-3-5-haiku-20241022"
    published = yaml.safe_load(builtin_path().read_text(encoding="utf-8"))["models"]["claude-3-5-haiku"]
    # The judge speaks Anthropic's wire format: the fake HTTP server answers it as Anthropic would.
    with fake_model(Script([("ok", "An answer.")])) as model_url, \
            fake_server(Script([("ok", "Rating: [[8]]")])) as judge_url:
        config = _config(tmp_path, model_url, judge_url, limit=2)
        claude = Endpoint(provider="anthropic", name="claude", model=model_id, base_url=judge_url.removesuffix("/v1"))
        config = RunConfig(**{**config.__dict__, "judges": (Judge("claude", claude),), "prices": builtin_prices()})
        plan = plan_run(task, config, builtin_prices())
        result = evaluate(task, config)
    planned = _by_name(plan)["claude"]
    assert planned.batch_cost_usd == pytest.approx(planned.cost_usd / 2)
    assert _by_name(plan)["cand"].cost_usd == 0  # a URL server costs nothing
    (usage,) = [u for u in result.usage if u.endpoint == "claude"]
    n = usage.requests
    assert n == planned.to_send
    assert usage.cost_usd == pytest.approx((n * ANTHROPIC_USAGE[0] * published["input"]
                                            + n * ANTHROPIC_USAGE[1] * published["output"]) / 1e6)


def test_the_cli_dry_run_writes_nothing_and_after_a_run_has_nothing_to_send(tmp_path: Path) -> None:
    out = tmp_path / "results"
    prices_file = _price_file(tmp_path)
    with fake_server(Script([("ok", "An answer. [[A]]")])) as url:
        args = ["run", "--task", "sample-pairwise", "--limit", "2", "--model", f"cand-7b@{url}", "--judge",
                f"judge-70b@{url}#text", "--out", str(out), "--prices", str(prices_file)]
        dry = CliRunner().invoke(main, [*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert not out.exists()
        # Two single-turn answers, each judged in both orders.
        assert "6 requests to send, 0 in the cache; nothing was sent or written" in dry.output
        real = CliRunner().invoke(main, args)
        assert real.exit_code == 0, real.output
        again = CliRunner().invoke(main, [*args, "--dry-run"])
    assert "0 requests to send, 6 in the cache" in again.output
    # The run printed each endpoint's tokens and cost.
    judge_line = next(line for line in real.output.splitlines() if line.startswith("judge-70b "))
    cost = (2 * 2 * OPENAI_USAGE[0] * 0.9 + 2 * 2 * OPENAI_USAGE[1] * 2.7) / 1e6
    assert f"{cost:.4f}" in judge_line and "judge-70b 0.9/2.7" in judge_line


def test_plan_task_with_supplied_answers_asks_only_the_judge(tmp_path: Path) -> None:
    from judgebench.judging.requests import placeholder_candidates

    task = load_task("sample-mt")
    items = list(task.items[:3])
    judge = Endpoint(provider="openai", name="gpt-4o", model="gpt-4o-2024-08-06", base_url="https://api.openai.com/v1")
    plan = plan_task(task, items, None, (Judge("gpt-4o", judge),), placeholder_candidates(task, items),
                     lambda _: None, builtin_prices())
    (only,) = plan.endpoints
    assert only.endpoint == "gpt-4o" and only.to_send == sum(len(i.turns) for i in items)
    assert only.price is not None and only.price.model == "gpt-4o" and only.cost_usd > 0
    # Supplied answers are real text: nothing depends on a placeholder, so typical and bound inputs agree.
    assert only.input_tokens == only.input_tokens_max


def test_the_dry_run_knows_the_embedded_server_as_the_cache_does() -> None:
    """The dry run starts no server: its endpoint for the embedded model must give the cache keys a running
    server's endpoint gives (the port is not part of them)."""
    from judgebench.clients.backends.local import embedded_spec
    from judgebench.errors import ConfigError

    try:
        spec = embedded_spec()
    except ConfigError:
        pytest.skip("the embedded model is not installed")
    running = spec.endpoint("http://127.0.0.1:41234/v1")
    planned = spec.endpoint(None, concurrency=4)
    messages = (("user", "Hello"),)
    assert ChatRequest(planned, messages).cache_key() == ChatRequest(running, messages).cache_key()
    assert planned.name == running.name


@pytest.mark.integration
def test_the_dry_run_on_the_real_embedded_server(tmp_path: Path, embedded_server: object) -> None:
    """Against the real llama.cpp server: the cold dry run counts what the run sends, and afterwards the dry run,
    using an endpoint made without the server, finds everything in the cache."""
    from judgebench.clients.backends.local import LocalServer, embedded_spec

    assert isinstance(embedded_server, LocalServer)
    task = short_answers_task(tmp_path)
    live = embedded_server.endpoint(concurrency=2)
    config = RunConfig(model=live, judges=(Judge("local#json", live, constrained=True),), out=tmp_path / "r",
                       cache_path=tmp_path / "c.sqlite", limit=1, progress=False, n_bootstrap=20)
    cold = plan_run(task, config, builtin_prices())
    result = evaluate(task, config)
    # A busy machine can time a request out: its retry is sent again, but it is still one request of the plan.
    distinct = result.counters.requests - result.counters.retries
    assert cold.to_send == distinct > 0
    offline = embedded_spec().endpoint(None)
    replanned = RunConfig(**{**config.__dict__, "model": offline,
                             "judges": (Judge("local#json", offline, constrained=True),)})
    warm = plan_run(task, replanned, builtin_prices())
    # Constrained verdicts always parse and the answers are not empty (test_integration checks both), so every
    # reply was cached.
    (only,) = warm.endpoints
    assert result.n_failed == 0 and (only.to_send, only.cached) == (0, distinct)
    assert only.typical_from == distinct and only.cost_usd == 0


def _scripted_verdicts(body: dict[str, Any]) -> str:
    """An answer, or a constrained judge's reply: every field its schema asks for (a rubric's criteria met, one
    criterion's ``met``, a grade or a pair verdict), so every judgment is read."""
    if "response_format" not in body:
        return "An answer."
    schema = body["response_format"]["json_schema"]["schema"]
    values = {"boolean": True, "integer": 1, "number": 1, "string": "scripted"}
    found: dict[str, Any] = {}
    for name, field in schema["properties"].items():
        found[name] = field["enum"][0] if "enum" in field else values[field.get("type", "string")]
    return json.dumps(found)


def _per_criterion(tmp_path: Path, name: str) -> str:
    """The built-in task ``name`` asked one criterion per request."""
    from judgebench.tasks.builtin import tasks_dir

    data = yaml.safe_load((tasks_dir() / f"{name}.yaml").read_text())
    data["judge"]["mode"] = "per_criterion"
    data["name"] = f"{name}-per-criterion"
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize("task_name", ["sample-rubric", "sample-rubric/per_criterion", "sample-checklist",
                                       "sample-checklist/per_criterion", "sample-mt", "sample-pairwise"])
def test_the_progress_total_the_dry_run_and_the_run_count_the_same_requests(tmp_path: Path, task_name: str) -> None:
    """A rubric task asks once per answer all at once, once per criterion per_criterion: the progress total
    (``Work.total``), the dry run and the real run count the same requests in either mode (and for the other kinds)."""
    from judgebench.run.evaluate import select_items, work_for
    from judgebench.run.executors import DryRun
    from judgebench.run.plan import max_tokens

    name, _, mode = task_name.partition("/")
    task = load_task(_per_criterion(tmp_path, name) if mode else name)
    with fake_model(Script([("fn", _scripted_verdicts)])) as url:
        config = _config(tmp_path, url, url, limit=None)
        judge = replace(config.judges[0], constrained=True)
        config = replace(config, judges=(judge,))
        items = select_items(task, config.limit, config.item_ids)
        total = work_for(task, config, items, DryRun(lambda _: None, max_tokens)).total
        cold = plan_run(task, config, _prices(config))
        result = evaluate(task, config)
    assert result.n_failed == 0 and result.counters.retries == 0
    assert total == cold.to_send == result.counters.requests
    n_criteria = sum(len(i.criteria) for i in items)
    if mode:  # one judge request per criterion
        assert result.counters.requests == len(items) + n_criteria
    elif task.kind == "rubric":  # one judge request per answer
        assert result.counters.requests == 2 * len(items) < len(items) + n_criteria


@pytest.mark.parametrize("mode", ["all_at_once", "per_criterion"])
def test_the_cli_dry_run_run_and_progress_count_a_rubric_tasks_requests_alike(tmp_path: Path, mode: str) -> None:
    """`run --dry-run` says N requests to send, the run then makes N, and its last progress line says N/N: one judge
    request per answer all_at_once (not one per criterion), one per criterion per_criterion."""
    task = load_task(_per_criterion(tmp_path, "sample-rubric") if mode == "per_criterion" else "sample-rubric")
    items = task.items[:3]
    judged = len(items) if mode == "all_at_once" else sum(len(i.criteria) for i in items)
    n = len(items) + judged  # the answers, then the judge's requests
    out = tmp_path / "results"
    with fake_server(Script([("fn", _scripted_verdicts)])) as url:  # over HTTP: the CLI probes its servers
        args = ["run", "--task", task.path, "--limit", "3", "--model", f"cand@{url}", "--judge", f"judge@{url}#json",
                "--out", str(out), "--prices", str(_price_file(tmp_path))]
        dry = CliRunner().invoke(main, [*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        real = CliRunner().invoke(main, args)
    assert real.exit_code == 0, real.output
    assert f"{n} requests to send, 0 in the cache" in dry.output
    assert f"total requests made: {n}," in real.stdout
    progress = [line for line in real.stderr.splitlines() if " requests done" in line]
    assert progress and f": {n}/{n} requests done" in progress[-1], real.stderr
