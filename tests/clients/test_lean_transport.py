"""The lean transport (aiohttp + orjson) against a scripted local server: it reads replies, negotiates the
response format and classifies faults as the SDK transport does (most tests run over both), and handles what
only a hand-made client must: a body that is not JSON, a huge body, a body cut short, a slow server, its own
connection pool."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.clients.backends import lean as lean_module
from judgebench.clients.backends import make_backend, with_transport
from judgebench.clients.backends.lean import LeanBackend
from judgebench.clients.backends.local import free_port
from judgebench.clients.backends.openai_sdk import OpenAICompatBackend
from judgebench.clients.backends.openai_wire import LOGPROB_TOKENS, MAX_REPLY_CHARS
from judgebench.errors import BackendError, ConfigError
from judgebench.run.cache import Cache
from judgebench.run.runner import RetryPolicy, Runner
from judgebench.types import ChatReply, ChatRequest, Endpoint, Transport

from ..fakeserver import Script, completion, fake_server

FAST = RetryPolicy(max_attempts=3, max_elapsed_s=20, initial_wait_s=0.01, max_wait_s=0.5)
SCHEMA = json.dumps({"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]},
                    sort_keys=True, separators=(",", ":"))
SENTINEL = "sk-judgebench-sentinel-lean-0123456789abcdef"


@pytest.fixture(params=["sdk", "lean"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


def endpoint(url: str, transport: Transport, concurrency: int = 2, **kwargs: Any) -> Endpoint:
    return Endpoint(provider="openai", name="fake", model="fake-model", base_url=url, concurrency=concurrency,
                    transport=transport, **kwargs)


def chat(end: Endpoint, text: str = "hello", schema: str | None = None) -> ChatRequest:
    return ChatRequest(end, (("system", "Be brief."), ("user", text)),
                       (("max_tokens", 8), ("temperature", 0.0), ("logprobs", True), ("top_logprobs", 2)), schema)


def run_calls(requests: list[ChatRequest], tmp_path: Path, **runner_kwargs: Any) -> list[ChatReply | BackendError]:
    """Every request through a fresh runner (cache, retries, semaphore), concurrently."""
    async def go() -> list[ChatReply | BackendError]:
        runner = Runner(Cache(tmp_path / "c.sqlite"), retry=FAST, progress=False, **runner_kwargs)
        try:
            return await runner.outcomes(requests, lambda _request, _reply: True)
        finally:
            await runner.aclose()

    return asyncio.run(go())


def one_call(request: ChatRequest, tmp_path: Path, **runner_kwargs: Any) -> ChatReply:
    (outcome,) = run_calls([request], tmp_path, **runner_kwargs)
    if isinstance(outcome, BackendError):
        raise outcome
    return outcome


def backend_calls(end: Endpoint, requests: list[ChatRequest], **kwargs: Any) -> list[ChatReply]:
    """Straight to the backend, no retries: what one attempt gives."""
    async def go() -> list[ChatReply]:
        backend = make_backend(end, **kwargs)
        try:
            return [await backend.complete(r) for r in requests]
        finally:
            await backend.aclose()

    return asyncio.run(go())


# -- selection -------------------------------------------------------------------------------------------------


def test_make_backend_picks_the_transport_and_the_cache_key_ignores_it() -> None:
    sdk = endpoint("http://127.0.0.1:9/v1", "sdk")
    lean = with_transport(sdk, "lean")
    local = with_transport(replace(sdk, provider="local"), "lean")
    anthropic = Endpoint(provider="anthropic", name="c", model="claude-x")
    backends = [make_backend(sdk), make_backend(lean), make_backend(local)]
    assert [type(b) for b in backends] == [OpenAICompatBackend, LeanBackend, LeanBackend]
    for backend in backends:
        asyncio.run(backend.aclose())
    assert with_transport(anthropic, "lean") == anthropic  # not OpenAI-compatible: left as it is
    assert chat(sdk).cache_key() == chat(lean).cache_key()
    with pytest.raises(ConfigError, match=r"unknown transport 'fast'; use one of sdk, lean"):
        make_backend(replace(sdk, transport="fast"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown transport"):
        with_transport(sdk, "fast")  # type: ignore[arg-type]


def test_a_reply_cached_through_one_transport_is_served_to_the_other(tmp_path: Path) -> None:
    script = Script([("ok", "cached once")])
    with fake_server(script) as url:
        first = one_call(chat(endpoint(url, "sdk")), tmp_path)
        second = one_call(chat(endpoint(url, "lean")), tmp_path)
    assert len(script.requests) == 1
    assert (first.text, first.from_cache, second.text, second.from_cache) == ("cached once", False, "cached once", True)


# -- the same wire format both ways -----------------------------------------------------------------------------


def test_both_transports_send_the_same_body_and_read_a_rich_reply_alike(tmp_path: Path) -> None:
    tokens = [{"token": f"t{i}", "logprob": -0.5 * i, "bytes": [116],
               "top_logprobs": [{"token": f"t{i}", "logprob": -0.5 * i}, {"token": "x", "logprob": -9.0}]}
              for i in range(LOGPROB_TOKENS + 6)]
    payload = completion('{"score": 8}')
    payload["choices"][0].update(finish_reason="length", logprobs={"content": tokens})
    payload["choices"][0]["message"]["reasoning_content"] = "Weighing it up."
    payload["usage"] = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    replies, bodies = {}, {}
    for name in ("sdk", "lean"):
        script = Script([("json", payload)])
        with fake_server(script, keep_alive=True) as url:
            end = replace(endpoint(url, name), provider="local")  # the llama.cpp form of response_format
            (reply,) = backend_calls(end, [chat(end, "Grade this.", SCHEMA)])
        replies[name] = replace(reply, latency_s=0.0)
        bodies[name] = script.requests[0]
        assert reply.latency_s > 0
    assert replies["sdk"] == replies["lean"]
    assert bodies["sdk"] == bodies["lean"]
    reply = replies["lean"]
    assert (reply.text, reply.finish_reason, reply.prompt_tokens, reply.completion_tokens) == (
        '{"score": 8}', "length", 120, 30)
    assert reply.reasoning == "Weighing it up."
    assert len(reply.logprobs) == LOGPROB_TOKENS  # only the first tokens are kept
    assert reply.logprobs[3] == ("t3", (("t3", -1.5), ("x", -9.0)))
    body = bodies["lean"]
    assert body["model"] == "fake-model" and body["max_tokens"] == 8 and body["top_logprobs"] == 2
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Grade this."}]
    assert body["response_format"] == {"type": "json_object", "schema": json.loads(SCHEMA)}


@pytest.mark.parametrize("refusal", [
    ("400", None, "response_format type json_schema is not supported; use json_object"),
    # FastAPI's validation error (llama-cpp-python's server): the reason is in "detail", not "error.message".
    ("raw", 422, json.dumps({"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                                         "msg": "Input should be 'text' or 'json_object'",
                                         "input": "json_schema"}]}).encode()),
])
def test_a_json_schema_refusal_is_learned_once_per_endpoint(tmp_path: Path, transport: Transport,
                                                            refusal: tuple[Any, ...]) -> None:
    """Four constrained requests at once: one finds out that the server wants the llama.cpp form, the others
    wait for the answer; no other request is ever sent with json_schema."""
    script = Script([refusal, ("ok", '{"score": 7}')])
    with fake_server(script) as url:
        end = endpoint(url, transport, concurrency=4)
        outcomes = run_calls([chat(end, f"q{i}", SCHEMA) for i in range(4)], tmp_path)
    assert all(isinstance(o, ChatReply) and o.text == '{"score": 7}' for o in outcomes)
    kinds = [body["response_format"]["type"] for body in script.requests]
    assert kinds == ["json_schema"] + ["json_object"] * 4


# -- faults, both transports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"<html><body>It works!</body></html>", b'{"choices": [{"message": ',
                                  b'["a", "list"]', b'{"choices": [{"message": {"content": 7}}]}'])
def test_a_body_that_is_not_a_completion_is_a_clear_error_not_retried(tmp_path: Path, transport: Transport,
                                                                       body: bytes) -> None:
    script = Script([("raw", 200, body)])
    with fake_server(script) as url, pytest.raises(BackendError) as caught:
        one_call(chat(endpoint(url, transport)), tmp_path)
    assert not caught.value.retryable and len(script.requests) == 1
    assert "is not a chat completion" in str(caught.value) and "/v1" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_huge_reply_is_refused_and_not_cached(tmp_path: Path, transport: Transport) -> None:
    script = Script([("ok", "x" * (MAX_REPLY_CHARS + 1))])
    cache_path = tmp_path / "c.sqlite"
    with fake_server(script) as url, pytest.raises(BackendError, match="over the 1,000,000 judgebench keeps"):
        one_call(chat(endpoint(url, transport)), tmp_path)
    assert len(script.requests) == 1 and len(Cache(cache_path)) == 0


def test_a_reply_cut_short_is_retried(tmp_path: Path, transport: Transport) -> None:
    script = Script([("cut", json.dumps(completion("never whole")).encode()), ("ok", "whole")])
    with fake_server(script) as url:
        reply = one_call(chat(endpoint(url, transport)), tmp_path)
    assert reply.text == "whole" and len(script.requests) == 2


def test_a_slow_server_times_out_and_is_retried(tmp_path: Path, transport: Transport) -> None:
    script = Script([("ok", "too late", 1.5), ("ok", "in time")])
    with fake_server(script) as url:
        reply = one_call(chat(endpoint(url, transport)), tmp_path,
                         backend_factory=lambda e: make_backend(e, timeout_s=0.3))
    assert reply.text == "in time" and len(script.requests) == 2


def test_a_dead_port_is_a_retryable_cannot_connect(tmp_path: Path, transport: Transport) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match="cannot connect") as caught:
        backend_calls(endpoint(url, transport), [chat(endpoint(url, transport))])
    assert caught.value.retryable and url in str(caught.value)


def test_a_key_echoed_at_the_cut_is_redacted_whole(tmp_path: Path, transport: Transport,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's text is cut to a few hundred characters; a key that straddles the cut must not leave its
    first characters behind."""
    monkeypatch.setenv("MY_KEY", SENTINEL)
    script = Script([("500", None, "y" * 290 + SENTINEL)])
    with fake_server(script) as url, pytest.raises(BackendError) as caught:
        backend_calls(endpoint(url, transport, api_key_env="MY_KEY"), [chat(endpoint(url, transport))])
    assert caught.value.retryable and caught.value.status == 500
    assert SENTINEL[:8] not in str(caught.value) and "[redacted MY_KEY]"[:10] in str(caught.value)


# -- the lean transport's own ------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["ok", "stream"])
def test_lean_stops_reading_a_body_over_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  step: str) -> None:
    """With Content-Length (refused before reading) and without (refused once the limit is passed)."""
    monkeypatch.setattr(lean_module, "MAX_BODY_BYTES", 100_000)
    text = "z" * 300_000
    script = Script([("ok", text) if step == "ok" else ("stream", json.dumps(completion(text)).encode())])
    with fake_server(script) as url, pytest.raises(BackendError, match="over 100,000 bytes") as caught:
        one_call(chat(endpoint(url, "lean")), tmp_path)
    assert not caught.value.retryable and len(script.requests) == 1


def test_lean_cuts_a_long_error_body_instead_of_refusing_it() -> None:
    script = Script([("raw", 503, b"overloaded " + b"x" * 200_000)])
    with fake_server(script) as url, pytest.raises(BackendError, match=r"HTTP 503: overloaded x+$") as caught:
        backend_calls(endpoint(url, "lean"), [chat(endpoint(url, "lean"))])
    assert caught.value.retryable and caught.value.status == 503 and len(str(caught.value)) < 400


def test_lean_reads_a_body_without_content_length() -> None:
    script = Script([("stream", json.dumps(completion("streamed whole")).encode())])
    with fake_server(script) as url:
        (reply,) = backend_calls(endpoint(url, "lean"), [chat(endpoint(url, "lean"))])
    assert reply.text == "streamed whole" and reply.prompt_tokens == 11


def test_lean_keeps_connections_alive_within_the_endpoints_concurrency(tmp_path: Path) -> None:
    script = Script([("ok", "x", 0.01)])
    with fake_server(script, keep_alive=True) as url:
        end = endpoint(url, "lean", concurrency=3)
        # A fixed concurrency: the adaptive limit would (rightly) raise it while the server keeps up.
        outcomes = run_calls([chat(end, f"q{i}") for i in range(30)], tmp_path, adaptive=False)
    assert all(isinstance(o, ChatReply) for o in outcomes) and len(script.requests) == 30
    assert 1 <= len(set(script.peers)) <= 3  # 30 requests over at most 3 connections


def test_run_transport_option_reaches_model_and_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUDGEBENCH_TRANSPORT", raising=False)
    agents = {}
    for transport in ("lean", "sdk"):
        model, judge = Script([("ok", "An answer.")]), Script([("ok", "Rating: [[7]]")])
        out = tmp_path / transport
        with fake_server(model) as model_url, fake_server(judge) as judge_url:
            result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--out", str(out),
                                               "--model", f"m@{model_url}", "--judge", f"j@{judge_url}",
                                               "--transport", transport])
        assert result.exit_code == 0, result.output
        config = json.loads(next(out.rglob("config.json")).read_text())
        assert config["model"]["transport"] == transport
        assert config["judges"][0]["endpoint"]["transport"] == transport
        agents[transport] = {h.get("User-Agent", "") for h in model.headers + judge.headers}
    assert all("aiohttp" in a for a in agents["lean"]) and not any("aiohttp" in a for a in agents["sdk"])
    bad = CliRunner().invoke(main, ["run", "--transport", "fast", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "'fast' is not one of 'sdk', 'lean'" in bad.output


def test_the_proxy_in_the_environment_is_used_as_by_the_sdk(transport: Transport,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is honoured by both transports: the request for a host that does not exist reaches the proxy
    (the local fake server, so nothing leaves the machine)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ALL_PROXY", "NO_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    script = Script([("ok", "through the proxy")])
    with fake_server(script) as url:
        monkeypatch.setenv("HTTP_PROXY", url.removesuffix("/v1"))
        end = endpoint("http://judgebench-test.invalid/v1", transport)
        (reply,) = backend_calls(end, [chat(end)])
    assert reply.text == "through the proxy" and len(script.requests) == 1
    assert script.headers[0].get("Host") == "judgebench-test.invalid"


@pytest.mark.parametrize("transport", ["sdk", "lean"])
def test_a_lone_surrogate_in_a_reply_is_kept_cached_and_written(tmp_path: Path, transport: Transport) -> None:
    """``"\\ud800"`` is valid JSON but not storable UTF-8: the reply is read (orjson refuses it; the standard
    library does not), cached escaped and served back the same, and the run's records are written."""
    body = json.dumps(completion("Rating: [[7]] \ud800")).encode()  # json.dumps escapes the surrogate
    assert b"\\ud800" in body
    script = Script([("raw", 200, body)])
    with fake_server(script) as url:
        end = endpoint(url, transport)
        (reply,) = run_calls([chat(end)], tmp_path)
        assert isinstance(reply, ChatReply) and reply.text == "Rating: [[7]] \ud800"
        (again,) = run_calls([chat(end)], tmp_path)
    assert isinstance(again, ChatReply) and again.from_cache and again.text == reply.text
    assert len(script.requests) == 1


@pytest.mark.parametrize("transport", ["sdk", "lean"])
def test_a_body_that_is_not_utf8_is_a_malformed_reply(tmp_path: Path, transport: Transport) -> None:
    script = Script([("raw", 200, b'{"choices": [{"message": {"content": "\xff\xfe"}}]}')])
    with fake_server(script) as url:
        (outcome,) = run_calls([chat(endpoint(url, transport))], tmp_path)
    assert isinstance(outcome, BackendError) and "not JSON in UTF-8" in str(outcome)
