"""Servers that are slow on purpose or by load: a reply that drips a byte at a time, a server that never answers,
requests past the server's slots. Each request is bounded by --timeout and --max-elapsed however the server keeps
it open, and no more requests are in flight than the server has slots. Over both transports of an
OpenAI-compatible endpoint (the openai SDK and the lean aiohttp client)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import BackendError
from judgebench.run.cache import Cache
from judgebench.run.runner import RetryPolicy, Runner
from judgebench.types import ChatReply, ChatRequest, Endpoint, Transport

from ..fakeserver import Script, fake_server


@pytest.fixture(params=["sdk", "lean"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


def endpoint(url: str, transport: Transport, *, concurrency: int = 2, slots: int | None = None) -> Endpoint:
    return Endpoint(provider="openai", name="slow", model="fake", base_url=url, concurrency=concurrency,
                    transport=transport, slots=slots)


def chat(at: Endpoint, text: str = "hello") -> ChatRequest:
    return ChatRequest(at, (("user", text),), (("max_tokens", 8), ("temperature", 0.0)))


def send(tmp_path: Path, retry: RetryPolicy,
         requests: list[ChatRequest]) -> tuple[Runner, list[ChatReply | BackendError]]:
    runner = Runner(Cache(tmp_path / "c.sqlite"), retry=retry, progress=False)

    async def go() -> list[ChatReply | BackendError]:
        try:
            return await runner.outcomes(requests, lambda _request, _reply: True)
        finally:
            await runner.aclose()

    return runner, asyncio.run(go())


def test_a_dripping_reply_is_cut_at_max_elapsed(tmp_path: Path, transport: Transport) -> None:
    """A byte every 0.2 s for ever keeps every per-read timeout happy; --max-elapsed bounds the attempt itself."""
    script = Script([("drip", 0.2)])
    with fake_server(script) as url:
        _, [outcome] = send(tmp_path, RetryPolicy(max_attempts=1, max_elapsed_s=1.0),
                            [chat(endpoint(url, transport))])
    assert isinstance(outcome, BackendError) and "timed out" in str(outcome)
    assert len(script.requests) == 1 and script.abandoned == 1  # the client hung up on it


def test_a_server_that_never_answers_is_cut_at_max_elapsed(tmp_path: Path, transport: Transport) -> None:
    script = Script([("hang",)])
    with fake_server(script) as url:
        _, [outcome] = send(tmp_path, RetryPolicy(max_attempts=1, max_elapsed_s=1.0),
                            [chat(endpoint(url, transport))])
    assert isinstance(outcome, BackendError) and "timed out" in str(outcome)
    assert script.abandoned == 1


def test_max_elapsed_bounds_the_attempts_together(tmp_path: Path, transport: Transport) -> None:
    """With attempts to spare, a request that never gets an answer still ends at --max-elapsed: attempts and the
    waits between them share it."""
    script = Script([("hang",)])
    with fake_server(script) as url:
        _, [outcome] = send(tmp_path, RetryPolicy(max_attempts=50, max_elapsed_s=1.5, timeout_s=0.5,
                                                  initial_wait_s=0.01, max_wait_s=0.05),
                            [chat(endpoint(url, transport))])
    assert isinstance(outcome, BackendError) and "timed out" in str(outcome)
    assert 2 <= len(script.requests) <= 3  # attempts of 0.5 s each within 1.5 s, not 50


def test_timeout_cuts_one_slow_attempt_and_the_retry_answers(tmp_path: Path, transport: Transport) -> None:
    script = Script([("hang",), ("ok", "in time")])
    with fake_server(script) as url:
        runner, [outcome] = send(tmp_path, RetryPolicy(max_attempts=3, max_elapsed_s=20, timeout_s=0.5,
                                                       initial_wait_s=0.01, max_wait_s=0.05),
                                 [chat(endpoint(url, transport))])
    assert isinstance(outcome, ChatReply) and outcome.text == "in time"
    assert runner.counters.retries == 1 and script.abandoned == 1


def test_in_flight_never_exceeds_the_servers_slots(tmp_path: Path, transport: Transport) -> None:
    """Concurrency 8 against a server of 2 slots: the fake server never sees more than 2 requests at once, however
    the adaptive limit moves."""
    script = Script([("ok", "x", 0.05)])
    with fake_server(script) as url:
        at = endpoint(url, transport, concurrency=8, slots=2)
        _, outcomes = send(tmp_path, RetryPolicy(), [chat(at, f"q{i}") for i in range(24)])
    assert all(isinstance(o, ChatReply) for o in outcomes) and len(script.requests) == 24
    assert script.peak == 2


def test_adaptive_concurrency_never_rises_past_the_slots(tmp_path: Path, transport: Transport) -> None:
    """Starting at 1 with a server that keeps answering fast, the limit rises, but to the slots and no further."""
    script = Script([("ok", "x", 0.01)])
    with fake_server(script) as url:
        at = endpoint(url, transport, concurrency=1, slots=3)
        runner, outcomes = send(tmp_path, RetryPolicy(), [chat(at, f"q{i}") for i in range(60)])
        limit = runner.pool(at).replicas[0].limit
    assert all(isinstance(o, ChatReply) for o in outcomes)
    assert script.peak <= 3 and limit.value <= limit.ceiling == 3


def test_waiting_for_a_slot_does_not_count_against_the_timeout(tmp_path: Path, transport: Transport) -> None:
    """Ten requests through one slot, each answered in 0.3 s: the last waits 2.7 s unsent, longer than the 1.5 s
    timeout, and none times out. (Each request has 1.2 s of room over its own 0.3 s, for a busy machine.)"""
    script = Script([("ok", "x", 0.3)])
    with fake_server(script) as url:
        at = endpoint(url, transport, concurrency=4, slots=1)
        runner, outcomes = send(tmp_path, RetryPolicy(max_attempts=1, timeout_s=1.5, max_elapsed_s=1.5),
                                [chat(at, f"q{i}") for i in range(10)])
    assert all(isinstance(o, ChatReply) for o in outcomes), outcomes
    assert script.peak == 1 and runner.counters.retries == 0


def test_run_max_elapsed_stops_a_dripping_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                transport: Transport) -> None:
    """The issue's case through the command line: `--max-elapsed 1 --max-attempts 1` against a judge that drips
    its reply for ever ends with the judgments failed as timed out (exit 3), not a run that never ends."""
    monkeypatch.setenv("JUDGEBENCH_TRANSPORT", transport)
    judge = Script([("drip", 0.2)])
    with fake_server(Script([("ok", "An answer.")])) as model_url, fake_server(judge) as judge_url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--out", str(tmp_path / "r"),
                                           "--model", f"m@{model_url}", "--judge", f"j@{judge_url}",
                                           "--max-elapsed", "1", "--max-attempts", "1", "--no-progress"])
    assert result.exit_code == 3, result.output
    assert "timed out" in result.stderr
    assert judge.abandoned == len(judge.requests) == 2  # two turns, each cut


def test_run_timeout_option_is_checked(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--timeout", "nan", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--timeout" in result.stderr
