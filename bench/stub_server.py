"""A stub OpenAI-compatible server for benchmarks: it answers every chat request at once (or after a fixed
service time), so the client is the only limit. It runs in its own process, so its CPU is not the client's.

    python bench/stub_server.py --port 8123 [--delay 0.05] [--max-concurrent N]

Raw asyncio HTTP/1.1 with keep-alive: a few microseconds a request, far below any client's cost. With
``--max-concurrent`` it serves that many requests at once and queues the rest, like a GPU server with a fixed
batch size (what makes a second replica worth having).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

_REPLY = json.dumps({
    "id": "stub", "object": "chat.completion", "created": 0, "model": "stub",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"score": 7}'}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
}).encode()
_MODELS = json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode()


def _response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


async def _serve(port: int, delay_s: float, max_concurrent: int) -> None:
    slots = asyncio.Semaphore(max_concurrent) if max_concurrent > 0 else None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET"):
                    writer.write(_response(_MODELS))
                    continue
                if delay_s:
                    if slots is not None:
                        async with slots:
                            await asyncio.sleep(delay_s)
                    else:
                        await asyncio.sleep(delay_s)
                writer.write(_response(_REPLY))
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
def running_stub(delay_s: float = 0.0, max_concurrent: int = 0) -> Iterator[str]:
    """Start the stub in a subprocess; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", str(port),
                                "--delay", str(delay_s), "--max-concurrent", str(max_concurrent)])
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--max-concurrent", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.delay, args.max_concurrent))


if __name__ == "__main__":
    main()
