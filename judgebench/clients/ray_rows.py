"""The rows Ray's processors take and give for ``--engine ray``: a chat request as the JSON body of an HTTP
request or as a vLLM row, and what comes back (judgebench.clients.ray_worker's records) as a reply or a BackendError,
the same ones the local backend gives. Pure: no Ray here."""

from __future__ import annotations

import json
from typing import Any

from ..credentials import redact
from ..errors import BackendError, ConfigError
from ..types import ChatReply, ChatRequest, Endpoint
from . import ray_worker
from .backends.openai_sdk import LOGPROB_TOKENS, MAX_REPLY_CHARS
from .backends.openai_wire import chat_body, finish_of, status_error

# What a judge request may set that the vLLM processor's sampling parameters take (OpenAI names).
VLLM_PARAMS = frozenset({"max_tokens", "temperature", "top_p", "seed", "logprobs", "top_logprobs"})
Outcome = ChatReply | BackendError


def http_payload(request: ChatRequest, *, schema_in_json_object: bool) -> str:
    """The JSON body of a chat completion request: what the other transports send for the same request."""
    return json.dumps(chat_body(request, schema_in_json_object=schema_in_json_object), ensure_ascii=False)


def vllm_row(request: ChatRequest) -> dict[str, Any]:
    """The vLLM processor's input row for a chat request: its messages and vLLM sampling parameters. Every row has
    the same keys (a missing one would reach vLLM as null once Arrow unifies the rows)."""
    params = dict(request.params)
    unknown = sorted(set(params) - VLLM_PARAMS)
    if unknown:
        raise ConfigError(f"--engine ray: the vLLM processor takes {', '.join(sorted(VLLM_PARAMS))}; this request "
                          f"also sets {', '.join(unknown)}")
    temperature = params.get("temperature")
    sampling = {
        "max_tokens": params.get("max_tokens"),
        "temperature": 1.0 if temperature is None else float(temperature),  # the OpenAI API's default
        "top_p": float(params.get("top_p", 1.0)),
        "seed": params.get("seed"),
        "logprobs": int(params.get("top_logprobs", 0)) if params.get("logprobs") else None,
        # The schema as JSON text: vLLM takes either, and a text survives Arrow unchanged.
        "structured_outputs": {"json": request.response_schema} if request.response_schema is not None else None,
    }
    return {"messages": [{"role": role, "content": content} for role, content in request.messages],
            "sampling_params": sampling}


def where(endpoint: Endpoint) -> str:
    """An endpoint as error messages name it."""
    return f"{endpoint.name} at {endpoint.base_url or endpoint.provider}"


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _server_message(body: str) -> str:
    """The message of an error reply: OpenAI's error.message, vLLM's message, or the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return body


def reply_from_exchange(text: str, request: ChatRequest) -> Outcome:
    """One HTTP exchange (judgebench.clients.ray_worker's record) as the reply or the error the local backend gives."""
    endpoint = request.endpoint
    record = json.loads(text)
    status = record.get("status")
    if status is None:
        what = "request timed out" if record.get("error") == "timeout" else "cannot connect"
        return BackendError(redact(f"{where(endpoint)}: {what} ({record.get('detail')})"), retryable=True)
    if record.get("too_long"):
        return BackendError(f"{endpoint.name}: a reply over {ray_worker.MAX_BODY_BYTES:,} bytes: a broken server?",
                            retryable=False)
    body = str(record.get("body") or "")
    if status >= 400:
        seconds = _seconds(record.get("retry_after"))
        return status_error(endpoint, int(status), _server_message(body),
                            {"retry-after": str(seconds)} if seconds is not None else None)
    try:
        return _chat_reply(json.loads(body), endpoint, float(record.get("latency_s") or 0.0))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        return BackendError(redact(f"{where(endpoint)}: HTTP {status} with a reply that is not a chat completion "
                                   f"({type(exc).__name__}: {str(exc)[:200]})"), retryable=True)


def _chat_reply(data: dict[str, Any], endpoint: Endpoint, latency_s: float) -> Outcome:
    choices = data.get("choices") or []
    if not choices:
        return BackendError(f"{endpoint.name}: the server returned no choices", retryable=True)
    choice = choices[0]
    message = choice.get("message") or {}
    text = message.get("content") or message.get("refusal") or ""
    if len(text) > MAX_REPLY_CHARS:
        return BackendError(f"{endpoint.name}: a reply of {len(text):,} characters is over the "
                            f"{MAX_REPLY_CHARS:,} judgebench keeps: a broken server?", retryable=False)
    usage = data.get("usage") or {}
    content = (choice.get("logprobs") or {}).get("content") or []
    logprobs = tuple((str(t["token"]), tuple((str(a["token"]), float(a["logprob"]))
                                              for a in (t.get("top_logprobs") or [])))
                     for t in content[:LOGPROB_TOKENS])
    return ChatReply(text=text, finish_reason=finish_of(choice, message), prompt_tokens=usage.get("prompt_tokens"),
                     completion_tokens=usage.get("completion_tokens"), latency_s=latency_s, logprobs=logprobs,
                     reasoning=message.get("reasoning_content") or None)


def reply_from_generation(text: str, request: ChatRequest) -> Outcome:
    """What Ray's vLLM processor generated (judgebench.clients.ray_worker.keep_generation's record) as a reply. vLLM's
    row has no finish reason: a reply that used all its max_tokens is taken as cut off ("length")."""
    record = json.loads(text)
    generated, limit = record.get("completion_tokens"), record.get("max_tokens")
    finish = "length" if generated is not None and limit is not None and generated >= limit else "stop"
    return ChatReply(text=str(record.get("text") or ""), finish_reason=finish,
                     prompt_tokens=record.get("prompt_tokens"), completion_tokens=generated,
                     logprobs=_vllm_logprobs(record.get("logprobs"), record.get("generated_tokens")))


def _vllm_logprobs(steps: Any, tokens: Any) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """vLLM's per-token {token_id: {logprob, rank, decoded_token}} as (token, ((alternative, logprob), ...))."""
    found = []
    for i, step in enumerate((steps or [])[:LOGPROB_TOKENS]):
        # Arrow may hand a map back as a list of (key, value) pairs.
        entries = {str(k): v for k, v in (step.items() if isinstance(step, dict) else step)}
        ranked = sorted(entries.items(), key=lambda kv: kv[1].get("rank") or 0)
        alternatives = tuple((str(v.get("decoded_token") or ""), float(v["logprob"])) for _, v in ranked)
        chosen = entries.get(str(tokens[i])) if tokens is not None and i < len(tokens) else None
        token = str(chosen.get("decoded_token") or "") if chosen else (alternatives[0][0] if alternatives else "")
        found.append((token, alternatives))
    return tuple(found)


def rejects_json_schema(outcome: Outcome) -> bool:
    text = str(outcome)
    return isinstance(outcome, BackendError) and outcome.status == 400 and "response_format" in text \
        and "json_schema" in text


__all__ = ["VLLM_PARAMS", "Outcome", "http_payload", "rejects_json_schema", "reply_from_exchange",
           "reply_from_generation", "vllm_row", "where"]
