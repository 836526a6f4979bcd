"""One module per provider; each exposes an object with ``async complete(ChatRequest) -> ChatReply``."""

from __future__ import annotations

from typing import Protocol

from ...errors import ConfigError
from ...types import ChatReply, ChatRequest, Endpoint


class Backend(Protocol):
    async def complete(self, request: ChatRequest) -> ChatReply: ...

    async def aclose(self) -> None: ...


def make_backend(endpoint: Endpoint, *, timeout_s: float = 120.0) -> Backend:
    """The client for an endpoint. Keys are read from the environment here, at the edge, and nowhere else."""
    if endpoint.provider in ("openai", "local"):
        from .openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(endpoint, timeout_s=timeout_s)
    if endpoint.provider == "anthropic":
        from .anthropic_backend import AnthropicBackend

        return AnthropicBackend(endpoint, timeout_s=timeout_s)
    raise ConfigError(f"unknown provider {endpoint.provider!r}")
