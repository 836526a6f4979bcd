"""The providers judgebench talks to, one frozen object each: what the rest of the code used to decide by comparing
``endpoint.provider`` with a string. A new provider is a new entry here (and a builder for its wire protocol in
``backends`` and, if it has one, ``batch.apis``), never a new branch elsewhere.

This module sits below every other in ``clients``: it imports no SDK and no other client module, so anything may
ask it a question.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ..errors import ConfigError, closest
from ..types import Endpoint

# The protocol a provider's servers speak: it picks the chat backend (backends.make_backend) and the batch client.
Wire = Literal["openai", "anthropic"]
# What to check when a server given by URL cannot be reached.
SERVER_HINT = "Is the server running (e.g. `vllm serve MODEL`) and is the URL right (it usually ends in /v1)?"


@dataclass(frozen=True)
class Provider:
    """One provider.

    name: the value of ``Endpoint.provider``; title: how messages name it. wire: the protocol its servers speak.
    host: the word that names it in a model spec (``NAME@openai``); None when no spec names it that way (a llama.cpp
    server is started, not named). key_env: the variable its key is read from when named by ``host`` (as its SDK
    does). base_url_env, default_base_url: where ``NAME@host`` sends requests (None: the SDK's own default).
    own_api_hosts: the hosts where an endpoint is the provider's own API (priced by the built-in table); None: every
    endpoint of the provider is. batch_api: it has a provider batch API. probe: a GET of ``/models`` tells whether
    it is reachable before a run. local: a llama.cpp server judgebench starts, which takes a JSON schema only inside
    ``json_object``, returns log-probabilities, and gets JSON verdicts by default. logprobs: its replies can carry
    token log-probabilities (a judge's ``,logprobs``).
    """

    name: str
    title: str
    wire: Wire
    host: str | None = None
    key_env: str | None = None
    base_url_env: str | None = None
    default_base_url: str | None = None
    own_api_hosts: frozenset[str] | None = frozenset()
    batch_api: bool = False
    probe: bool = True
    local: bool = False
    unreachable_hint: str = SERVER_HINT
    logprobs: bool = True

    def base_url(self) -> str | None:
        """Where ``NAME@host`` sends requests: the environment's override, else the default (read when asked, never
        at import)."""
        if self.base_url_env is None:
            return self.default_base_url
        return (os.environ.get(self.base_url_env) or self.default_base_url or "").rstrip("/") or None

    def is_own_api(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint`` is this provider's own API (``NAME@openai`` redirected elsewhere with
        OPENAI_BASE_URL is a server like any other)."""
        if self.own_api_hosts is None:
            return True
        return urlsplit(endpoint.base_url or "").hostname in self.own_api_hosts


OPENAI = Provider("openai", "OpenAI", "openai", host="openai", key_env="OPENAI_API_KEY",
                  base_url_env="OPENAI_BASE_URL", default_base_url="https://api.openai.com/v1",
                  own_api_hosts=frozenset({"api.openai.com"}), batch_api=True,
                  unreachable_hint="Is the network up (or OPENAI_BASE_URL right)?")
ANTHROPIC = Provider("anthropic", "Anthropic", "anthropic", host="anthropic", key_env="ANTHROPIC_API_KEY",
                     own_api_hosts=None, batch_api=True, probe=False, logprobs=False)
LOCAL = Provider("local", "a llama.cpp server judgebench starts", "openai", local=True)

PROVIDERS: Mapping[str, Provider] = {p.name: p for p in (OPENAI, ANTHROPIC, LOCAL)}
# The providers a model spec names after '@' (NAME@openai, NAME@anthropic).
BY_HOST: Mapping[str, Provider] = {p.host: p for p in PROVIDERS.values() if p.host is not None}


def provider(name: str) -> Provider:
    """The provider called ``name``; a ConfigError that suggests the closest known name otherwise."""
    found = PROVIDERS.get(name)
    if found is not None:
        return found
    close = closest(name, PROVIDERS)
    hint = f"did you mean {close!r}? " if close else ""
    raise ConfigError(f"unknown provider {name!r}: {hint}known providers are {', '.join(PROVIDERS)}")


def provider_of(endpoint: Endpoint) -> Provider:
    """The provider an endpoint is served by."""
    return provider(endpoint.provider)


def by_host(host: str) -> Provider | None:
    """The provider ``NAME@host`` names, or None when ``host`` is not a provider's (it may be a URL)."""
    return BY_HOST.get(host)


__all__ = ["ANTHROPIC", "LOCAL", "OPENAI", "PROVIDERS", "SERVER_HINT", "Provider", "Wire", "by_host", "provider",
           "provider_of"]
