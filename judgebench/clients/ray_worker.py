"""What runs inside Ray's workers for ``--engine ray``: the HTTP session handed to Ray Data's HTTP request stage,
and the functions that shape the rows coming out of Ray's processors.

Standard library and aiohttp (imported where used) only, nothing from judgebench: the engine ships this module to
the workers by value (cloudpickle), so a cluster needs Ray Data, aiohttp and pydantic (for Ray's stage), not
judgebench.

Why a session of our own (``HttpRequestProcessorConfig.session_factory``): Ray's stage fails the whole dataset
when one request keeps failing, never reads the status of an error reply, and awaits a batch's requests one after
another. This session starts every request of a batch at once (at most ``max_in_flight`` in flight) and hands the
stage every exchange, answered or failed, as one JSON text: status, body, Retry-After, latency. judgebench's one
retry layer (the engine) decides what is asked again.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

# The one column a row's exchange travels in: a JSON text, so Arrow cannot reshape it (Ray Data turns the
# differing dicts of a batch into one struct, filling missing keys with null).
EXCHANGE = "judgebench_exchange"
# A reply far past any max_tokens is a broken server: read no more than this.
MAX_BODY_BYTES = 8_000_000


class Exchange:
    """What Ray's stage sees of one request: always a success, whose JSON carries the real outcome."""

    status = 200
    reason = "OK"

    def __init__(self, record: dict[str, Any]) -> None:
        self._text = json.dumps(record)

    async def __aenter__(self) -> Exchange:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def json(self, **_: Any) -> dict[str, str]:
        return {EXCHANGE: self._text}


class ExchangeSession:
    """The session Ray's HTTP stage opens for each batch. ``post`` starts the request at once, so a batch's
    requests are in flight together (Ray's stage awaits them in order)."""

    def __init__(self, *, max_in_flight: int, timeout_s: float) -> None:
        self._max_in_flight = max(1, max_in_flight)
        self._timeout_s = timeout_s
        self._tasks: list[asyncio.Task[Exchange]] = []

    async def __aenter__(self) -> ExchangeSession:
        import aiohttp  # here, not at the top: judgebench imports this module where aiohttp may be missing

        self._slots = asyncio.Semaphore(self._max_in_flight)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()

    def post(self, url: str, *, headers: dict[str, str] | None = None, **body: Any) -> asyncio.Task[Exchange]:
        # Content-Type first: Ray's stage sets it in some versions and leaves it to aiohttp in others.
        task = asyncio.ensure_future(self._exchange(url, {"Content-Type": "application/json", **(headers or {})},
                                                    request_body(body)))
        self._tasks.append(task)
        return task

    async def _exchange(self, url: str, headers: dict[str, str], body: bytes) -> Exchange:
        import aiohttp

        async with self._slots:
            started = time.perf_counter()
            record: dict[str, Any]
            try:
                async with self._session.post(url, headers=headers, data=body) as response:
                    raw = await _read_capped(response)
                    record = {"status": response.status, "body": raw.decode("utf-8", errors="replace"),
                              "retry_after": response.headers.get("Retry-After"),
                              "too_long": len(raw) > MAX_BODY_BYTES}
            except asyncio.TimeoutError:
                record = {"status": None, "error": "timeout", "detail": f"no reply within {self._timeout_s:g} s"}
            except aiohttp.ClientError as exc:
                record = {"status": None, "error": "connection", "detail": f"{type(exc).__name__}: {exc}"}
            record["latency_s"] = time.perf_counter() - started
        return Exchange(record)


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body, or its first MAX_BODY_BYTES and a little more when it is longer."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
    return b"".join(chunks)


def request_body(body: dict[str, Any]) -> bytes:
    """The bytes to send for a row's payload, the request's JSON text: Ray's stage hands it over as ``data=`` (JSON
    encoded once more) or, in Ray 2.53, as ``json=``."""
    if "json" in body:
        payload = body["json"]
    else:
        data = body.get("data")
        payload = json.loads(data) if isinstance(data, str) else data
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def keep_exchange(row: dict[str, Any]) -> dict[str, Any]:
    """Postprocess of the HTTP processor: the row's index and its exchange, nothing else."""
    return {"idx": row["idx"], EXCHANGE: row["http_response"][EXCHANGE]}


def keep_generation(row: dict[str, Any]) -> dict[str, Any]:
    """Postprocess of the vLLM processor: the row's index and what the engine generated, as one JSON text."""
    logprobs = row.get("logprobs")
    tokens = row.get("generated_tokens")
    record = {
        "text": row.get("generated_text") or "",
        "prompt_tokens": _int_or_none(row.get("num_input_tokens")),
        "completion_tokens": _int_or_none(row.get("num_generated_tokens")),
        "max_tokens": _int_or_none((row.get("sampling_params") or {}).get("max_tokens")),
        "logprobs": _plain(logprobs) if logprobs is not None else None,
        "generated_tokens": _plain(tokens) if tokens is not None else None,
    }
    return {"idx": row["idx"], EXCHANGE: json.dumps(record)}


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _plain(value: Any) -> Any:
    """Arrow and numpy values (arrays, numpy scalars, maps as lists of pairs) as plain JSON values."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
