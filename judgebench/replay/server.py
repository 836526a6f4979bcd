"""The replay judge: a local OpenAI-compatible server that answers each chat request with the reply an anchor's own
files recorded for that exact prompt, and with an error (HTTP 400, which judgebench records as a failed judgment
and never retries) for any prompt it has not seen. A protocol task run against it reproduces the anchor's numbers
only if it sends the anchor's prompts byte for byte, with the anchor's sampling parameters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .table import Miss, Recording, ReplayTable

MODEL = "replay"
MAX_BODY_BYTES = 16 << 20  # the largest judge prompt of the public protocols is ~0.2 MB


def completion_body(recording: Recording, model: str, want_logprobs: bool) -> dict[str, Any]:
    """An OpenAI chat-completions body carrying the recorded reply (and its log-probabilities when asked for)."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": recording.reply},
                              "finish_reason": recording.finish_reason}
    if want_logprobs and recording.logprobs:
        choice["logprobs"] = {"content": [
            {"token": token, "logprob": dict(alternatives).get(token, alternatives[0][1] if alternatives else 0.0),
             "top_logprobs": [{"token": alt, "logprob": logprob} for alt, logprob in alternatives]}
            for token, alternatives in recording.logprobs]}
    return {"id": "replay", "object": "chat.completion", "created": 0, "model": model, "choices": [choice],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


class _Listener(ThreadingHTTPServer):
    # A run connects with all its concurrency at once; http.server's default queue of 5 pending connections drops
    # the rest, which the client's kernel retries only after 1, 3, 7, 15 ... seconds (a replay test took 7 s or 200).
    request_queue_size = 1024


class ReplayServer:
    """The replay judge on a loopback port (``base_url`` ends in /v1). Counts what it served and refused."""

    def __init__(self, table: ReplayTable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.table = table
        self.served = 0
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._httpd = _Listener((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}/v1"

    def answer(self, body: Any) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one decoded request body."""
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return 400, _error("replay: a chat-completions request needs a 'messages' list of objects")
        params = {k: v for k, v in body.items() if k not in ("messages", "model", "stream")}
        found = self.table.find(body["messages"], params)
        with self._lock:
            if isinstance(found, Miss):
                self.refused.append(found.message)
                return 400, _error(found.message)
            self.served += 1
        return 200, completion_body(found, str(body.get("model") or MODEL), bool(body.get("logprobs")))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test or the CLI reports
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
                else:
                    self._send(404, _error(f"replay: no such path {self.path}"))

            def do_POST(self) -> None:
                declared = self.headers.get("Content-Length") or "0"
                length = int(declared) if declared.isdigit() else -1
                if not 0 <= length <= MAX_BODY_BYTES:
                    # The body is not read (its length is unknown or too large): the connection closes after this.
                    self.close_connection = True
                    self._send(413 if length > MAX_BODY_BYTES else 400,
                               _error("replay: a request needs a Content-Length from 0 to "
                                      f"{MAX_BODY_BYTES:,} bytes"))
                    return
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, _error(f"replay: no such path {self.path}"))
                    return
                try:
                    body = json.loads(raw or b"null")
                except (ValueError, RecursionError):
                    self._send(400, _error("replay: the body is not JSON"))
                    return
                self._send(*server.answer(body))

        return Handler

    def start(self) -> ReplayServer:
        # stop() waits for serve_forever's next poll (0.5 s by default): a replay is stopped after every run.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="judgebench-replay", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": "replay_miss"}}


@contextmanager
def replaying(table: ReplayTable, host: str = "127.0.0.1", port: int = 0) -> Iterator[ReplayServer]:
    """The replay judge serving ``table`` for the block (in a background thread)."""
    server = ReplayServer(table, host, port).start()
    try:
        yield server
    finally:
        server.stop()
