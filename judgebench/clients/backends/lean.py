"""A lean transport for OpenAI-compatible servers: aiohttp and orjson instead of the openai SDK.

The SDK spends about 1.3 ms of CPU per request on its request transform, response models and its HTTP pool;
on a fast local server that, not the server, bounds a run. This backend posts the same JSON body
(openai_wire.chat_body), reads the reply with the same parser and classifies failures with the same function as
the SDK backend, so the two are interchangeable: ``Endpoint.transport`` picks one, and the cache key does not
depend on which.

aiohttp and orjson were chosen by measurement on bench/stub_server.py: a bare httpx client cost more CPU per
request than the SDK itself, aiohttp about a tenth of it; orjson saves another tenth over the json module.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import yarl
from aiohttp.helpers import get_env_proxy_for_url

from ...credentials import redact
from ...errors import BackendError
from ...types import ChatReply, ChatRequest, Endpoint
from ..providers import OPENAI
from ..replicas import most_in_flight
from .openai_wire import (
    MAX_REPLY_CHARS,
    FormatNegotiation,
    api_key,
    chat_body,
    connection_error,
    load_body,
    parse_reply,
    rejects_json_schema,
    server_message,
    status_error,
    timeout_error,
    where,
)

# The most of a reply body read: the text may be at most MAX_REPLY_CHARS, and JSON escapes and log-probabilities
# make the body a few times larger; past this the server is broken and the rest is not read into memory.
MAX_BODY_BYTES = 32 * MAX_REPLY_CHARS
# An error body is only ever shown in part; a larger one is cut, not refused.
MAX_ERROR_BYTES = 64 * 1024


class _Refused(Exception):
    """A non-2xx answer, kept whole until the negotiation has seen it (a cut message could hide why)."""

    def __init__(self, status: int, message: str, headers: Any) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.headers = headers


def _rejected(exc: Exception) -> bool:
    return isinstance(exc, _Refused) and rejects_json_schema(exc.message)


async def _read(response: aiohttp.ClientResponse, limit: int, *, cut: bool = False) -> bytes | None:
    """The body; when it is longer than ``limit``, its first ``limit`` bytes if ``cut``, else None. The rest is
    never read (aiohttp then closes the connection instead of reusing it)."""
    length = response.content_length
    if length is not None and length <= limit and "Content-Encoding" not in response.headers:
        # The common case, read whole at once: its length said, within the limit, and not compressed (a compressed
        # body's length says nothing of what it inflates to, so that is counted as it is read).
        return await response.read()
    if not cut and length is not None and length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit] if cut else None
    return b"".join(chunks)


def _env_proxy(url: str) -> tuple[yarl.URL | None, aiohttp.BasicAuth | None]:
    """HTTP(S)_PROXY and NO_PROXY, as they apply to the SDK too, looked up once. (aiohttp's ``trust_env`` would
    look them up, and ~/.netrc, in a worker thread on every request: two thread hops per request.)"""
    try:
        return get_env_proxy_for_url(yarl.URL(url))
    except LookupError:
        return None, None


class LeanBackend:
    """``complete`` posts one chat completion over a keep-alive connection pool of ``pool_size`` connections
    (default: the endpoint's concurrency). Timeouts and dropped connections are retryable BackendErrors, as
    with the SDK; so is a body cut short. A body that is not JSON is not."""

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 120.0, pool_size: int | None = None) -> None:
        self.endpoint = endpoint
        # An endpoint without a base URL is OpenAI's, as the SDK would take it.
        base_url = endpoint.base_url or OPENAI.base_url() or ""
        self._url = f"{base_url.rstrip('/')}/chat/completions"
        self._negotiation = FormatNegotiation(endpoint)
        # As the SDK backend: a placeholder key when none is named, so servers that want some header get one.
        self._headers = {"Authorization": f"Bearer {api_key(endpoint) or 'no-key-needed'}",
                         "Content-Type": "application/json", "Accept": "application/json"}
        # The SDK's timeout is per phase (connect, each read), not for the whole request: the same here.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        # Room for the most requests the runner's adaptive limit may send this replica at once.
        self._pool_size = max(1, pool_size or most_in_flight(endpoint))
        self._proxy, self._proxy_auth = _env_proxy(self._url)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it (aiohttp binds a session to its loop).
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers,
                                                  timeout=self._timeout)
        return self._session

    async def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        negotiation = self._negotiation
        try:
            if negotiation.settled(request):  # the common case, without the negotiation's coroutine around it
                data = await self._post(request, negotiation.schema_in_json_object)
            else:
                data = await negotiation.send(request, lambda in_object: self._post(request, in_object), _rejected)
        except _Refused as exc:
            raise status_error(self.endpoint, exc.status, exc.message, exc.headers) from None
        return parse_reply(data, self.endpoint, time.perf_counter() - started)

    async def _post(self, request: ChatRequest, schema_in_json_object: bool) -> Any:
        body = orjson.dumps(chat_body(request, schema_in_json_object=schema_in_json_object))
        try:
            async with self._open().post(self._url, data=body, proxy=self._proxy,
                                         proxy_auth=self._proxy_auth) as response:
                ok = 200 <= response.status < 300
                raw = await _read(response, MAX_BODY_BYTES) if ok else await _read(response, MAX_ERROR_BYTES, cut=True)
                status, headers = response.status, response.headers
        except asyncio.TimeoutError:  # aiohttp's own timeouts are subclasses
            raise timeout_error(self.endpoint) from None
        except aiohttp.InvalidURL as exc:
            raise BackendError(redact(f"{where(self.endpoint)}: the URL is not valid ({exc})"),
                               retryable=False) from None
        except aiohttp.ClientPayloadError as exc:
            raise BackendError(redact(f"{where(self.endpoint)}: the reply was cut short ({exc})"),
                               retryable=True) from None
        except aiohttp.ClientError as exc:  # refused, reset, dropped, a garbled status line: as the SDK, retryable
            raise connection_error(self.endpoint, f"{type(exc).__name__}: {exc}") from None
        if not ok:
            text = (raw or b"").decode("utf-8", "replace")
            try:
                message = server_message(orjson.loads(text))
            except orjson.JSONDecodeError:
                message = text.strip()
            raise _Refused(status, message, headers)
        if raw is None:
            raise BackendError(f"{self.endpoint.name}: a reply of over {MAX_BODY_BYTES:,} bytes is over what "
                               "judgebench keeps: a broken server?", retryable=False)
        return load_body(self.endpoint, status, raw)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
