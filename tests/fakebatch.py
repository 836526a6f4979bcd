"""A local fake of OpenAI's Batch API and Anthropic's Message Batches, for the batch tests: the subset of both that
their SDKs call (OpenAI: POST /files, POST /batches, GET /batches/{id}, GET /files/{id}/content; Anthropic: POST
/v1/messages/batches, GET /v1/messages/batches/{id}, GET its results_url), plus both chat endpoints, which answer
every request exactly as a batch would. Each batch follows a scripted ``Plan``: in progress for some polls, then
completed, expired or failed, with some requests errored. Unit tests only (no provider can be asked to fail so)."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .fakeserver import anthropic_message, completion, serving

Messages = list[dict[str, str]]


def default_answer(messages: Messages) -> str:
    """A judge (its prompt has a system message) grades with a number that depends on what it was shown; a model
    answers with text that depends on the conversation. The same request always gets the same text."""
    digest = int(hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest(), 16)
    if messages and messages[0]["role"] == "system":
        if "comparing two AI assistants" in messages[0]["content"]:
            return f"Weighing both answers. [[{'ABC'[digest % 3]}]]"
        return f"A fair answer on the whole. [[{1 + digest % 10}]]"
    return f"Here is my answer, number {digest % 1000}."


@dataclass(frozen=True)
class Plan:
    """How one batch behaves. polls: status reads answered "in progress" first. end: completed, expired, failed
    (OpenAI: the whole batch rejected) or cancelled. errored: the first N requests fail on their own. finished:
    with expired / cancelled, how many of the others finished before it ended (the rest get no reply). echo: an
    errored request's message repeats the caller's key (a careless provider), to prove it is redacted."""

    polls: int = 0
    end: str = "completed"
    errored: int = 0
    finished: int = 0
    echo: bool = False


@dataclass
class FakeBatch:
    id: str
    provider: str
    custom_ids: list[str]
    plan: Plan
    outcomes: dict[str, tuple[str, str]]  # custom_id -> ("ok", text) | ("error", message) | ("expired"|... , "")
    created: float = field(default_factory=time.time)
    reads: int = 0
    files: tuple[str | None, str | None] = (None, None)  # OpenAI: output and error files, once ended

    @property
    def ended(self) -> bool:
        return self.reads > self.plan.polls


class FakeProvider:
    """The provider's state: batches (in creation order), uploaded files, direct chat calls, request headers."""

    def __init__(self, plans: list[Plan] | None = None, answer: Callable[[Messages], str] = default_answer) -> None:
        self.plans = list(plans or [Plan()])
        self.answer = answer
        self.batches: dict[str, FakeBatch] = {}
        self.files: dict[str, bytes] = {}
        self.chat_calls: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def created(self) -> list[FakeBatch]:
        return list(self.batches.values())

    def _plan(self) -> Plan:
        return self.plans.pop(0) if len(self.plans) > 1 else self.plans[0]

    def create(self, provider: str, entries: list[tuple[str, Messages]], key: str) -> FakeBatch:
        with self.lock:
            plan = self._plan()
            outcomes: dict[str, tuple[str, str]] = {}
            for i, (custom_id, messages) in enumerate(entries):
                if i < plan.errored:
                    outcomes[custom_id] = ("error", "scripted failure" + (f" for key {key}" if plan.echo else ""))
                elif plan.end == "failed":
                    outcomes[custom_id] = ("none", "")
                elif plan.end == "completed" or i < plan.errored + plan.finished:
                    outcomes[custom_id] = ("ok", self.answer(messages))
                else:
                    outcomes[custom_id] = (plan.end, "")
            prefix = "batch_" if provider == "openai" else "msgbatch_"
            batch = FakeBatch(f"{prefix}{next(self._ids):04d}", provider, [c for c, _ in entries], plan, outcomes)
            self.batches[batch.id] = batch
            return batch

    def read(self, batch_id: str) -> FakeBatch | None:
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is not None:
                batch.reads += 1
            return batch

    def add_file(self, data: bytes) -> str:
        with self.lock:
            file_id = f"file-{next(self._ids):04d}"
            self.files[file_id] = data
            return file_id


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def _openai_batch(provider: FakeProvider, batch: FakeBatch) -> dict[str, Any]:
    status = "in_progress"
    output_file = error_file = None
    if batch.ended:
        status = batch.plan.end
        if batch.files == (None, None) and status != "failed":
            ok, errors = [], []
            for n, custom_id in enumerate(batch.custom_ids):
                kind, text = batch.outcomes[custom_id]
                line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": custom_id, "error": None}
                if kind == "ok":
                    line["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": completion(text)}
                    ok.append(line)
                elif kind == "error":
                    line["response"] = {"status_code": 500, "request_id": f"req_{n}",
                                        "body": {"error": {"message": text, "type": "server_error"}}}
                    errors.append(line)
                else:
                    line["response"] = None
                    line["error"] = {"code": f"batch_{kind}", "message": f"The request was not run: batch {kind}."}
                    errors.append(line)
            batch.files = tuple(provider.add_file("".join(json.dumps(x) + "\n" for x in lines).encode())
                                if lines else None for lines in (ok, errors))  # type: ignore[assignment]
        output_file, error_file = batch.files
    n_ok = sum(1 for kind, _ in batch.outcomes.values() if kind == "ok")
    failed = status == "failed"
    return {
        "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file-input",
        "completion_window": "24h", "status": status, "created_at": int(batch.created),
        "output_file_id": output_file, "error_file_id": error_file, "metadata": {},
        "errors": {"object": "list", "data": [{"code": "invalid_request", "message": "scripted batch failure",
                                               "line": None, "param": None}]} if failed else None,
        "request_counts": {"total": len(batch.custom_ids), "completed": n_ok if batch.ended else 0,
                           "failed": len(batch.custom_ids) - n_ok if batch.ended else 0},
    }


def _anthropic_batch(batch: FakeBatch, base: str) -> dict[str, Any]:
    kinds = [kind for kind, _ in batch.outcomes.values()]
    ended = batch.ended
    counts = {"processing": 0 if ended else len(kinds), "succeeded": kinds.count("ok") if ended else 0,
              "errored": kinds.count("error") + kinds.count("none") if ended else 0,
              "canceled": kinds.count("cancelled") if ended else 0, "expired": kinds.count("expired") if ended else 0}
    return {
        "id": batch.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
        "request_counts": counts, "created_at": _iso(batch.created), "expires_at": _iso(batch.created + 86400),
        "ended_at": _iso(time.time()) if ended else None, "archived_at": None,
        "cancel_initiated_at": _iso(batch.created) if batch.plan.end == "cancelled" else None,
        "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if ended else None,
    }


def _anthropic_results(batch: FakeBatch) -> bytes:
    lines = []
    for custom_id in batch.custom_ids:
        kind, text = batch.outcomes[custom_id]
        result: dict[str, Any]
        if kind == "ok":
            result = {"type": "succeeded", "message": anthropic_message(text)}
        elif kind in ("error", "none"):
            result = {"type": "errored", "error": {"type": "error", "error": {"type": "api_error",
                                                                              "message": text or "failed"}}}
        else:
            result = {"type": "canceled" if kind == "cancelled" else "expired"}
        lines.append(json.dumps({"custom_id": custom_id, "result": result}) + "\n")
    return "".join(lines).encode()


def _anthropic_messages(params: dict[str, Any]) -> Messages:
    """Anthropic's parameters as the OpenAI-style message list the answer function sees (system first)."""
    system = [{"role": "system", "content": params["system"]}] if params.get("system") else []
    return system + [{"role": m["role"], "content": m["content"]} for m in params["messages"]]


def _key(headers: dict[str, str]) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get("x-api-key") or lowered.get("authorization", "").removeprefix("Bearer ")


def _multipart_file(content_type: str, body: bytes) -> bytes:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == "file":
            return bytes(part.get_payload(decode=True))
    raise ValueError("no file in the upload")


@contextmanager
def fake_batch_server(provider: FakeProvider) -> Iterator[str]:
    """Serve ``provider`` on loopback; yields the base URL without /v1 (Anthropic's; OpenAI's is base + "/v1")."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            provider.headers.append(dict(self.headers))
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/v1/models":
                return self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
            if match := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
                data = provider.files.get(match[1])
                return self._bytes(200, data, "application/jsonl") if data is not None else self._missing()
            if match := re.fullmatch(r"/v1/messages/batches/(\w+)/results", self.path):
                batch = provider.batches.get(match[1])
                return self._bytes(200, _anthropic_results(batch), "application/binary") if batch else self._missing()
            if match := re.fullmatch(r"/v1/(messages/)?batches/(\w+)", self.path):
                batch = provider.read(match[2])
                if batch is None:
                    return self._missing()
                return self._json(200, _anthropic_batch(batch, base) if match[1] else _openai_batch(provider, batch))
            return self._missing()

        def do_POST(self) -> None:
            provider.headers.append(dict(self.headers))
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = _key(dict(self.headers))
            if self.path == "/v1/files":
                data = _multipart_file(self.headers["Content-Type"], body)
                file_id = provider.add_file(data)
                return self._json(200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0,
                                        "filename": "batch.jsonl", "purpose": "batch", "status": "processed"})
            payload = json.loads(body or b"{}")
            if self.path == "/v1/batches":
                lines = [json.loads(line) for line in provider.files[payload["input_file_id"]].decode().splitlines()]
                batch = provider.create("openai", [(x["custom_id"], x["body"]["messages"]) for x in lines], key)
                return self._json(200, _openai_batch(provider, batch))
            if self.path == "/v1/messages/batches":
                entries = [(r["custom_id"], _anthropic_messages(r["params"])) for r in payload["requests"]]
                batch = provider.create("anthropic", entries, key)
                return self._json(200, _anthropic_batch(batch, ""))
            provider.chat_calls.append(payload)
            if self.path == "/v1/chat/completions":
                return self._json(200, completion(provider.answer(payload["messages"])))
            if self.path == "/v1/messages":
                return self._json(200, anthropic_message(provider.answer(_anthropic_messages(payload))))
            return self._missing()

        def _missing(self) -> None:
            self._json(404, {"error": {"message": f"no such thing: {self.path}", "type": "not_found_error"}})

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._bytes(status, json.dumps(payload).encode(), "application/json")

        def _bytes(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        yield base
