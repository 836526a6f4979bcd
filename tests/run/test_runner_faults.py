"""The runner's single retry layer against scripted faults from a local fake server, over both transports of
an OpenAI-compatible endpoint (the openai SDK and the lean aiohttp client): they classify faults alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from judgebench.clients.backends import make_backend
from judgebench.errors import BackendError
from judgebench.run.cache import Cache
from judgebench.run.runner import RetryPolicy, Runner
from judgebench.types import ChatRequest, Endpoint, Transport

from ..fakeserver import Script, fake_server

FAST = RetryPolicy(max_attempts=4, max_elapsed_s=20, initial_wait_s=0.01, max_wait_s=2.0)


@pytest.fixture(params=["sdk", "lean"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


def request(base_url: str, text: str = "hello", transport: Transport = "sdk") -> ChatRequest:
    endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=base_url, concurrency=2,
                        transport=transport)
    return ChatRequest(endpoint, (("user", text),), (("max_tokens", 8), ("temperature", 0.0)))


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def call(runner: Runner, req: ChatRequest):  # type: ignore[no-untyped-def]
    try:
        return await runner.call(req)
    finally:
        await runner.aclose()


def test_429_honours_retry_after(tmp_path: Path, transport: Transport) -> None:
    script = Script([("429", 1), ("ok", "fine")])
    with fake_server(script) as url:
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False)
        reply = run(call(runner, request(url, transport=transport)))
    assert reply.text == "fine"
    assert len(script.requests) == 2
    assert script.times[1] - script.times[0] >= 0.95  # waited the server's Retry-After, not the 10 ms backoff
    assert runner.counters.retries == 1 and runner.counters.requests == 2


def test_500_and_dropped_connection_are_retried(tmp_path: Path, transport: Transport) -> None:
    script = Script([("500",), ("drop",), ("ok", "after faults")])
    with fake_server(script) as url:
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False)
        reply = run(call(runner, request(url, transport=transport)))
    assert reply.text == "after faults"
    assert len(script.requests) == 3


@pytest.mark.parametrize("status", ["400", "401", "403", "404"])
def test_client_errors_are_not_retried(tmp_path: Path, transport: Transport, status: str) -> None:
    script = Script([(status,), ("ok", "never reached")])
    with fake_server(script) as url:
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False)
        with pytest.raises(BackendError, match=f"HTTP {status}"):
            run(call(runner, request(url, transport=transport)))
    assert len(script.requests) == 1


def test_attempt_limit_then_failure_is_not_cached(tmp_path: Path, transport: Transport) -> None:
    script = Script([("500",)])
    cache = Cache(tmp_path / "c.sqlite")
    with fake_server(script) as url:
        runner = Runner(cache, retry=FAST, progress=False)
        with pytest.raises(BackendError):
            run(call(runner, request(url, transport=transport)))
    assert len(script.requests) == FAST.max_attempts
    assert len(cache) == 0


def test_successful_reply_is_cached_and_reused(tmp_path: Path, transport: Transport) -> None:
    script = Script([("ok", "once")])
    cache = Cache(tmp_path / "c.sqlite")
    with fake_server(script) as url:
        first = run(call(Runner(cache, retry=FAST, progress=False), request(url, transport=transport)))
        second_runner = Runner(cache, retry=FAST, progress=False)
        second = run(call(second_runner, request(url, transport=transport)))
    assert len(script.requests) == 1
    assert (first.text, first.from_cache) == ("once", False)
    assert (second.text, second.from_cache) == ("once", True)
    assert second.prompt_tokens == 11 and second_runner.counters.cache_hits == 1


def test_rejected_reply_is_not_cached(tmp_path: Path, transport: Transport) -> None:
    """A judge reply that does not parse is asked again next time, not served from the cache."""
    script = Script([("ok", "no verdict here")])
    cache = Cache(tmp_path / "c.sqlite")
    with fake_server(script) as url:
        runner = Runner(cache, retry=FAST, progress=False)

        async def go() -> None:
            await runner.call(request(url, transport=transport), accept=lambda r: "[[" in r.text)
            await runner.call(request(url, transport=transport), accept=lambda r: "[[" in r.text)
            await runner.aclose()

        run(go())
    assert len(script.requests) == 2 and len(cache) == 0


def test_concurrency_is_bounded_per_endpoint(tmp_path: Path, transport: Transport) -> None:
    """With adaptive concurrency off, never more requests at once than the endpoint's concurrency."""
    script = Script([("ok", "x")])
    in_flight = 0
    peak = 0

    def tracking(endpoint: Endpoint):  # type: ignore[no-untyped-def]
        backend = make_backend(endpoint)

        class Tracked:
            async def complete(self, req):  # type: ignore[no-untyped-def]
                nonlocal in_flight, peak
                in_flight += 1
                peak = max(peak, in_flight)
                try:
                    await asyncio.sleep(0.02)
                    return await backend.complete(req)
                finally:
                    in_flight -= 1

            async def aclose(self) -> None:
                await backend.aclose()

        return Tracked()

    with fake_server(script) as url:
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False, backend_factory=tracking,
                        adaptive=False)

        async def go() -> None:
            await asyncio.gather(*(runner.call(request(url, f"q{i}", transport)) for i in range(10)))
            await runner.aclose()

        run(go())
    assert len(script.requests) == 10
    assert peak == 2  # the endpoint's concurrency


def test_anthropic_backend_sends_the_system_prompt_apart_and_retries_529(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Anthropic's wire format against a scripted local server: the system message travels in ``system``,
    the key in a header (never in results), an overloaded 529 is retried."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-not-secret")
    script = Script([("529",), ("ok", "Rating: [[7]]")])
    with fake_server(script) as url:
        endpoint = Endpoint(provider="anthropic", name="claude", model="claude-x", base_url=url.removesuffix("/v1"),
                            api_key_env="ANTHROPIC_API_KEY")
        req = ChatRequest(endpoint, (("system", "Be a judge."), ("user", "Grade this.")), (("max_tokens", 16),
                                                                                            ("temperature", 0.0)))
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False)
        reply = run(call(runner, req))
    assert reply.text == "Rating: [[7]]" and reply.prompt_tokens == 21 and reply.completion_tokens == 4
    assert len(script.requests) == 2
    body = script.requests[-1]
    assert body["system"] == "Be a judge." and body["messages"] == [{"role": "user", "content": "Grade this."}]
    assert body["max_tokens"] == 16 and body["model"] == "claude-x"
    sent = script.headers[-1]
    assert "sk-ant-test-key-not-secret" in sent.get("x-api-key", "") + sent.get("Authorization", "")


def test_without_a_terminal_a_progress_line_comes_even_while_nothing_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A stalled server still gets a line every few seconds (here every 0.1 s) in a CI log."""
    from judgebench.run import runner as runner_module

    monkeypatch.setattr(runner_module, "PROGRESS_EVERY_S", 0.1)
    with fake_server(Script([("ok", "slow", 0.8)])) as url:
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False, progress_lines=True)

        async def go() -> None:
            with runner.progress_bar(1, "stalled"):
                await runner.outcomes([request(url)], lambda _request, _reply: True)
            await runner.aclose()

        run(go())
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("stalled: 0/1")]
    assert len(lines) >= 3 and "in flight: fake: 127.0.0.1:" in lines[0] and " 1/" in lines[0]
