"""The Ray engine's pieces that need no Ray instance: the request body it sends, how it reads replies and errors,
the vLLM processor's configuration and rows (no GPU here: the config is checked, not run), and the message
without the extra."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.clients.backends.openai_sdk import OpenAICompatBackend
from judgebench.clients.ray_rows import http_payload, reply_from_exchange, reply_from_generation, vllm_row
from judgebench.errors import BackendError, ConfigError
from judgebench.run import ray_engine
from judgebench.run.ray_engine import vllm_model_id
from judgebench.types import ChatReply, ChatRequest, Endpoint

from ..fakeserver import Script, completion, fake_server

SCHEMA = json.dumps({"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]})


def endpoint(url: str = "http://127.0.0.1:9/v1", **kwargs: Any) -> Endpoint:
    return Endpoint(provider="openai", name="judge", model="judge-model", base_url=url, **kwargs)


def judge_request(url: str = "http://127.0.0.1:9/v1", **kwargs: Any) -> ChatRequest:
    return ChatRequest(endpoint(url, **kwargs), (("system", "Grade it."), ("user", "Q: 2+2? A: 4")),
                       (("max_tokens", 64), ("temperature", 0.0), ("logprobs", True), ("top_logprobs", 5)), SCHEMA)


def exchange(status: int | None, body: Any = "", **extra: Any) -> str:
    return json.dumps({"status": status, "body": body if isinstance(body, str) else json.dumps(body),
                       "latency_s": 0.25, **extra})


def test_the_body_sent_through_ray_is_what_the_openai_sdk_sends() -> None:
    script = Script([("ok", "[[4]]")])
    with fake_server(script) as url:
        request = judge_request(url)
        backend = OpenAICompatBackend(request.endpoint)

        async def send() -> None:
            await backend.complete(request)
            await backend.aclose()

        asyncio.run(send())
    assert json.loads(http_payload(request, schema_in_json_object=False)) == script.requests[0]
    in_json_object = json.loads(http_payload(request, schema_in_json_object=True))
    assert in_json_object["response_format"] == {"type": "json_object", "schema": json.loads(SCHEMA)}


def test_a_reply_reads_as_the_local_backend_reads_it() -> None:
    body = completion("Good. [[8]]")
    body["choices"][0]["message"]["reasoning_content"] = "thinking"
    body["choices"][0]["logprobs"] = {"content": [
        {"token": "8", "logprob": -0.1,
         "top_logprobs": [{"token": "8", "logprob": -0.1}, {"token": "7", "logprob": -2.5}]},
    ]}
    reply = reply_from_exchange(exchange(200, body), judge_request())
    assert reply == ChatReply(text="Good. [[8]]", finish_reason="stop", prompt_tokens=11, completion_tokens=3,
                              latency_s=0.25, logprobs=(("8", (("8", -0.1), ("7", -2.5))),), reasoning="thinking")


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (404, False), (408, True), (429, True),
                                                    (500, True), (503, True)])
def test_an_error_status_is_a_backend_error_with_that_status(status: int, retryable: bool) -> None:
    error = reply_from_exchange(exchange(status, {"error": {"message": "the server's reason"}}, retry_after="3"),
                                judge_request(api_key_env="JUDGE_KEY"))
    assert isinstance(error, BackendError)
    assert (error.status, error.retryable, error.retry_after) == (status, retryable, 3.0)
    assert f"judge at http://127.0.0.1:9/v1: HTTP {status}: the server's reason" in str(error)
    if status == 401:
        assert "check the key in JUDGE_KEY" in str(error)


def test_a_secret_the_server_echoes_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-echoed-0123456789")
    error = reply_from_exchange(exchange(401, {"message": "bad key sk-echoed-0123456789"}), judge_request())
    assert "sk-echoed" not in str(error) and "[redacted JUDGE_KEY]" in str(error)


@pytest.mark.parametrize(("record", "retryable", "says"), [
    ({"status": None, "error": "timeout", "detail": "no reply within 120 s"}, True, "request timed out"),
    ({"status": None, "error": "connection", "detail": "ClientConnectorError: refused"}, True, "cannot connect"),
    ({"status": 200, "body": "<html>not json</html>"}, True, "not a chat completion"),
    ({"status": 200, "body": json.dumps({"choices": []})}, True, "no choices"),
    ({"status": 200, "body": "", "too_long": True}, False, "broken server"),
    ({"status": 200, "body": json.dumps(completion("x" * 1_000_001))}, False, "over the 1,000,000"),
])
def test_what_never_became_a_reply_is_an_error(record: dict[str, Any], retryable: bool, says: str) -> None:
    error = reply_from_exchange(json.dumps(record), judge_request())
    assert isinstance(error, BackendError) and error.retryable is retryable and error.status is None
    assert says in str(error)


def test_a_vllm_model_is_named_by_its_cache_identity() -> None:
    assert vllm_model_id(endpoint(cache_identity="vllm:Qwen/Qwen2.5-7B-Instruct")) == "Qwen/Qwen2.5-7B-Instruct"
    assert vllm_model_id(endpoint()) is None
    assert vllm_model_id(endpoint(cache_identity="model.gguf")) is None


def test_a_vllm_row_has_the_same_sampling_keys_whatever_the_request_sets() -> None:
    constrained = vllm_row(judge_request())
    assert constrained["messages"] == [{"role": "system", "content": "Grade it."},
                                       {"role": "user", "content": "Q: 2+2? A: 4"}]
    assert constrained["sampling_params"] == {"max_tokens": 64, "temperature": 0.0, "top_p": 1.0, "seed": None,
                                              "logprobs": 5, "structured_outputs": {"json": SCHEMA}}
    free = vllm_row(ChatRequest(endpoint(), (("user", "hi"),), (("max_tokens", 8), ("temperature", 0.7), ("seed", 0))))
    assert free["sampling_params"] == {"max_tokens": 8, "temperature": 0.7, "top_p": 1.0, "seed": 0,
                                       "logprobs": None, "structured_outputs": None}
    with pytest.raises(ConfigError, match="also sets stop"):
        vllm_row(ChatRequest(endpoint(), (("user", "hi"),), (("max_tokens", 8), ("stop", ["\n"]))))


def test_what_vllm_generated_becomes_a_reply() -> None:
    step = {"17": {"logprob": -0.2, "rank": 1, "decoded_token": "8"}, "3": {"logprob": -1.9, "rank": 2,
                                                                            "decoded_token": "7"}}
    record = {"text": "[[8]]", "prompt_tokens": 40, "completion_tokens": 64, "max_tokens": 64,
              "logprobs": [step], "generated_tokens": [17]}
    reply = reply_from_generation(json.dumps(record), judge_request())
    assert reply == ChatReply(text="[[8]]", finish_reason="length", prompt_tokens=40, completion_tokens=64,
                              logprobs=(("8", (("8", -0.2), ("7", -1.9))),))
    # Arrow may hand a map back as (key, value) pairs; a reply shorter than max_tokens stopped by itself.
    record.update(completion_tokens=5, logprobs=[[[k, v] for k, v in step.items()]])
    again = reply_from_generation(json.dumps(record), judge_request())
    assert isinstance(again, ChatReply) and again.finish_reason == "stop" and again.logprobs == reply.logprobs


def test_the_vllm_processor_config_is_built_from_a_model_id() -> None:
    pytest.importorskip("ray.data.llm")
    config = ray_engine.vllm_processor_config("Qwen/Qwen2.5-7B-Instruct", replicas=2, batch_size=16,
                                              engine_kwargs={"max_model_len": 4096, "tensor_parallel_size": 2})
    assert config.model_source == "Qwen/Qwen2.5-7B-Instruct"
    assert (config.concurrency, config.batch_size, config.should_continue_on_error) == (2, 16, True)
    assert config.engine_kwargs == {"max_model_len": 4096, "tensor_parallel_size": 2, "task_type": "generate"}


def test_the_http_processor_config_sends_the_key_in_a_header_only(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray.data.llm")
    monkeypatch.setenv("JUDGE_KEY", "sk-header-0123456789")
    config = ray_engine.http_processor_config(endpoint(api_key_env="JUDGE_KEY", concurrency=8), workers=2, qps=5)
    assert config.url == "http://127.0.0.1:9/v1/chat/completions"
    assert config.headers == {"Authorization": "Bearer sk-header-0123456789"}
    assert (config.concurrency, config.qps, config.max_retries) == (2, 5, 0)  # retries are judgebench's
    assert config.session_factory.keywords["max_in_flight"] == 4  # two workers share the endpoint's 8
    assert "sk-header" not in json.dumps(config.model_dump(exclude={"headers", "session_factory"}), default=str)
    assert ray_engine.http_processor_config(endpoint()).headers == {}  # no variable named: no key sent


def test_anthropic_judges_are_refused_before_anything_runs() -> None:
    pytest.importorskip("ray.data.llm")
    claude = Endpoint(provider="anthropic", name="claude", model="claude", api_key_env="ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError, match=r"Anthropic endpoint.*--engine local"):
        ray_engine.check_endpoints([endpoint(), claude])


def test_without_the_extra_engine_ray_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ray", "ray.data", "ray.data.llm", "aiohttp"):
        monkeypatch.setitem(sys.modules, name, None)  # importing these fails, as where they are not installed
    import judgebench.run

    for name in ("ray_engine", "ray_rows", "ray_worker"):  # imported afresh, without them
        monkeypatch.delitem(sys.modules, f"judgebench.run.{name}", raising=False)
        monkeypatch.delattr(judgebench.run, name, raising=False)
    from judgebench.run.ray_engine import require_ray

    with pytest.raises(ConfigError, match=r"pip install 'judgebench\[ray\]'"):
        require_ray()
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--model", "m@http://127.0.0.1:9/v1",
                                       "--judge", "j@http://127.0.0.1:9/v1", "--engine", "ray",
                                       "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "Traceback" not in result.output + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "--engine ray needs Ray Data" in line and "pip install 'judgebench[ray]'" in line
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_the_session_ray_opens_sends_each_payload_as_is_and_hands_back_every_outcome() -> None:
    """What Ray's HTTP stage does with the session, against a scripted server: a payload given as `data=` (Ray 2.60)
    or `json=` (Ray 2.53) arrives as the request's JSON text; an error status is data, not an exception."""
    from judgebench.clients.ray_worker import EXCHANGE, ExchangeSession

    payload = http_payload(judge_request(), schema_in_json_object=False)
    script = Script([("ok", "[[8]]"), ("429", 2), ("ok", "[[3]]")])

    async def batch(url: str) -> list[dict[str, Any]]:
        async with ExchangeSession(max_in_flight=1, timeout_s=10) as session:
            pending = [session.post(f"{url}/chat/completions", headers={"Authorization": "Bearer k"},
                                    data=json.dumps(payload)),
                       session.post(f"{url}/chat/completions", headers={}, json=payload),
                       session.post(f"{url}/chat/completions", headers={}, data=json.dumps(payload))]
            records = []
            for request in pending:
                async with await request as response:
                    assert response.status == 200  # to Ray's stage, every exchange succeeded
                    records.append(json.loads((await response.json())[EXCHANGE]))
            return records

    with fake_server(script) as url:
        records = asyncio.run(batch(url))
    assert script.requests == [json.loads(payload)] * 3
    assert script.headers[0]["Authorization"] == "Bearer k"
    assert [r["status"] for r in records] == [200, 429, 200] and records[1]["retry_after"] == "2"
    assert reply_from_exchange(json.dumps(records[0]), judge_request()).text == "[[8]]"  # type: ignore[union-attr]

    async def refused() -> dict[str, Any]:
        async with ExchangeSession(max_in_flight=1, timeout_s=10) as session:
            response = await session.post("http://127.0.0.1:9/v1/chat/completions", headers={},
                                          data=json.dumps(payload))
            return dict(json.loads((await response.json())[EXCHANGE]))

    record = asyncio.run(refused())
    assert record["status"] is None and record["error"] == "connection"


def test_a_ray_client_address_is_refused_with_what_works_instead(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray Data's executor fails through Ray Client (ray://): said in one line before anything runs."""
    pytest.importorskip("ray.data.llm")
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--model", "m@http://127.0.0.1:9/v1",
                                       "--judge", "j@http://127.0.0.1:9/v1", "--engine", "ray",
                                       "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "Traceback" not in result.output + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "Ray Data does not run through Ray Client (ray://head:10001)" in line and "head:6379" in line
    assert not (tmp_path / "r").exists()
