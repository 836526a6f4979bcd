"""The executors (run.executors) and what they share: one registry of engines, one retry policy (the runner's and
the Ray engine's waits are the same function), and a dry run that is the real run with an executor that sends
nothing, so its counts are the real run's for every schedule, battles included."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from judgebench.clients.pricing import builtin_prices
from judgebench.errors import BackendError, ConfigError
from judgebench.run.cache import Cache
from judgebench.run.evaluate import evaluate
from judgebench.run.executors import ENGINES, DryRun, ExecutorOptions, engine, open_executor
from judgebench.run.plan import plan_run
from judgebench.run.ray_engine import RayEngine
from judgebench.run.retry import RetryPolicy
from judgebench.run.runner import Runner
from judgebench.tasks import load_task
from judgebench.types import ChatReply, ChatRequest, Endpoint

from ..fakeserver import Script, fake_server
from .test_battles import config, task_file, three_files

ENDPOINT = Endpoint(provider="openai", name="e", model="e", base_url="http://127.0.0.1:9/v1")


def test_engines_are_a_registry_and_an_unknown_one_is_named() -> None:
    assert set(ENGINES) == {"local", "ray"}
    with pytest.raises(ConfigError, match="expected one of local, ray"):
        engine("spark")


def test_the_local_engine_is_the_runner(tmp_path: Path) -> None:
    async def opened() -> tuple[bool, bool]:
        cache = Cache(tmp_path / "c.sqlite")
        executor = await open_executor("local", cache, ExecutorOptions(progress=False))
        try:
            return isinstance(executor, Runner), executor.generation is executor and not executor.whole_run
        finally:
            await executor.aclose()
            cache.close()

    assert asyncio.run(opened()) == (True, True)


def test_the_runner_and_ray_wait_the_same_backoff_with_the_same_jitter() -> None:
    policy = RetryPolicy(initial_wait_s=0.5, max_wait_s=30.0)
    ray = RayEngine.__new__(RayEngine)
    ray.retry = policy
    for attempt in (1, 2, 3):
        base = 0.5 * 2 ** (attempt - 1)
        waits = [policy.wait_s(attempt) for _ in range(200)] + \
            [ray._wait(attempt, [BackendError("x", retryable=True)]) for _ in range(200)]
        # Jitter of up to one initial wait on both (Ray's was up to a whole second).
        assert all(base <= w <= base + 0.5 for w in waits)
    asked = [BackendError("x", retryable=True, retry_after=2.0), BackendError("y", retryable=True, retry_after=7.0)]
    assert ray._wait(1, asked) == policy.wait_s(1, 7.0) == 7.0
    assert policy.wait_s(1, 99.0) == 30.0
    assert policy.may_retry(1, 0.0, 1.0) and not policy.may_retry(policy.max_attempts, 0.0, 0.0)


def test_the_dry_run_sends_nothing_and_counts_a_refused_cached_reply_as_to_send() -> None:
    cached = ChatReply("kept", "stop")
    requests = [ChatRequest(ENDPOINT, (("user", text),)) for text in ("cached", "refused", "new")]
    dry = DryRun(lambda r: cached if r.messages[0][1] != "new" else None, lambda _: 3)
    judged = asyncio.run(dry.outcomes(requests, lambda r, _reply: r.messages[0][1] != "refused"))
    assert judged[0] is cached and all(isinstance(o, BackendError) for o in judged[1:])
    answered = asyncio.run(dry.generation.outcomes(requests[2:], lambda _r, _p: True))
    assert isinstance(answered[0], ChatReply) and answered[0].text == "xxx " * 3
    assert [p.cached is not None for p in dry.planned] == [True, False, False, False]


@pytest.mark.parametrize("schedule", ["  schedule: all-pairs", "  schedule: baseline\n  baseline: beta",
                                      "  schedule: sampled\n  budget: 7\n  seed: 3"])
def test_a_battles_dry_run_counts_what_the_run_sends(tmp_path: Path, schedule: str) -> None:
    task = task_file(tmp_path, schedule, n_items=4)
    with fake_server(Script([("ok", "Fine. [[A>B]]")])) as url:
        run_config = config(url, tmp_path, three_files(tmp_path, task))
        cold = plan_run(task, run_config, builtin_prices())
        assert not run_config.out.exists() and not run_config.cache_path.exists()
        result = evaluate(task, run_config)
        warm = plan_run(task, run_config, builtin_prices())
    assert result.n_failed == 0 and cold.cached == 0
    assert cold.to_send == result.counters.requests > 0
    # A sampled schedule chooses its later rounds from verdicts a dry run does not have; its budget is the same.
    assert warm.to_send == 0 and warm.cached == result.counters.requests


def test_a_one_model_dry_run_refuses_what_the_run_refuses(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    with fake_server(Script([("ok", "x")])) as url:
        run_config = config(url, tmp_path, [])
        two = Endpoint(provider="openai", name="m2", model="m2", base_url=url)
        run_config = type(run_config)(**{**run_config.__dict__, "models": (ENDPOINT, two), "model": ENDPOINT})
        with pytest.raises(ConfigError, match="judges one model at a time"):
            plan_run(task, run_config, builtin_prices())
