"""Servers judgebench starts for a run: any model by name, served on loopback for the run and stopped after it.

    vllm:HF_ID [FLAGS...]         vLLM's OpenAI-compatible server (an id from the Hugging Face Hub, or a directory)
    sglang:HF_ID [FLAGS...]       SGLang's server
    llamacpp:PATH.gguf [FLAGS...] llama.cpp's server (llama-cpp-python[server]) on a GGUF file
    local                         the embedded llama.cpp server on SmolLM2 (backends.local): one case of the same

A spec is read like a shell command line: the first word names the model, the words after it go to the server
as they are (``"vllm:Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2"``). judgebench sets the host, the port and
the served name itself. The prefix decides: ``vllm:x@http://host/v1`` is a vLLM spec, not NAME@URL. Each server
gets a free loopback port; the run waits until it answers ``GET /v1/models`` with its model, and stops it
(SIGTERM to its process group, then SIGKILL) when the run ends, fails or is interrupted. The same spec named
twice (the model and a judge) is one server.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
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
from ..types import Endpoint, Provider, ServerLaunch
from .endpoints import judge_base

HOST = "127.0.0.1"
LOCAL = "local"
POLL_S = 0.2
LLAMACPP_N_CTX = 4096
# llama-cpp-python's server answers one request at a time (one lock around its one model and context): a second
# request in flight only queues inside it. What pays off instead is a server per core with one thread each, as
# replicas of one endpoint: on 2 loaded cores, 1.4 to 6 times the throughput of one server with two threads, whose
# threads spin-wait on each other when the machine is busy (bench/bench_llamacpp_slots.py).
LLAMACPP_SLOTS = 1
LLAMACPP_THREADS = 1
MAX_LLAMACPP_SERVERS = 4  # each loads its own copy of the model


@dataclass(frozen=True)
class ServedSpec:
    """A server to start. model: what it loads (a Hugging Face id or directory, or a .gguf file's absolute path);
    served_name: the model name it answers to, also the model's label in results; extra_args: the user's server
    flags; spec: the spec, written the canonical way; cache_identity: what names the server in the cache key
    (never the port, which changes on every start); description: how messages name it."""

    kind: str
    model: str
    served_name: str
    extra_args: tuple[str, ...] = ()
    spec: str = ""
    cache_identity: str = ""
    description: str = ""

    @property
    def server(self) -> ServerKind:
        return KINDS[self.kind]

    def endpoint(self, base_url: str | None, concurrency: int = 1, name: str | None = None) -> Endpoint:
        """The endpoint of this spec's server at ``base_url`` (None: not started, as in a dry run); the cache knows
        it by its identity, not its port."""
        return Endpoint(provider=self.server.provider, name=name or self.served_name, model=self.served_name,
                        base_url=base_url, concurrency=concurrency, cache_identity=self.cache_identity,
                        slots=self.server.slots)


@dataclass(frozen=True)
class ServerKind:
    """One kind of server: how to launch it and what to tell a user who lacks it."""

    name: str
    title: str
    module: str  # imported by the launch command
    distribution: str  # whose version the manifest records
    install: str  # what to pip install when ``module`` is missing
    provider: Provider
    ready_timeout_s: float  # loading a model can take this long (vLLM: downloads, weights, CUDA graphs)
    stop_grace_s: float  # after SIGTERM, before SIGKILL
    managed_flags: tuple[str, ...]  # set by judgebench; a spec may not repeat them
    build: Callable[[ServedSpec, int], list[str]]
    example: str  # a spec, for error messages
    log_name: str  # its log: OUT/.server-logs/LOG_NAME-PORT.log
    loads_a_file: bool = False  # a .gguf file (llama.cpp), rather than a Hugging Face id or directory
    # How many requests the server answers at once; the runner never sends it more (run.replicas). None: it batches
    # as many as it is sent (vLLM, SGLang), so the adaptive limit finds how many pay off.
    slots: int | None = None
    also_needs: tuple[str, ...] = ()  # modules the server imports besides ``module``
    # How many servers of a spec to start, as replicas of its endpoint (llama.cpp: one per core).
    servers: Callable[[ServedSpec], int] = lambda _spec: 1


def _given(flag: str, args: Sequence[str]) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def _vllm(spec: ServedSpec, port: int) -> list[str]:
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", spec.model,
               "--served-model-name", spec.served_name, "--host", HOST, "--port", str(port)]
    # Since vLLM 0.8 a model's generation_config.json sets the default temperature, top_p, top_k, repetition
    # penalty and even a max_tokens cap for every request that leaves them out: the task's parameters are ours.
    if not _given("--generation-config", spec.extra_args):
        command += ["--generation-config", "vllm"]
    return command + list(spec.extra_args)


def _sglang(spec: ServedSpec, port: int) -> list[str]:
    command = [sys.executable, "-m", "sglang.launch_server", "--model-path", spec.model,
               "--served-model-name", spec.served_name, "--host", HOST, "--port", str(port)]
    # SGLang's default ("model") takes sampling defaults from the model's generation_config.json, as vLLM's does.
    if not _given("--sampling-defaults", spec.extra_args):
        command += ["--sampling-defaults", "openai"]
    return command + list(spec.extra_args)


def _llamacpp(spec: ServedSpec, port: int) -> list[str]:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", spec.model, "--model_alias", spec.served_name,
               "--host", HOST, "--port", str(port)]
    # The server's own default context (2048 tokens) is too short for a judge prompt with two long answers.
    if not _given("--n_ctx", spec.extra_args):
        command += ["--n_ctx", str(LLAMACPP_N_CTX)]
    if not _given("--n_threads", spec.extra_args):
        command += ["--n_threads", str(LLAMACPP_THREADS)]
    return command + list(spec.extra_args)


def _llamacpp_servers(spec: ServedSpec) -> int:
    """As many servers as the cores hold at the spec's threads each (one, unless --n_threads says otherwise)."""
    threads = LLAMACPP_THREADS
    for i, arg in enumerate(spec.extra_args):
        value = arg.partition("=")[2] if arg.startswith("--n_threads=") else \
            spec.extra_args[i + 1] if arg == "--n_threads" and i + 1 < len(spec.extra_args) else None
        if value is not None:
            threads = int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1
    return max(1, min(MAX_LLAMACPP_SERVERS, (os.cpu_count() or 1) // threads))



KINDS: dict[str, ServerKind] = {
    "vllm": ServerKind(
        "vllm", "vLLM", "vllm", "vllm", "pip install vllm  (or pip install 'judgebench[vllm]')", "openai",
        ready_timeout_s=1800, stop_grace_s=30,
        managed_flags=("--model", "--served-model-name", "--host", "--port", "--uds", "--api-key"), build=_vllm,
        example="vllm:Qwen/Qwen2.5-7B-Instruct", log_name="vllm-server"),
    "sglang": ServerKind(
        "sglang", "SGLang", "sglang", "sglang", "pip install 'sglang[all]'",
        "openai", ready_timeout_s=1800, stop_grace_s=30,
        managed_flags=("--model-path", "--model", "--served-model-name", "--host", "--port", "--api-key"),
        build=_sglang, example="sglang:Qwen/Qwen2.5-7B-Instruct", log_name="sglang-server"),
    # llama-cpp-python's server: "local" as a provider, since it takes a JSON schema only inside json_object and
    # returns the judge's log-probabilities (backends.openai_compat, judging.requests).
    "llamacpp": ServerKind(
        "llamacpp", "llama.cpp", "llama_cpp", "llama_cpp_python",
        "pip install 'llama-cpp-python[server]'  (or pip install 'judgebench[local]')", "local",
        ready_timeout_s=300, stop_grace_s=10,
        managed_flags=("--model", "--model_alias", "--host", "--port", "--api_key", "--config_file"),
        build=_llamacpp, example="llamacpp:models/qwen2.5-7b-instruct-q4_k_m.gguf", log_name="llama-server",
        loads_a_file=True, slots=LLAMACPP_SLOTS, servers=_llamacpp_servers,
        also_needs=("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")),
}
PREFIXES = tuple(f"{name}:" for name in KINDS)


def is_served(spec: str) -> bool:
    """Whether a model or judge spec (a judge's ``#MODE`` part aside) names a server judgebench starts."""
    base = spec.partition("#")[0].strip()
    return base == LOCAL or base.startswith(PREFIXES)


def parse_served(text: str, *, role: str = "model") -> ServedSpec:
    """``vllm:HF_ID``, ``sglang:HF_ID`` or ``llamacpp:PATH.gguf``, each optionally followed by server flags, or
    ``local``. A .gguf path must exist; a local model directory is made absolute, so the spec means the same
    from any directory. Whether the server's package is installed is ``check_installed``'s question."""
    where = f"--{role} {text!r}"
    if text.strip() == LOCAL:
        from .backends.local import embedded_spec

        return embedded_spec()
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc} (quote a path or flag that holds spaces, and close every quote)") from None
    head = words[0] if words else ""
    kind_name, _, model = head.partition(":")
    if kind_name not in KINDS:
        raise ConfigError(f"{where}: start a served model with one of {', '.join(PREFIXES)} e.g. "
                          f"{KINDS['vllm'].example} or {KINDS['llamacpp'].example}")
    kind = KINDS[kind_name]
    if not model:
        raise ConfigError(f"{where}: name the model after '{kind_name}:', e.g. {kind.example}")
    extra = tuple(words[1:])
    if extra and not extra[0].startswith("-"):
        raise ConfigError(f"{where}: after the model come the server's flags, which start with '-' "
                          f"({extra[0]!r} does not; quote a path that holds spaces)")
    for flag in kind.managed_flags:
        if _given(flag, extra):
            raise ConfigError(f"{where}: judgebench sets {flag} itself; leave it out of the spec")
    if kind.loads_a_file:
        path = Path(model).expanduser()
        if path.suffix.lower() != ".gguf":
            raise ConfigError(f"{where}: llama.cpp serves a .gguf model file; {model!r} is not one")
        if not path.is_file():
            raise ConfigError(f"{where}: no such file {str(path)!r}; give the path of a .gguf model file")
        model = str(path.resolve())
        served_name = path.stem
    else:
        local_dir = Path(model).expanduser()
        if local_dir.is_dir():
            model = str(local_dir.resolve())
        served_name = model
    canonical = shlex.join([f"{kind_name}:{model}", *extra])
    # The user's flags are part of the identity: a quantization, a dtype or a revision changes the answers. The
    # port, the host and the flags judgebench adds itself are not.
    return ServedSpec(kind_name, model, served_name, extra, spec=canonical, cache_identity=canonical,
                      description=f"{kind.title} serving {model}")


def check_installed(spec: ServedSpec, *, role: str = "model") -> None:
    """A one-line ConfigError that says what to pip install when the server's package is missing."""
    kind = spec.server
    missing = [m for m in (kind.module, *kind.also_needs) if importlib.util.find_spec(m) is None]
    if missing:
        what = kind.title if kind.module in missing else f"the server parts of {kind.title} ({', '.join(missing)})"
        raise ConfigError(f"--{role} {spec.spec!r}: {what} is not installed here: {kind.install}")


def served_specs(model: str | Iterable[str] | None, judges: Iterable[str]) -> dict[str, ServedSpec]:
    """The specs among the model's (or models') and the judges' (their modes and settings aside) that name a server
    judgebench starts, keyed by their text, each checked (spec, file, package) before anything starts."""
    found: dict[str, ServedSpec] = {}
    models = [] if model is None else [model] if isinstance(model, str) else list(model)
    named = [("model", text) for text in models]
    named += [("judge", judge_base(spec)) for spec in judges]
    for role, text in named:
        if is_served(text) and text not in found:
            spec = parse_served(text, role=role)
            check_installed(spec, role=role)
            found[text] = spec
    return found


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
                server.stop()
                on_event(f"stopped {spec.description}")
