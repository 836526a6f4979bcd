"""One module per provider; each exposes an object with ``async complete(ChatRequest) -> ChatReply``."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol, get_args

from ...errors import ConfigError
from ...types import ChatReply, ChatRequest, Endpoint, Transport

TRANSPORTS: tuple[str, ...] = get_args(Transport)


class Backend(Protocol):
    async def complete(self, request: ChatRequest) -> ChatReply: ...

    async def aclose(self) -> None: ...


def make_backend(endpoint: Endpoint, *, timeout_s: float = 120.0) -> Backend:
    """The client for an endpoint. Keys are read from the environment here, at the edge, and nowhere else."""
    from .inprocess import InProcessBackend, model_for  # a model in this process (tests): no socket, no key

    if (model := model_for(endpoint)) is not None:
        return InProcessBackend(endpoint, model)
    if endpoint.provider in ("openai", "local"):
        if endpoint.transport == "lean":
            from .lean import LeanBackend

            return LeanBackend(endpoint, timeout_s=timeout_s)
        if endpoint.transport == "sdk":
            from .openai_compat import OpenAICompatBackend

            return OpenAICompatBackend(endpoint, timeout_s=timeout_s)
        raise ConfigError(f"endpoint {endpoint.name}: unknown transport {endpoint.transport!r}; use one of "
                          f"{', '.join(TRANSPORTS)}")
    if endpoint.provider == "anthropic":
        from .anthropic_backend import AnthropicBackend

        return AnthropicBackend(endpoint, timeout_s=timeout_s)
    raise ConfigError(f"unknown provider {endpoint.provider!r}")


def with_transport(endpoint: Endpoint, transport: Transport) -> Endpoint:
    """``endpoint`` spoken to through ``transport`` when it is OpenAI-compatible; any other endpoint as it is."""
    if transport not in TRANSPORTS:
        raise ConfigError(f"unknown transport {transport!r}; use one of {', '.join(TRANSPORTS)}")
    return replace(endpoint, transport=transport) if endpoint.provider in ("openai", "local") else endpoint
