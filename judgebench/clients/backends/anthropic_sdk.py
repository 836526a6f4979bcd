"""Anthropic's Messages API."""

from __future__ import annotations

import inspect
import os
import time
from typing import Any

import anthropic

from ...errors import BackendError, ConfigError
from ...types import ChatReply, ChatRequest, Endpoint
from ..providers import ANTHROPIC
from .openai_sdk import NON_RETRYABLE, _retry_after

# Recent SDKs (and models) take no sampling parameters; pass only those this SDK's create() still accepts.
_SAMPLING = {"temperature", "top_p", "stop_sequences"} & set(
    inspect.signature(anthropic.resources.messages.AsyncMessages.create).parameters)


def message_params(endpoint: Endpoint, request: ChatRequest) -> dict[str, Any]:
    """What a request sends to the Messages API (the system prompt apart); a direct call and a batch entry send the
    same parameters, so one cache key names one request either way."""
    if request.response_schema is not None:
        raise ConfigError(f"{endpoint.name}: constrained verdicts need an OpenAI-compatible server; "
                          "use --verdicts free-text with Anthropic judges")
    params: dict[str, Any] = dict(request.params)
    system = "\n\n".join(c for r, c in request.messages if r == "system")
    messages = [{"role": r, "content": c} for r, c in request.messages if r != "system"]
    return {"model": endpoint.model, "messages": messages, "max_tokens": int(params.pop("max_tokens", 1024)),
            **({"system": system} if system else {}), **{k: v for k, v in params.items() if k in _SAMPLING}}


def reply_from_message(response: Any, latency_s: float) -> ChatReply:
    """A Message (from a direct call or a batch's results) -> ChatReply."""
    text = "".join(getattr(block, "text", "") for block in response.content)
    return ChatReply(text=text, finish_reason=response.stop_reason, prompt_tokens=response.usage.input_tokens,
                     completion_tokens=response.usage.output_tokens, latency_s=latency_s)


def anthropic_client(endpoint: Endpoint, timeout_s: float) -> anthropic.AsyncAnthropic:
    """The SDK's client for an endpoint, its key read from the environment here; the SDK's own retries off (the
    run's one retry policy decides)."""
    variable = endpoint.api_key_env or ANTHROPIC.key_env or ""
    key = os.environ.get(variable)
    if not key:
        raise ConfigError(f"{endpoint.name}: set {variable} to use Anthropic")
    return anthropic.AsyncAnthropic(api_key=key, base_url=endpoint.base_url, max_retries=0, timeout=timeout_s)


class AnthropicBackend:
    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 120.0) -> None:
        self.endpoint = endpoint
        self._client = anthropic_client(endpoint, timeout_s)

    async def complete(self, request: ChatRequest) -> ChatReply:
        params = message_params(self.endpoint, request)
        started = time.perf_counter()
        try:
            response = await self._client.messages.create(**params)
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            raise BackendError(f"{self.endpoint.name}: HTTP {status}: {str(exc.message)[:300]}",
                               retryable=status not in NON_RETRYABLE and (status in (408, 429) or status >= 500),
                               status=status, retry_after=_retry_after(exc.response.headers)) from None
        except (anthropic.APIConnectionError, anthropic.APITimeoutError) as exc:
            raise BackendError(f"{self.endpoint.name}: cannot connect ({exc})", retryable=True,
                               unreachable=True) from None
        return reply_from_message(response, time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._client.close()
