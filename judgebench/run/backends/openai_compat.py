"""Any OpenAI-compatible chat server: vLLM, llama.cpp, SGLang, OpenAI itself."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import openai

from ...errors import BackendError
from ...secrets import redact
from ...types import ChatReply, ChatRequest, Endpoint

NON_RETRYABLE = {400, 401, 403, 404, 422}
# A reply is stored twice (the cache and the results): one far longer than any max_tokens could give is a
# broken or hostile server, not an answer.
MAX_REPLY_CHARS = 1_000_000
# Verdicts come first in a constrained reply: the first tokens' log-probabilities are all that is kept.
LOGPROB_TOKENS = 24


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def response_format(schema_json: str, *, schema_in_json_object: bool) -> dict[str, Any]:
    """vLLM, SGLang and OpenAI take ``json_schema``; llama-cpp-python's server only takes the schema inside
    ``json_object``."""
    schema = json.loads(schema_json)
    if schema_in_json_object:
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}}


def _rejects_json_schema(exc: openai.APIStatusError) -> bool:
    text = str(exc.message)
    return "response_format" in text and "json_schema" in text


def status_error(endpoint: Endpoint, status: int, message: str, retry_after: float | None = None) -> BackendError:
    """An HTTP error reply as a BackendError that says whether asking again can help (also used by the Ray
    engine, which sees the status and the server's message without the SDK)."""
    where = f"{endpoint.name} at {endpoint.base_url or endpoint.provider}"
    retryable = status not in NON_RETRYABLE and (status == 429 or status == 408 or status >= 500)
    detail = redact(message[:300])
    hint = ""
    if status == 401 and endpoint.api_key_env is None:
        hint = (" (no key was sent: name the variable that holds it with key_env=VAR in the judge's spec, or "
                "--judge-key-env / --model-key-env)")
    elif status in (401, 403):
        hint = f" (check the key in {endpoint.api_key_env})"
    return BackendError(f"{where}: HTTP {status}: {detail}{hint}", retryable=retryable, status=status,
                        retry_after=retry_after)


def classify(exc: Exception, endpoint: Endpoint) -> BackendError:
    """Map an SDK exception to a BackendError that says whether asking again can help."""
    where = f"{endpoint.name} at {endpoint.base_url or endpoint.provider}"
    if isinstance(exc, openai.APIStatusError):
        return status_error(endpoint, exc.status_code, str(exc.message), _retry_after(exc.response.headers))
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"{where}: request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(redact(f"{where}: cannot connect ({exc.__cause__ or exc})"), retryable=True)
    return BackendError(redact(f"{where}: {type(exc).__name__}: {exc}"), retryable=False)


class OpenAICompatBackend:
    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 120.0) -> None:
        self.endpoint = endpoint
        # Learned once per endpoint: a server that rejects "json_schema" is asked with the llama.cpp form.
        self._schema_in_json_object = endpoint.provider == "local"
        self._format_known = endpoint.provider == "local"
        self._negotiation = asyncio.Lock()
        key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
        # Retries belong to the runner alone: the SDK's own are switched off.
        self._client = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=key or "no-key-needed", max_retries=0, timeout=timeout_s,
        )

    async def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        try:
            if request.response_schema is not None and not self._format_known:
                async with self._negotiation:  # one request finds out; the others wait for the answer
                    response = await self._negotiate(request)
            else:
                response = await self._create(request)
        except openai.OpenAIError as exc:
            raise classify(exc, self.endpoint) from None
        latency = time.perf_counter() - started
        if not response.choices:
            raise BackendError(f"{self.endpoint.name}: the server returned no choices", retryable=True)
        choice = response.choices[0]
        text = choice.message.content or ""
        if len(text) > MAX_REPLY_CHARS:
            raise BackendError(f"{self.endpoint.name}: a reply of {len(text):,} characters is over the "
                               f"{MAX_REPLY_CHARS:,} judgebench keeps: a broken server?", retryable=False)
        usage = response.usage
        content = getattr(getattr(choice, "logprobs", None), "content", None) or []
        logprobs = tuple((t.token, tuple((a.token, float(a.logprob)) for a in (t.top_logprobs or [])))
                         for t in content[:LOGPROB_TOKENS])
        return ChatReply(
            text=text,
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_s=latency,
            logprobs=logprobs,
            reasoning=getattr(choice.message, "reasoning_content", None) or None,
        )

    async def _negotiate(self, request: ChatRequest) -> Any:
        if self._format_known:
            return await self._create(request)
        try:
            response = await self._create(request)
        except openai.APIStatusError as exc:
            if not _rejects_json_schema(exc):
                raise
            self._schema_in_json_object = True
            response = await self._create(request)
        self._format_known = True
        return response

    async def _create(self, request: ChatRequest) -> Any:
        params: dict[str, Any] = dict(request.params)
        if request.response_schema is not None:
            params["response_format"] = response_format(request.response_schema,
                                                        schema_in_json_object=self._schema_in_json_object)
        return await self._client.chat.completions.create(
            model=self.endpoint.model,
            messages=[{"role": role, "content": content} for role, content in request.messages],  # type: ignore[misc]
            **params,
        )

    async def aclose(self) -> None:
        await self._client.close()
