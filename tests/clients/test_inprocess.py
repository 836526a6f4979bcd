"""The in-process fake model (clients.backends.inprocess): a whole run through `evaluate(task, config)` with no
socket, scripted or computed replies, usage counted, a backend's errors raised; and the fake server's scripts
answered in-process exactly as over HTTP (tests/fakemodel.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from judgebench.clients.backends import make_backend
from judgebench.clients.backends.inprocess import HOST, InProcessBackend, MockLLM, model_for, serving
from judgebench.clients.backends.openai_sdk import OpenAICompatBackend
from judgebench.clients.endpoints import parse_judge
from judgebench.errors import BackendError, ConfigError
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.run.runner import RetryPolicy
from judgebench.tasks import load_task
from judgebench.types import ChatReply, ChatRequest, Endpoint

from ..fakemodel import fake_model
from ..fakeserver import Script, fake_server

FAST = RetryPolicy(max_attempts=3, initial_wait_s=0.0, max_wait_s=0.0)


def run_config(judge_url: str, model_url: str, tmp_path: Path) -> RunConfig:
    model = Endpoint(provider="openai", name="cand", model="cand", base_url=model_url, concurrency=2)
    return RunConfig(model=model, judges=(parse_judge(f"j@{judge_url}"),), out=tmp_path / "r",
                     cache_path=tmp_path / "c.sqlite", limit=2, progress=False, n_bootstrap=50, retry=FAST)


def test_a_whole_run_goes_through_in_process_models_with_usage_counted(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    candidate = MockLLM(["An answer of five words."])
    judge = MockLLM(lambda request: f"Judged {len(request.messages)} message(s). Rating: [[7]]")
    with serving(candidate) as model_url, serving(judge) as judge_url:
        assert model_url.startswith(f"http://{HOST}/") and judge_url != model_url
        result = evaluate(task, run_config(judge_url, model_url, tmp_path))
    assert result.n_failed == 0 and result.n_judgments == 4  # 2 questions, 2 turns each
    assert [row.score for row in result.rows] == [7.0]
    assert len(judge.requests) == 4 and len(candidate.requests) == 4
    assert result.counters.requests == 8
    # Usage: words of the prompt and of the reply, summed by the model and by the run alike.
    assert judge.completion_tokens == 4 * 5 and candidate.completion_tokens == 4 * 5
    assert result.counters.prompt_tokens == judge.prompt_tokens + candidate.prompt_tokens > 0
    assert result.counters.completion_tokens == judge.completion_tokens + candidate.completion_tokens


def test_scripted_errors_are_raised_and_retried_as_a_backend_raises_them(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    busy = BackendError("j: HTTP 429: slow down", retryable=True, status=429)
    refused = BackendError("j: HTTP 400: bad request", retryable=False, status=400)
    candidate = MockLLM(["An answer."])
    judge = MockLLM([busy, "Rating: [[8]]", refused, "Rating: [[8]]"])
    with serving(candidate) as model_url, serving(judge) as judge_url:
        result = evaluate(task, run_config(judge_url, model_url, tmp_path))
    # The 429 was asked again; the 400 is a refusal of that request, never retried: one judgment failed.
    assert result.counters.retries == 1 and result.n_failed == 1 and result.n_judgments == 4
    assert len(judge.requests) == 5


def test_an_endpoint_names_a_registered_model_or_none() -> None:
    real = Endpoint("openai", "m", "m", "http://127.0.0.1:8000/v1")
    assert model_for(real) is None and isinstance(make_backend(real), OpenAICompatBackend)
    mock = MockLLM(["x"])
    with serving(mock, name="named") as url:
        endpoint = Endpoint("openai", "m", "m", url)
        assert url == f"http://{HOST}/named/v1" and model_for(endpoint) is mock
        assert isinstance(make_backend(endpoint), InProcessBackend)
    with pytest.raises(ConfigError, match="no in-process model is registered"):
        make_backend(Endpoint("openai", "m", "m", url))


async def test_a_reply_may_be_a_whole_chat_reply_or_awaited() -> None:
    whole = ChatReply("t", finish_reason="length", prompt_tokens=3, completion_tokens=1)

    async def model(request: ChatRequest) -> ChatReply:
        await asyncio.sleep(0)
        return whole

    with serving(model) as url:
        endpoint = Endpoint("openai", "m", "m", url)
        reply = await make_backend(endpoint).complete(ChatRequest(endpoint, (("user", "hi"),)))
    assert reply == whole


@pytest.mark.parametrize("step", [("ok", "Rating: [[7]]"), ("json", {"choices": [{"message": {"content": "x"}}]}),
                                  ("fn", lambda body: body["messages"][-1]["content"].upper()),
                                  ("429", 3), ("500",), ("401", None, "bad key"), ("raw", 200, b"<html>")])
async def test_a_script_answered_in_process_gives_what_it_gives_over_http(step: tuple[object, ...]) -> None:
    """The same reply, or the same error (kind, status, Retry-After), either way."""

    async def outcome(url: str) -> object:
        endpoint = Endpoint("openai", "m", "m", url)
        backend = make_backend(endpoint)
        try:
            reply = await backend.complete(ChatRequest(endpoint, (("user", "hello"),)))
            return (reply.text, reply.finish_reason, reply.prompt_tokens, reply.completion_tokens)
        except BackendError as exc:
            return (type(exc), exc.retryable, exc.status, exc.retry_after, exc.unreachable)
        finally:
            await backend.aclose()

    over_http, in_process = Script([step]), Script([step])
    with fake_server(over_http) as http_url:
        expected = await outcome(http_url)
    with fake_model(in_process) as url:
        assert await outcome(url) == expected
    assert in_process.requests == over_http.requests  # the same request bodies arrived
