"""The endpoint and judge spec grammar, parsed by the library (the CLI only passes strings through)."""

from __future__ import annotations

import pytest

from judgebench.errors import ConfigError, JudgebenchError
from judgebench.run.endpoints import is_local, judge_base, parse_endpoint, parse_judge, parse_panel
from judgebench.types import Endpoint

LOCAL = Endpoint(provider="local", name="smollm2", model="smollm2", base_url="http://127.0.0.1:1/v1")


def test_judge_spec_with_mode_and_temperature() -> None:
    judge = parse_judge("qwen@http://127.0.0.1:8000/v1#json,t=0.7")
    assert judge.name == "qwen#json,t=0.7" and judge.constrained and judge.temperature == 0.7
    assert judge.endpoint.base_url == "http://127.0.0.1:8000/v1" and judge.endpoint.provider == "openai"
    plain = parse_judge("gpt-4o@openai")
    assert plain.name == "gpt-4o" and not plain.constrained and plain.temperature is None


def test_auto_mode_picks_json_on_the_embedded_server_and_text_elsewhere() -> None:
    assert parse_judge("local", local=LOCAL).constrained
    assert not parse_judge("m@http://127.0.0.1:9/v1").constrained
    assert is_local("local#json,t=0.7") and judge_base("local#json,t=0.7") == "local"


@pytest.mark.parametrize("spec", ["m@http://x/v1#yaml", "m@http://x/v1#json,temp=1", "m@http://x/v1#json,t=hot",
                                  "no-at-sign", "@http://x/v1", "m@ftp://x", "m@http://user:pw@x/v1"])
def test_bad_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_judge(spec)
    assert isinstance(info.value, JudgebenchError) and "\n" not in str(info.value)


def test_local_judge_without_the_server_and_duplicate_panel_names() -> None:
    with pytest.raises(ConfigError, match="embedded server is not running"):
        parse_judge("local")
    with pytest.raises(ConfigError, match="share a name"):
        parse_panel(["m@http://a/v1", "m@http://b/v1"])


def test_model_spec_keeps_only_the_key_variables_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-secret-value")
    endpoint = parse_endpoint("m@https://api.example.com/v1", role="judge", concurrency=3, key_env="MY_JUDGE_KEY")
    assert endpoint.api_key_env == "MY_JUDGE_KEY" and "sk-secret-value" not in repr(endpoint)


@pytest.mark.parametrize("spec", ["j@http://user:SECRETPW@host/v1", "j@http://host/v1?api_key=SECRETPW",
                                  "j@http://a/v1,http://u:SECRETPW@b/v1", "j@http://host/v1#frag"])
def test_secrets_in_urls_are_refused_without_being_repeated(spec: str) -> None:
    with pytest.raises(ConfigError) as found:
        parse_endpoint(spec, role="judge", concurrency=1)
    assert "SECRETPW" not in str(found.value) and "\n" not in str(found.value)


@pytest.mark.parametrize("spec", ["j@http://[::1/v1", "j@http://h:abc/v1", "j@http:///v1"])
def test_malformed_urls_are_one_line_errors(spec: str) -> None:
    with pytest.raises(ConfigError, match="--judge: a server URL"):
        parse_endpoint(spec, role="judge", concurrency=1)


@pytest.mark.parametrize("setting", ["t=nan", "t=-5", "t=inf", "t=3"])
def test_temperatures_outside_0_to_2_are_refused(setting: str) -> None:
    with pytest.raises(ConfigError, match="0 to 2"):
        parse_judge(f"j@http://127.0.0.1:9/v1#json,{setting}")
