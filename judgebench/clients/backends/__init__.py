"""One module per wire protocol; each exposes an object with ``async complete(ChatRequest) -> ChatReply``. Which one
an endpoint gets is its provider's ``wire`` (clients.providers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from ...errors import ConfigError
from ...types import Endpoint, Transport
from ..providers import Wire, provider_of
from .base import TRANSPORTS, Backend


def _openai_backend(endpoint: Endpoint, timeout_s: float) -> Backend:
    # Imported when first needed: the SDKs and aiohttp are slow to import, and a run needs one of them.
    if endpoint.transport == "lean":
        from .lean import LeanBackend

        return LeanBackend(endpoint, timeout_s=timeout_s)
    if endpoint.transport == "sdk":
        from .openai_sdk import OpenAICompatBackend

        return OpenAICompatBackend(endpoint, timeout_s=timeout_s)
    raise ConfigError(f"endpoint {endpoint.name}: unknown transport {endpoint.transport!r}; use one of "
                      f"{', '.join(TRANSPORTS)}")


def _anthropic_backend(endpoint: Endpoint, timeout_s: float) -> Backend:
    from .anthropic_sdk import AnthropicBackend

    return AnthropicBackend(endpoint, timeout_s=timeout_s)


# The backend for each wire protocol; the transports (sdk, lean) are the OpenAI protocol's clients.
BUILDERS: Mapping[Wire, Callable[[Endpoint, float], Backend]] = {"openai": _openai_backend,
                                                                 "anthropic": _anthropic_backend}
HAS_TRANSPORTS: frozenset[Wire] = frozenset({"openai"})


def make_backend(endpoint: Endpoint, *, timeout_s: float = 120.0) -> Backend:
    """The client for an endpoint. Keys are read from the environment here, at the edge, and nowhere else."""
    from .inprocess import InProcessBackend, model_for  # a model in this process (tests): no socket, no key

    if (model := model_for(endpoint)) is not None:
        return InProcessBackend(endpoint, model)
    return BUILDERS[provider_of(endpoint).wire](endpoint, timeout_s)


def with_transport(endpoint: Endpoint, transport: Transport) -> Endpoint:
    """``endpoint`` spoken to through ``transport`` when it is OpenAI-compatible; any other endpoint as it is."""
    if transport not in TRANSPORTS:
        raise ConfigError(f"unknown transport {transport!r}; use one of {', '.join(TRANSPORTS)}")
    return replace(endpoint, transport=transport) if provider_of(endpoint).wire in HAS_TRANSPORTS else endpoint


__all__ = ["TRANSPORTS", "Backend", "make_backend", "with_transport"]
