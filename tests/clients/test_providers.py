"""The provider registry: every provider an Endpoint may name is registered, and an unknown one is refused with a
suggestion."""

from __future__ import annotations

from typing import get_args

import pytest

from judgebench.clients.backends import BUILDERS
from judgebench.clients.batch.apis import BATCH_CLIENTS, make_batch_client
from judgebench.clients.providers import PROVIDERS, by_host, provider, provider_of
from judgebench.errors import ConfigError
from judgebench.types import Endpoint, Provider


def test_every_provider_name_is_registered_with_a_backend() -> None:
    assert set(PROVIDERS) == set(get_args(Provider))
    for entry in PROVIDERS.values():
        assert entry.wire in BUILDERS
        assert not entry.batch_api or entry.wire in BATCH_CLIENTS


def test_an_unknown_provider_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown provider 'opneai': did you mean 'openai'\?"):
        provider("opneai")
    with pytest.raises(ConfigError, match="known providers are openai, anthropic, local"):
        provider("zzz")


def test_spec_hosts_and_own_apis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    openai = by_host("openai")
    assert openai is not None and openai.base_url() == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy:8000/v1/")
    assert openai.base_url() == "http://proxy:8000/v1"
    assert by_host("local") is None and by_host("http://x/v1") is None
    official = Endpoint(provider="openai", name="g", model="g", base_url="https://api.openai.com/v1")
    elsewhere = Endpoint(provider="openai", name="g", model="g", base_url="http://127.0.0.1:8000/v1")
    claude = Endpoint(provider="anthropic", name="c", model="c")
    assert provider_of(official).is_own_api(official) and not provider_of(elsewhere).is_own_api(elsewhere)
    assert provider_of(claude).is_own_api(claude)


def test_a_provider_without_a_batch_api_is_refused() -> None:
    local = Endpoint(provider="local", name="l", model="l", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match=r"no batch API; batches go to OpenAI \(NAME@openai\) and Anthropic"):
        make_batch_client(local)
