"""One client per provider batch API, on the providers' own SDKs: OpenAI's Batch API (a JSONL file of chat requests,
uploaded, then a batch over it) and Anthropic's Message Batches. Each request's custom_id is its cache key.

Keys are read as the chat backends read them: only from the environment variable the endpoint names. The SDKs'
own retries are off: a status that cannot be read is read again at the next poll or run, and a batch that cannot be
submitted leaves its requests to the next run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anthropic
import openai

from ...credentials import redact
from ...errors import BackendError, ConfigError
from ...types import ChatRequest, Endpoint
from ..backends.anthropic_sdk import anthropic_client, message_params, reply_from_message
from ..backends.openai_sdk import classify
from ..backends.openai_wire import chat_body, parse_reply
from ..providers import PROVIDERS, Wire, provider_of
from .options import BatchResult, BatchState

OPENAI_CHAT: Final = "/v1/chat/completions"
TIMEOUT_S = 300.0  # an upload of a large batch file takes a while


@dataclass(frozen=True)
class BatchStatus:
    """A provider's answer about one batch. ended: the provider is done with it (whatever its state);
    counts: requests (done, failed, total) where the provider says. files: where its results are (OpenAI)."""

    id: str
    state: BatchState
    ended: bool
    message: str = ""
    done: int | None = None
    failed: int | None = None
    total: int | None = None
    files: tuple[str, ...] = ()


class BatchClient(Protocol):
    provider: str
    # The most requests one batch may carry (the providers' limits, with room to spare).
    max_requests: int

    def entry(self, request: ChatRequest) -> dict[str, Any]:
        """The request as one entry of a batch, custom_id = its cache key. Built when the request is queued, so a
        request the provider cannot take (a JSON schema for Anthropic) is an error at once, as a direct call's."""

    async def submit(self, entries: Sequence[dict[str, Any]]) -> str:
        """Submit entries as one batch; its id."""

    async def status(self, batch_id: str) -> BatchStatus: ...

    async def results(self, batch_id: str, status: BatchStatus) -> list[BatchResult]: ...

    async def aclose(self) -> None: ...


def make_batch_client(endpoint: Endpoint) -> BatchClient:
    """The batch client for an endpoint's provider; ConfigError for one without a batch API."""
    provider = provider_of(endpoint)
    if not provider.batch_api:
        named = [f"{p.title} (NAME@{p.host})" for p in PROVIDERS.values() if p.batch_api]
        raise ConfigError(f"{endpoint.name}: the {endpoint.provider} provider has no batch API; batches go to "
                          f"{' and '.join(named)}")
    return BATCH_CLIENTS[provider.wire](endpoint)


class OpenAIBatchClient:
    provider = "openai"
    max_requests = 50_000

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
        self._client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=key or "no-key-needed", max_retries=0,
                                          timeout=TIMEOUT_S)

    def entry(self, request: ChatRequest) -> dict[str, Any]:
        # The Batch API takes the JSON-schema response format as OpenAI's chat endpoint does.
        return {"custom_id": request.cache_key(), "method": "POST", "url": OPENAI_CHAT,
                "body": chat_body(request, schema_in_json_object=False)}

    async def submit(self, entries: Sequence[dict[str, Any]]) -> str:
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode("utf-8")
        try:
            uploaded = await self._client.files.create(file=("judgebench-batch.jsonl", data, "application/jsonl"),
                                                       purpose="batch")
            batch = await self._client.batches.create(input_file_id=uploaded.id, endpoint=OPENAI_CHAT,
                                                      completion_window="24h", metadata={"created_by": "judgebench"})
        except openai.OpenAIError as exc:
            raise classify(exc, self.endpoint) from None
        return batch.id

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self._client.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise classify(exc, self.endpoint) from None
        final: dict[str, BatchState] = {"completed": "completed", "expired": "expired", "cancelled": "cancelled",
                                        "failed": "failed"}
        errors = batch.errors.data if batch.errors and batch.errors.data else []
        message = "; ".join(redact(f"{e.code}: {e.message}") for e in errors[:3])
        counts = batch.request_counts
        return BatchStatus(batch.id, final.get(batch.status, "in_progress"), batch.status in final, message,
                           counts.completed if counts else None, counts.failed if counts else None,
                           counts.total if counts else None,
                           tuple(f for f in (batch.output_file_id, batch.error_file_id) if f))

    async def results(self, batch_id: str, status: BatchStatus) -> list[BatchResult]:
        """Replies from the output file, errors (expired requests included) from the error file."""
        try:
            texts = [(await self._client.files.content(file_id)).text for file_id in status.files]
        except openai.OpenAIError as exc:
            raise classify(exc, self.endpoint) from None
        return [self._result(line) for text in texts for line in text.split("\n") if line.strip()]

    def _result(self, line: str) -> BatchResult:
        record = json.loads(line)
        key = str(record.get("custom_id", ""))
        response = record.get("response") or {}
        body = response.get("body") or {}
        if response.get("status_code") == 200 and not record.get("error"):
            try:
                return BatchResult(key, reply=parse_reply(body, self.endpoint, 0.0))
            except (BackendError, ValueError) as exc:
                return BatchResult(key, error=str(exc))
        error = record.get("error") or body.get("error") or {}
        detail = error.get("message") or error.get("code") or "no reply"
        status = f"HTTP {response['status_code']}: " if response.get("status_code") else ""
        return BatchResult(key, error=redact(f"{self.endpoint.name}: {status}{str(detail)[:300]}"))

    async def aclose(self) -> None:
        await self._client.close()


class AnthropicBatchClient:
    provider = "anthropic"
    max_requests = 100_000

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client = anthropic_client(endpoint, TIMEOUT_S)

    def entry(self, request: ChatRequest) -> dict[str, Any]:
        return {"custom_id": request.cache_key(), "params": message_params(self.endpoint, request)}

    async def submit(self, entries: Sequence[dict[str, Any]]) -> str:
        try:
            batch = await self._client.messages.batches.create(requests=list(entries))  # type: ignore[arg-type]
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from None
        return batch.id

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self._client.messages.batches.retrieve(batch_id)
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from None
        counts = batch.request_counts
        ended = batch.processing_status == "ended"
        state: BatchState = "in_progress"
        if ended:
            state = "cancelled" if batch.cancel_initiated_at else "expired" if counts.expired else "completed"
        failed = counts.errored + counts.expired + counts.canceled
        return BatchStatus(batch.id, state, ended, "", counts.succeeded, failed,
                           counts.succeeded + failed + counts.processing)

    async def results(self, batch_id: str, status: BatchStatus) -> list[BatchResult]:
        found = []
        try:
            async for item in await self._client.messages.batches.results(batch_id):
                result = item.result
                if result.type == "succeeded":
                    found.append(BatchResult(item.custom_id, reply=reply_from_message(result.message, 0.0)))
                elif result.type == "errored":
                    detail = getattr(getattr(result.error, "error", None), "message", None) or "errored"
                    found.append(BatchResult(item.custom_id, error=redact(f"{self.endpoint.name}: {detail[:300]}")))
                else:
                    found.append(BatchResult(item.custom_id, error=f"{self.endpoint.name}: {result.type}"))
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from None
        return found

    def _error(self, exc: anthropic.AnthropicError) -> BackendError:
        if isinstance(exc, anthropic.APIStatusError):
            return BackendError(redact(f"{self.endpoint.name}: HTTP {exc.status_code}: {str(exc.message)[:300]}"),
                                retryable=exc.status_code in (408, 429) or exc.status_code >= 500,
                                status=exc.status_code)
        return BackendError(redact(f"{self.endpoint.name}: cannot reach the batch API ({exc})"), retryable=True)

    async def aclose(self) -> None:
        await self._client.close()


# The batch client for each wire protocol, for the providers whose ``batch_api`` says they have one.
BATCH_CLIENTS: dict[Wire, Callable[[Endpoint], BatchClient]] = {"openai": OpenAIBatchClient,
                                                                "anthropic": AnthropicBatchClient}
