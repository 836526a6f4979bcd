"""Servers judgebench starts for a run: any model by name, served on loopback for the run and stopped after it.

    vllm:HF_ID [FLAGS...]         vLLM's OpenAI-compatible server (an id from the Hugging Face Hub, or a directory)
    sglang:HF_ID [FLAGS...]       SGLang's server
    llamacpp:PATH.gguf [FLAGS...] llama.cpp's server (llama-cpp-python[server]) on a GGUF file
    local                         the embedded llama.cpp server on SmolLM2: one case of the same

A spec is read like a shell command line: the first word names the model, the words after it go to the server
as they are (``"vllm:Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2"``). judgebench sets the host, the port and
the served name itself. The prefix decides: ``vllm:x@http://host/v1`` is a vLLM spec, not NAME@URL. Each server
gets a free loopback port; the run waits until it answers ``GET /v1/models`` with its model, and stops it
(SIGTERM to its process group, then SIGKILL) when the run ends, fails or is interrupted. The same spec named
twice (the model and a judge) is one server. What a spec says (its kind, its flags, the embedded model) is
clients.server_specs'; this module starts and stops the processes.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

from ..credentials import redact
from ..errors import ConfigError
from ..types import Endpoint, ServerLaunch
from .server_specs import (
    HOST,
    KINDS,
    LLAMACPP_SLOTS,
    LLAMACPP_THREADS,
    LOCAL,
    MAX_LLAMACPP_SERVERS,
    PREFIXES,
    ServedSpec,
    ServerKind,
    check_installed,
    is_served,
    parse_served,
    served_specs,
)

POLL_S = 0.2

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def package_version(spec: ServedSpec) -> str | None:
    try:
        return importlib.metadata.version(spec.server.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def log_tail(path: Path, lines: int = 6, chars: int = 700) -> str:
    """The last lines of a server's log on one line (redacted), for an error message."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, path.stat().st_size - 8192))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return redact(" | ".join(kept)[-chars:]) or "(the log is empty)"


# Failures whose cure is a flag: the hint names it.
_HINTS = (
    ("max seq len", "add --max-model-len 8192 (or less) to the spec"),
    ("max_model_len", "add --max-model-len 8192 (or less) to the spec"),
    ("out of memory", "add --gpu-memory-utilization or --max-model-len to the spec, or serve a smaller model"),
    ("unrecognized arguments", "check the server flags in the spec against this version's --help"),
)


_SIGNALS = {int(s) for s in signal.Signals}

def _hint(tail: str) -> str:
    lowered = tail.lower()
    return next((f"; {hint}" for needle, hint in _HINTS if needle in lowered), "")


@dataclass
class Server:
    """A server process judgebench started. ``log_path`` holds its output, access log included."""

    spec: ServedSpec
    command: tuple[str, ...]
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started_at: float
    # More servers of the same spec (llama.cpp: one per core), replicas of one endpoint; stopped with this one.
    replicas: list[Server] = field(default_factory=list)

    def endpoint(self, concurrency: int = 1, name: str | None = None) -> Endpoint:
        endpoint = self.spec.endpoint(self.base_url, concurrency, name)
        return replace(endpoint, replicas=tuple(r.base_url for r in self.replicas)) if self.replicas else endpoint

    def launch(self) -> ServerLaunch:
        """What the run's manifest records: the spec, the exact command, the package and its version."""
        return ServerLaunch(spec=self.spec.spec, command=tuple(redact(a) for a in self.command),
                            package=self.spec.server.distribution, version=package_version(self.spec),
                            base_url=self.base_url, cache_identity=redact(self.spec.cache_identity),
                            log=str(self.log_path))

    def requests_served(self, status: str = "") -> int:
        """Chat requests the server answered (with ``status``, e.g. "200", only those), from its access log."""
        total = 0
        for log_path in (self.log_path, *(r.log_path for r in self.replicas)):
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            total += sum(1 for line in text.splitlines()
                         if "POST /v1/chat/completions" in line and f'" {status}' in line)
        return total

    def ready(self) -> bool:
        """Whether the server answers ``GET /v1/models`` with its model (and not some other server that took
        the port in the meantime)."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                if response.status != 200:
                    return False
                listed = json.loads(response.read() or b"{}").get("data") or []
        except (urllib.error.URLError, OSError, ValueError, AttributeError):
            return False
        return any(isinstance(m, dict) and m.get("id") == self.spec.served_name for m in listed)

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until the server is ready; if it exits or runs out of time, stop it and raise a one-line
        ConfigError with the end of its log."""
        timeout = self.spec.server.ready_timeout_s if timeout_s is None else timeout_s
        deadline = self.started_at + timeout
        where = self.spec.spec if self.spec.spec != LOCAL else self.spec.description
        while True:
            code = self.process.poll()
            if code is not None:
                tail = log_tail(self.log_path)
                self.stop()
                raise ConfigError(f"{where}: the server exited with code {code} before it was ready{_hint(tail)}; "
                                  f"its log ends: {tail} (whole log: {self.log_path})")
            if self.ready():
                return
            if time.monotonic() >= deadline:
                tail = log_tail(self.log_path)
                self.stop()
                raise ConfigError(f"{where}: the server was not ready within {timeout:.0f}s (give it longer with "
                                  f"--serve-timeout{_hint(tail)}); its log ends: {tail} (whole log: {self.log_path})")
            time.sleep(POLL_S)

    def died_during_run(self) -> str | None:
        """A one-line message when the server exited before judgebench stopped it (its requests then failed as
        "cannot connect", which says nothing of why), naming how it ended and the end of its log."""
        code = self.process.poll()
        if code is None:
            return None
        how = f"signal {signal.Signals(-code).name}" if code < 0 and -code in _SIGNALS else f"exit code {code}"
        hint = f"; {self.spec.server.crash_hint}" if code < 0 and self.spec.server.crash_hint else ""
        return (f"{self.spec.description}: the server at {self.base_url} stopped during the run ({how}){hint}; its "
                f"log ends: {log_tail(self.log_path)} (whole log: {self.log_path})")

    def stop(self, grace_s: float | None = None) -> None:
        """SIGTERM to the server's process group (vLLM and SGLang run workers of their own), SIGKILL to what is
        left after the grace period (the kind's, unless ``grace_s`` is given)."""
        grace = self.spec.server.stop_grace_s if grace_s is None else grace_s
        for replica in self.replicas:
            replica.stop(grace_s)
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait()
        # Workers that outlived their parent.
        _signal_group(self.process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, sig)  # the server leads its own session: its pid is its group's id
        elif process.poll() is None:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def spawn(spec: ServedSpec, *, port: int | None = None, log_dir: Path | None = None,
          command: Sequence[str] | None = None) -> Server:
    """Start a server's process without waiting for it (``wait_ready`` does). ``command`` runs instead of the one
    built for the spec; it gets the same port, which ``{port}`` in it stands for."""
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="judgebench-server-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.server.log_name}-{port}.log"
    argv = ([a.replace("{port}", str(port)) for a in command] if command is not None
            else spec.server.build(spec, port))
    with log_path.open("wb") as log:
        # Its own session: a Ctrl-C reaches judgebench alone, which then stops the server and its workers
        # together, after the results are written.
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    return Server(spec, tuple(argv), process, f"http://{HOST}:{port}/v1", log_path, time.monotonic())


def start(spec: ServedSpec, *, port: int | None = None, log_dir: Path | None = None,
          ready_timeout_s: float | None = None) -> Server:
    """Start a server and wait until it is ready."""
    server = spawn(spec, port=port, log_dir=log_dir)
    try:
        server.wait_ready(ready_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def _sigterm_stops_the_run() -> Iterator[None]:
    """A SIGTERM (a job scheduler, `timeout`) unwinds like Ctrl-C, so the servers are stopped, not orphaned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous: Any = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def serving(specs: Iterable[ServedSpec], *, log_dir: Path, ready_timeout_s: float | None = None,
            on_event: Callable[[str], None] = lambda _: None,
            commands: Mapping[ServedSpec, Sequence[str]] | None = None) -> Iterator[dict[ServedSpec, Server]]:
    """Start one server per distinct spec, all at once (their loads overlap), wait until each is ready, and stop
    them all when the block ends, however it ends. ``commands``: what to run instead of the built command, by
    spec (as ``spawn``'s ``command``)."""
    servers: dict[ServedSpec, Server] = {}
    with _sigterm_stops_the_run():
        try:
            for spec in dict.fromkeys(specs):
                command = (commands or {}).get(spec)
                copies = 1 if command is not None else spec.server.servers(spec)
                on_event(f"starting {spec.description} on loopback" + (f" ({copies} servers, one request at a time "
                                                                         "each)..." if copies > 1 else "..."))
                servers[spec] = spawn(spec, log_dir=log_dir, command=command)
                servers[spec].replicas = [spawn(spec, log_dir=log_dir) for _ in range(copies - 1)]
            for spec, server in servers.items():
                for each in (server, *server.replicas):
                    each.wait_ready(ready_timeout_s)
                on_event(f"  serving {spec.served_name} at {', '.join(s.base_url for s in (server, *server.replicas))} "
                         f"(ready after {time.monotonic() - server.started_at:.1f}s)")
            yield servers
        finally:
            for spec, server in servers.items():
                for each in (server, *server.replicas):
                    if (died := each.died_during_run()) is not None:
                        on_event(died)
                server.stop()
                on_event(f"stopped {spec.description}")


# What a spec says lives in clients.server_specs; these names are part of this module's interface too.
__all__ = ["HOST", "KINDS", "LLAMACPP_SLOTS", "LLAMACPP_THREADS", "LOCAL", "MAX_LLAMACPP_SERVERS", "PREFIXES",
           "ServedSpec", "Server", "ServerKind", "check_installed", "free_port", "is_served", "log_tail",
           "package_version", "parse_served", "served_specs", "serving", "spawn", "start"]
