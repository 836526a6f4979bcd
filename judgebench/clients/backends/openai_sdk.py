"""Any OpenAI-compatible chat server: vLLM, llama.cpp, SGLang, OpenAI itself, through the openai SDK. The wire
format and the error classification are shared with the lean transport (openai_wire)."""

from __future__ import annotations

import json
import time
from typing import Any

import openai

from ...credentials import redact
from ...errors import BackendError
from ...types import ChatReply, ChatRequest, Endpoint
from .openai_wire import (
    LOGPROB_TOKENS,
    MAX_REPLY_CHARS,
    NON_RETRYABLE,
    FormatNegotiation,
    api_key,
    chat_body,
    connection_error,
    load_body,
    malformed,
    parse_reply,
    rejects_json_schema,
    response_format,
    retry_after,
    server_message,
    status_error,
    timeout_error,
    where,
)

__all__ = ["LOGPROB_TOKENS", "MAX_REPLY_CHARS", "NON_RETRYABLE", "OpenAICompatBackend", "classify",
           "response_format"]

_retry_after = retry_after  # the Anthropic backend's import


def _message(exc: openai.APIStatusError) -> str:
    # The SDK keeps only error.message in its own text; the body may say more (FastAPI's "detail").
    return server_message(exc.body) or str(exc.message)


def _rejects_json_schema(exc: Exception) -> bool:
    return isinstance(exc, openai.APIStatusError) and rejects_json_schema(f"{exc.message} {_message(exc)}")


def classify(exc: Exception, endpoint: Endpoint) -> BackendError:
    """Map an SDK exception to a BackendError that says whether asking again can help."""
    if isinstance(exc, openai.APIStatusError):
        return status_error(endpoint, exc.status_code, _message(exc), exc.response.headers)
    if isinstance(exc, openai.APITimeoutError):
        return timeout_error(endpoint)
    if isinstance(exc, openai.APIConnectionError):
        return connection_error(endpoint, exc.__cause__ or exc)
    return BackendError(redact(f"{where(endpoint)}: {type(exc).__name__}: {exc}"), retryable=False)


class OpenAICompatBackend:
    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 120.0) -> None:
        self.endpoint = endpoint
        self._negotiation = FormatNegotiation(endpoint)
        # Retries belong to the runner alone: the SDK's own are switched off.
        self._client = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=api_key(endpoint) or "no-key-needed", max_retries=0,
            timeout=timeout_s,
        )

    async def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        try:
            response = await self._negotiation.send(request, lambda in_object: self._create(request, in_object),
                                                    _rejects_json_schema)
        except openai.OpenAIError as exc:
            raise classify(exc, self.endpoint) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # the SDK's own reading of a garbled body
            raise malformed(self.endpoint, f"HTTP 200 with a body that is not JSON in UTF-8: {exc}") from None
        latency = time.perf_counter() - started
        # The body as the plain JSON it is, read by the parser both transports share: the SDK's own response
        # models (pydantic, built and then turned back into a dict) would cost more than the rest of the call.
        data = load_body(self.endpoint, response.http_response.status_code, response.http_response.content)
        return parse_reply(data, self.endpoint, latency)

    async def _create(self, request: ChatRequest, schema_in_json_object: bool) -> Any:
        # The raw response: the SDK still sends the request, checks the status and raises its errors.
        return await self._client.chat.completions.with_raw_response.create(
            **chat_body(request, schema_in_json_object=schema_in_json_object),
        )

    async def aclose(self) -> None:
        await self._client.close()
