"""The fake server's scripts (tests/fakeserver.Script) answered in-process (judgebench.clients.backends.inprocess):
the same steps, the same reply bodies read by the same parser, the same errors as over HTTP, without a socket.
Pipeline tests use this; the transport and fault tests that need real sockets (a dropped connection, a body cut
short, a reply that drips) keep the fake HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from judgebench.clients.backends.inprocess import serving
from judgebench.clients.backends.openai_wire import chat_body, load_body, parse_reply, status_error
from judgebench.types import ChatReply, ChatRequest

from .fakeserver import Script, completion

# Steps that only a socket can produce: a test that scripts them belongs on the fake HTTP server.
SOCKET_ONLY = frozenset({"drop", "drip", "stream", "cut"})


async def _forever() -> None:
    await asyncio.Event().wait()  # the runner's per-attempt bound cancels it, as a client hangs up


async def _answer(script: Script, request: ChatRequest) -> ChatReply:
    body = chat_body(request, schema_in_json_object=False)
    step = script.next(body, {}, ("in-process", 0))
    kind = step[0]
    endpoint = request.endpoint
    if kind in SOCKET_ONLY:
        raise AssertionError(f"the step {kind!r} needs a socket: use tests.fakeserver.fake_server")
    script.entered()
    try:
        if kind == "hang":
            await _forever()
        payload: Any
        if kind == "ok":
            if len(step) > 2:  # ("ok", text, seconds): a slow server
                await asyncio.sleep(step[2])
            payload = completion(step[1])
        elif kind == "fn":  # a reply computed from the request's body; None hangs
            text = step[1](body)
            if text is None:
                await _forever()
            payload = completion(text)
        elif kind == "json":
            payload = step[1]
        elif kind == "raw":
            status, raw = step[1], step[2]
            if not 200 <= status < 300:
                raise status_error(endpoint, status, raw.decode("utf-8", "replace"))
            payload = load_body(endpoint, status, raw)
        else:  # ("429", retry_after) or ("401", None, "the server's own message")
            headers = {"retry-after": str(step[1])} if len(step) > 1 and step[1] is not None else {}
            raise status_error(endpoint, int(kind), step[2] if len(step) > 2 else f"scripted {kind}", headers)
        return parse_reply(payload, endpoint, 0.0)
    finally:
        script.left()


@contextmanager
def fake_model(script: Script) -> Iterator[str]:
    """``script`` answered in this process; yields a base URL (ending in /v1) that a spec can name, as
    fakeserver.fake_server does."""

    async def model(request: ChatRequest) -> ChatReply:
        return await _answer(script, request)

    with serving(model) as url:
        yield url
