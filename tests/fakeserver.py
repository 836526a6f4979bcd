"""A scripted OpenAI-compatible server on loopback, for the faults the real one cannot produce on demand
(429 with Retry-After, 500, 400, a dropped connection, a body that is not JSON or is cut short). Unit tests only:
end-to-end tests use the real server."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHUTDOWN_POLL_S = 0.02


class Script:
    """Behaviours handed out one per request; the last one repeats. Records what arrived."""

    def __init__(self, steps: list[tuple[Any, ...]]) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        self.peers: list[tuple[str, int]] = []  # the client's address of each request: which connection it used
        self.lock = threading.Lock()
        # Requests being answered at once, now and at the most; and requests whose client hung up on a reply that
        # never ended ("drip", "hang").
        self.in_flight = 0
        self.peak = 0
        self.abandoned = 0

    def entered(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def left(self, *, abandoned: bool = False) -> None:
        with self.lock:
            self.in_flight -= 1
            self.abandoned += abandoned

    def next(self, body: dict[str, Any], headers: dict[str, str],
             peer: tuple[str, int] = ("", 0)) -> tuple[Any, ...]:
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.times.append(time.monotonic())
            self.peers.append(peer)
            return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def anthropic_message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_x", "type": "message", "role": "assistant", "model": "fake",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 21, "output_tokens": 4},
    }


def _until_hung_up(handler: BaseHTTPRequestHandler, drip_every_s: float | None) -> bool:
    """Keep a request open until its client hangs up, writing a space every ``drip_every_s`` seconds (None: never).
    True once the client has gone."""
    connection = handler.connection
    while True:
        try:
            if drip_every_s is not None:
                handler.wfile.write(b" ")
                handler.wfile.flush()
            readable, _, _ = select.select([connection], [], [], drip_every_s or 0.05)
            if readable and not connection.recv(1, socket.MSG_PEEK):
                return True
        except OSError:  # reset, or a broken pipe: the client is gone
            return True


class _Listener(ThreadingHTTPServer):
    # http.server's default of 5 pending connections makes a client that opens 32 at once wait for its kernel to
    # retry the dropped ones (1, 3, 7 ... s): slow tests, and timeouts that are the listener's, not the server's.
    request_queue_size = 1024


@contextmanager
def fake_server(script: Script, *, keep_alive: bool = False) -> Iterator[str]:
    """Serve ``script`` on a loopback port; yields the base URL (ending in /v1). ``keep_alive``: HTTP/1.1
    connections that stay open between requests (the default, HTTP/1.0, closes each after its reply)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            step = script.next(body, dict(self.headers), self.client_address[:2])
            script.entered()
            self._counted_out = False
            abandoned = False
            try:
                abandoned = self._answer(step, body)
            finally:
                if not self._counted_out:
                    script.left(abandoned=abandoned)

        def _answer(self, step: tuple[Any, ...], body: dict[str, Any]) -> bool:
            """Answer one request as ``step`` says; True when the client hung up on a reply that never ends."""
            kind = step[0]
            if kind in ("drip", "hang"):
                # ("drip", seconds): the headers, then a byte of the body every so many seconds, for ever;
                # ("hang",): not a byte, ever. Either ends only when the client hangs up.
                if kind == "drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(10**6))
                    self.end_headers()
                self.close_connection = True
                return _until_hung_up(self, step[1] if kind == "drip" else None)
            if kind == "ok":
                if len(step) > 2:  # ("ok", text, seconds): a slow server
                    time.sleep(step[2])
                self._send(200, anthropic_message(step[1]) if self.path.endswith("/messages") else completion(step[1]))
            elif kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
            elif kind == "fn":  # ("fn", reply(body) -> text or None): a reply computed from the request; None hangs
                text = step[1](body)
                if text is None:
                    self.close_connection = True
                    return _until_hung_up(self, None)
                self._send(200, completion(text))
            elif kind == "json":  # ("json", payload): any JSON object as a 200 reply
                self._send(200, step[1])
            elif kind == "raw":  # ("raw", status, body bytes): a body as it is (HTML, broken JSON, megabytes)
                self._send_bytes(step[1], step[2])
            elif kind == "stream":  # ("stream", body bytes): no Content-Length; the body ends when the connection does
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(step[1])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            elif kind == "cut":  # ("cut", body bytes): the headers promise twice the bytes sent, then it hangs up
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(2 * len(step[1])))
                self.end_headers()
                self.wfile.write(step[1])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                # ("429", retry_after) or ("401", None, "the server's own message")
                extra = {"Retry-After": str(step[1])} if len(step) > 1 and step[1] is not None else {}
                message = step[2] if len(step) > 2 else f"scripted {kind}"
                self._send(int(kind), {"error": {"message": message, "type": "x"}}, extra)
            return False

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), headers)

        def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            # Out of flight before the body's bytes go: once they arrive the client may send its next request
            # before this thread runs again, and the two would be counted in flight together.
            if not getattr(self, "_counted_out", True):
                self._counted_out = True
                script.left()
            self.wfile.write(data)

    with serving(_Listener(("127.0.0.1", 0), Handler)) as base:
        yield f"{base}/v1"


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve on a loopback port in a background thread; yields the base URL, shuts down afterwards."""
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, per server, per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
