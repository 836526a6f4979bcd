"""A stub OpenAI-compatible server for benchmarks: it answers every chat request at once (or after a fixed
service time), so the client is the only limit. It runs in its own process, so its CPU is not the client's.

    python bench/stub_server.py --port 8123 [--delay 0.05] [--max-concurrent N] [--prefix-window K]

Raw asyncio HTTP/1.1 with keep-alive: a few microseconds a request, far below any client's cost. With
``--max-concurrent`` it serves that many requests at once and queues the rest, like a GPU server with a fixed
batch size (what makes a second replica worth having).

With ``--prefix-window K`` it also simulates a prefix cache (vLLM's automatic prefix caching, SGLang's radix
cache): each chat request's prompt (its messages' roles and contents, joined) is compared with the last K prompts
it received, and the longest prefix it shares with one of them is counted. ``GET /stats`` returns, per request, that
length, so a client can say how much prefill a server with a cache of about K prompts would have skipped, and how
often a request found a prefix of at least N characters (``prefix_summary``). Measuring costs the stub time: leave it
off when timing the client.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_REPLY = json.dumps({
    "id": "stub", "object": "chat.completion", "created": 0, "model": "stub",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"score": 7}'}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
}).encode()
# A candidate model's answer, for requests to the model ``ANSWERER`` (a judge that finds its verdict's text in the
# answer it judges refuses it, so the answers of a run that generates on the stub cannot be the verdict).
ANSWERER = "stub-answerer"
_ANSWER = json.dumps({
    "id": "stub", "object": "chat.completion", "created": 0, "model": ANSWERER,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A stub answer, in one sentence."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
}).encode()
_MODELS = json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode()


def _response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def prompt_text(body: bytes) -> str:
    """A chat request's prompt as a server's chat template would lay it out: each message's role, then its
    content, in order (what a prefix cache keys on)."""
    messages = json.loads(body).get("messages") or []
    return "".join(f"<|{m.get('role')}|>{m.get('content')}" for m in messages)


def shared_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (a binary search over C-speed slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class PrefixCache:
    """A simulated prefix cache: the last ``window`` prompts received, and for each request the longest prefix it
    shares with one of them (``shared``), beside its length (``lengths``)."""

    def __init__(self, window: int) -> None:
        self.recent: deque[str] = deque(maxlen=window)
        self.shared: list[int] = []
        self.lengths: list[int] = []

    def see(self, prompt: str) -> None:
        self.shared.append(max((shared_prefix(prompt, seen) for seen in self.recent), default=0))
        self.lengths.append(len(prompt))
        self.recent.append(prompt)

    def stats(self) -> dict[str, Any]:
        return {"window": self.recent.maxlen, "requests": len(self.shared), "shared_chars": self.shared,
                "prompt_chars": self.lengths}

    def reset(self) -> None:
        self.recent.clear()
        self.shared.clear()
        self.lengths.clear()


def prefix_summary(stats: dict[str, Any], min_chars: int) -> dict[str, Any]:
    """What ``GET /stats`` says, in figures: the share of requests that found a prefix of at least ``min_chars``
    characters among the last K prompts (hit rate), and the share of all prompt characters those shared prefixes
    cover (the prefill a prefix cache of K prompts skips)."""
    shared, lengths = stats["shared_chars"], stats["prompt_chars"]
    n = len(shared)
    ordered = sorted(shared)
    hits = n - bisect.bisect_left(ordered, min_chars)
    return {"requests": n, "window": stats["window"], "min_chars": min_chars,
            "hit_rate": round(hits / n, 4) if n else None,
            "prefill_saved": round(sum(shared) / sum(lengths), 4) if n and sum(lengths) else None}


async def _serve(port: int, delay_s: float, max_concurrent: int, prefix_window: int = 0) -> None:
    slots = asyncio.Semaphore(max_concurrent) if max_concurrent > 0 else None
    prefixes = PrefixCache(prefix_window) if prefix_window > 0 else None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET /stats"):
                    writer.write(_response(json.dumps(prefixes.stats() if prefixes else {}).encode()))
                    continue
                if head.startswith(b"POST /reset"):
                    if prefixes:
                        prefixes.reset()
                    writer.write(_response(b"{}"))
                    continue
                if head.startswith(b"GET"):
                    writer.write(_response(_MODELS))
                    continue
                if prefixes is not None:
                    prefixes.see(prompt_text(body))
                if delay_s:
                    if slots is not None:
                        async with slots:
                            await asyncio.sleep(delay_s)
                    else:
                        await asyncio.sleep(delay_s)
                writer.write(_response(_ANSWER if ANSWERER.encode() in body else _REPLY))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_stub(delay_s: float = 0.0, max_concurrent: int = 0, prefix_window: int = 0) -> Iterator[str]:
    """Start the stub in a subprocess; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", str(port),
                                "--delay", str(delay_s), "--max-concurrent", str(max_concurrent),
                                "--prefix-window", str(prefix_window)])
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the stub server did not start") from None
                time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        process.wait()


def prefix_stats(base_url: str, reset: bool = False) -> dict[str, Any]:
    """The stub's simulated prefix cache so far (``GET /stats``); ``reset``: then forget it (``POST /reset``)."""
    root = base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/stats", timeout=30) as response:
        found: dict[str, Any] = json.loads(response.read())
    if reset:
        with urllib.request.urlopen(urllib.request.Request(f"{root}/reset", data=b"", method="POST"), timeout=30):
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--max-concurrent", type=int, default=0)
    parser.add_argument("--prefix-window", type=int, default=0,
                        help="simulate a prefix cache of this many recent prompts (GET /stats reports it)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.delay, args.max_concurrent, args.prefix_window))


if __name__ == "__main__":
    main()
