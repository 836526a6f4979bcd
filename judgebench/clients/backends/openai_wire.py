"""The OpenAI chat-completions wire format, shared by both transports (the SDK's and the lean one): the request
body, the reply read into a ChatReply, and a server's refusal classified into a BackendError. Pure functions and
one small negotiation object; no HTTP client here."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson

from ...credentials import redact
from ...errors import BackendError
from ...types import ChatReply, ChatRequest, Endpoint
from ..providers import provider_of

NON_RETRYABLE = {400, 401, 403, 404, 422}
# A reply is stored twice (the cache and the results): one far longer than any max_tokens could give is a
# broken or hostile server, not an answer.
MAX_REPLY_CHARS = 1_000_000
# Verdicts come first in a constrained reply: the first tokens' log-probabilities are all that is kept.
LOGPROB_TOKENS = 24
# What of a server's own error text goes into a message: enough to say why, not a page of HTML.
DETAIL_CHARS = 300
T = TypeVar("T")


def api_key(endpoint: Endpoint) -> str | None:
    """The endpoint's key from the environment (read here, at the edge). Surrounding whitespace is never part of
    a key: a variable set from a file often ends in a newline, which no HTTP client may send in a header."""
    value = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
    return (value.strip() or None) if value else None


def where(endpoint: Endpoint) -> str:
    return f"{endpoint.name} at {endpoint.base_url or endpoint.provider}"


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """A server's Retry-After in seconds (the delta form; a date is ignored and backoff applies)."""
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


@functools.lru_cache(maxsize=64)
def _schema(schema_json: str) -> dict[str, Any]:
    """A response schema, decoded once: a run asks every request with one of a few schemas. Shared, so read-only
    (the bodies it goes into are only serialized)."""
    return dict(json.loads(schema_json))


def response_format(schema_json: str, *, schema_in_json_object: bool) -> dict[str, Any]:
    """vLLM, SGLang and OpenAI take ``json_schema``; llama-cpp-python's server only takes the schema inside
    ``json_object``."""
    schema = _schema(schema_json)
    if schema_in_json_object:
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}}


def chat_body(request: ChatRequest, *, schema_in_json_object: bool) -> dict[str, Any]:
    """The JSON body of a chat-completions request."""
    body: dict[str, Any] = {
        "model": request.endpoint.model,
        "messages": [{"role": role, "content": content} for role, content in request.messages],
        **dict(request.params),
    }
    if request.response_schema is not None:
        body["response_format"] = response_format(request.response_schema,
                                                  schema_in_json_object=schema_in_json_object)
    return body


def server_message(body: object) -> str:
    """What a server said in an error body: OpenAI's ``{"error": {"message": ...}}``, a bare ``{"error": "..."}``
    or ``{"message": ...}``, else the body itself (FastAPI's ``{"detail": ...}``, plain text, HTML)."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str) and error["message"]:
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        return json.dumps(body, ensure_ascii=False, default=str)
    if isinstance(body, str):
        return body.strip()
    return "" if body is None else str(body)


def rejects_json_schema(message: str) -> bool:
    """Whether a refusal is a server that does not know ``response_format: json_schema``."""
    return "response_format" in message and "json_schema" in message


def status_error(endpoint: Endpoint, status: int, message: str,
                 headers: Mapping[str, str] | None = None) -> BackendError:
    """A non-2xx answer as a BackendError: retryable for 408, 429 and 5xx; with a hint for a refused key."""
    retryable = status not in NON_RETRYABLE and (status in (408, 429) or status >= 500)
    # Redacted before it is cut: a cut through a key would leave the key's first characters unmatched.
    detail = redact(message)[:DETAIL_CHARS] or "(no message)"
    hint = ""
    if status == 401 and endpoint.api_key_env is None:
        hint = (" (no key was sent: name the variable that holds it with key_env=VAR in the judge's spec, or "
                "--judge-key-env / --model-key-env)")
    elif status in (401, 403):
        hint = f" (check the key in {endpoint.api_key_env})"
    return BackendError(f"{where(endpoint)}: HTTP {status}: {detail}{hint}", retryable=retryable, status=status,
                        retry_after=retry_after(headers))


def timeout_error(endpoint: Endpoint) -> BackendError:
    return BackendError(f"{where(endpoint)}: request timed out", retryable=True, unreachable=True)


def connection_error(endpoint: Endpoint, cause: object) -> BackendError:
    return BackendError(redact(f"{where(endpoint)}: cannot connect ({cause})"), retryable=True, unreachable=True)


def load_body(endpoint: Endpoint, status: int, raw: bytes) -> Any:
    """A reply body as JSON, read the same way by both transports. orjson refuses a lone surrogate (``\\ud800``),
    which is valid JSON a server may send: the standard library reads those (the text is kept, escaped when
    written). A body that is not JSON, or not UTF-8, is a malformed reply."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            shown = raw[:80].decode("utf-8", "replace")
            raise malformed(endpoint, f"HTTP {status} with a body that is not JSON in UTF-8: {shown!r}") from None


def malformed(endpoint: Endpoint, what: str) -> BackendError:
    """A 2xx reply that is not a chat completion: the same answer next time, so not retried."""
    return BackendError(redact(f"{where(endpoint)}: the server's reply is not a chat completion ({what}); is the "
                               "URL an OpenAI-compatible API (it usually ends in /v1)?"), retryable=False)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _logprobs(endpoint: Endpoint, choice: Mapping[str, Any]) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    block = choice.get("logprobs")
    content = block.get("content") if isinstance(block, Mapping) else None
    if not content:
        return ()
    try:
        found = tuple((str(t["token"]), tuple((str(a["token"]), float(a["logprob"]))
                                              for a in (t.get("top_logprobs") or [])))
                      for t in content[:LOGPROB_TOKENS])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise malformed(endpoint, "logprobs without token or logprob") from None
    # A log-probability is at most 0 (-inf: probability 0); NaN or a positive one would turn into a verdict.
    if any(math.isnan(lp) or lp > 0 for _, alternatives in found for _, lp in alternatives):
        raise malformed(endpoint, "a log-probability that is NaN or above 0")
    return found


def _refusal(message: Mapping[str, Any]) -> str | None:
    refusal = message.get("refusal")
    return refusal if isinstance(refusal, str) and refusal.strip() else None


def finish_of(choice: Mapping[str, Any], message: Mapping[str, Any]) -> str | None:
    """A choice's finish reason, as the server said it; "refusal" where the message holds a refusal instead of
    content (OpenAI's structured outputs refuse so, with finish_reason "stop"): no verdict is read from it."""
    if not message.get("content") and _refusal(message) is not None:
        return "refusal"
    finish = choice.get("finish_reason")
    return finish if isinstance(finish, str) else None


def parse_reply(data: object, endpoint: Endpoint, latency_s: float) -> ChatReply:
    """A chat-completions JSON body (already decoded) as a ChatReply; a BackendError when it is not one."""
    if not isinstance(data, Mapping):
        raise malformed(endpoint, f"a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not choices:
        raise BackendError(f"{endpoint.name}: the server returned no choices", retryable=True)
    choice = choices[0] if isinstance(choices, list) else None
    message = choice.get("message") if isinstance(choice, Mapping) else None
    if not isinstance(choice, Mapping) or not isinstance(message, Mapping):
        raise malformed(endpoint, "no message in its first choice")
    text = message.get("content") or _refusal(message) or ""
    if not isinstance(text, str):
        raise malformed(endpoint, f"the message content is a {type(text).__name__}, not text")
    if len(text) > MAX_REPLY_CHARS:
        raise BackendError(f"{endpoint.name}: a reply of {len(text):,} characters is over the "
                           f"{MAX_REPLY_CHARS:,} judgebench keeps: a broken server?", retryable=False)
    usage = data.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    reasoning = message.get("reasoning_content")
    return ChatReply(
        text=text,
        finish_reason=finish_of(choice, message),
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        completion_tokens=_int_or_none(usage.get("completion_tokens")),
        latency_s=latency_s,
        logprobs=_logprobs(endpoint, choice),
        reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
    )


class FormatNegotiation:
    """Which ``response_format`` an endpoint takes, learned once: a server that rejects ``json_schema`` is asked
    with the llama.cpp form from then on. The embedded server is known to want the llama.cpp form."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.schema_in_json_object = provider_of(endpoint).local
        self._known = self.schema_in_json_object
        self._lock = asyncio.Lock()

    def settled(self, request: ChatRequest) -> bool:
        """Whether ``request`` goes out in the form known already (no schema, or the endpoint's form learned): then
        ``post(schema_in_json_object)`` is all ``send`` would do."""
        return request.response_schema is None or self._known

    async def send(self, request: ChatRequest, post: Callable[[bool], Awaitable[T]],
                   rejected: Callable[[Exception], bool]) -> T:
        """``post(schema_in_json_object)``; while the form is unknown one request finds out and the others
        wait for the answer. ``rejected`` says whether ``post``'s exception is a refusal of ``json_schema``."""
        if self.settled(request):
            return await post(self.schema_in_json_object)
        async with self._lock:
            if self._known:
                return await post(self.schema_in_json_object)
            try:
                result = await post(self.schema_in_json_object)
            except Exception as exc:
                if not rejected(exc):
                    raise
                self.schema_in_json_object = True
                result = await post(True)
            self._known = True
            return result
