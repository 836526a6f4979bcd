"""The endpoint and judge spec grammar, parsed by the library (the CLI only passes strings through)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from judgebench.clients.endpoints import (
    JudgeSpecParts,
    is_local,
    judge_base,
    parse_endpoint,
    parse_judge,
    parse_panel,
    split_judge_spec,
)
from judgebench.clients.serve import is_served
from judgebench.errors import ConfigError, JudgebenchError
from judgebench.types import Endpoint

LOCAL = Endpoint(provider="local", name="smollm2", model="smollm2", base_url="http://127.0.0.1:1/v1")


def test_judge_spec_with_mode_and_temperature() -> None:
    judge = parse_judge("qwen@http://127.0.0.1:8000/v1#json,t=0.7")
    assert judge.name == "qwen#json,t=0.7" and judge.constrained and judge.temperature == 0.7
    assert judge.endpoint.base_url == "http://127.0.0.1:8000/v1" and judge.endpoint.provider == "openai"
    plain = parse_judge("gpt-4o@openai")
    assert plain.name == "gpt-4o" and not plain.constrained and plain.temperature is None


def test_a_judge_asks_for_log_probabilities_only_when_its_spec_says_logprobs() -> None:
    from judgebench.judging.prompt_parts import judge_params
    from judgebench.tasks import load_task

    task = load_task("sample-mt")
    plain = parse_judge("local#json", local=LOCAL)
    assert not plain.logprobs and "logprobs" not in dict(judge_params(task, plain))
    weighted = parse_judge("local#json,t=0.7,logprobs", local=LOCAL)
    assert weighted.name == "smollm2#json,t=0.7,logprobs" and weighted.logprobs and weighted.temperature == 0.7
    assert dict(judge_params(task, weighted, grades=True))["top_logprobs"] == 10
    assert "logprobs" not in dict(judge_params(task, weighted))  # a pair verdict has no grade to weigh
    assert parse_judge("qwen@http://127.0.0.1:8000/v1#json,logprobs").logprobs  # any OpenAI-compatible server
    # One configuration, one name, however its settings were written; the spelling of the word does not matter.
    assert parse_judge("local,logprobs,t=0.7", local=LOCAL).name == parse_judge("local,t=0.7,LOGPROBS",
                                                                                local=LOCAL).name
    with pytest.raises(ConfigError, match=r"logprobs needs an OpenAI-compatible server .* drop ',logprobs'"):
        parse_judge("claude-sonnet-4@anthropic#json,logprobs")
    with pytest.raises(ConfigError, match=r"logprobs weighs a JSON verdict's grade: add #json"):
        parse_judge("qwen@http://127.0.0.1:8000/v1#text,logprobs")
    with pytest.raises(ConfigError, match=r"t=TEMPERATURE .* and logprobs"):
        parse_judge("local#json,logprobs=1", local=LOCAL)
    with pytest.raises(ConfigError, match=r"did you mean 'logprobs'\?"):
        parse_judge("local,logprob", local=LOCAL)
    with pytest.raises(ConfigError, match="logprobs is given twice"):
        parse_judge("local,logprobs,logprobs", local=LOCAL)


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


ROOT = Path(__file__).resolve().parents[2]
# The README and the reference pages in docs/, where the README's reference moved.
README_AND_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Every form of the README's `--judge NAME@URL[#json|#text][,t=0.7]` (and its key_env and replica forms):
# spec -> (judge name, base URL, replicas, temperature, JSON verdicts, key variable).
README_FORMS = {
    "j@http://host/v1": ("j", "http://host/v1", (), None, False, None),
    "j@http://host/v1#json": ("j#json", "http://host/v1", (), None, True, None),
    "j@http://host/v1#text": ("j#text", "http://host/v1", (), None, False, None),
    "j@http://host/v1,t=0.7": ("j,t=0.7", "http://host/v1", (), 0.7, False, None),
    "j@http://host/v1#json,t=0.7": ("j#json,t=0.7", "http://host/v1", (), 0.7, True, None),
    "j@http://host/v1#text,t=0.7": ("j#text,t=0.7", "http://host/v1", (), 0.7, False, None),
    "j@https://host/v1#text,key_env=HOST_KEY": ("j#text", "https://host/v1", (), None, False, "HOST_KEY"),
    "j@https://host/v1,key_env=HOST_KEY,t=0": ("j,t=0", "https://host/v1", (), 0.0, False, "HOST_KEY"),
    "j@http://a:8000/v1,http://b:8000/v1": ("j", "http://a:8000/v1", ("http://b:8000/v1",), None, False, None),
    "j@http://a:8000/v1,http://b:8000/v1,t=0.7": ("j,t=0.7", "http://a:8000/v1", ("http://b:8000/v1",), 0.7, False,
                                                  None),
    "j@http://a:8000/v1,http://b:8000/v1#json,t=0.7": ("j#json,t=0.7", "http://a:8000/v1", ("http://b:8000/v1",),
                                                       0.7, True, None),
    "gpt-4o@openai,t=0.7": ("gpt-4o,t=0.7", "https://api.openai.com/v1", (), 0.7, False, "OPENAI_API_KEY"),
    "j@http://a:8000/v1,http://b:8000/v1#json,logprobs": ("j#json,logprobs", "http://a:8000/v1",
                                                          ("http://b:8000/v1",), None, True, None),
    "j@http://host/v1#json,t=0.7,logprobs": ("j#json,t=0.7,logprobs", "http://host/v1", (), 0.7, True, None),
    "j@http://a:8000/v1,http://b:8000/v1,repeats=3": ("j,repeats=3", "http://a:8000/v1", ("http://b:8000/v1",), None,
                                                      False, None),
    "j@http://host/v1#json,repeats=5,t=0.7": ("j#json,t=0.7,repeats=5", "http://host/v1", (), 0.7, True, None),
}


@pytest.mark.parametrize("spec", README_FORMS)
def test_every_form_of_the_readme_judge_grammar_parses(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    judge = parse_judge(spec)
    found = (judge.name, judge.endpoint.base_url, judge.endpoint.replicas, judge.temperature, judge.constrained,
             judge.endpoint.api_key_env)
    assert found == README_FORMS[spec]


def test_settings_after_the_model_reach_served_and_local_judges() -> None:
    assert is_local("local,t=0.7") and judge_base("vllm:Qwen/Qwen2.5-7B-Instruct,t=0.7") == \
        "vllm:Qwen/Qwen2.5-7B-Instruct"
    judge = parse_judge("local,t=0.7", local=LOCAL)
    assert judge.endpoint is LOCAL and judge.temperature == 0.7 and judge.constrained
    assert split_judge_spec("j@http://a/v1,http://b/v1#text,t=1,key_env=K") == \
        JudgeSpecParts("j@http://a/v1,http://b/v1", "text", ("t=1", "key_env=K"))


@pytest.mark.parametrize(("spec", "message"), [
    ("j@http://host/v1,t=0.7#json", "the verdict mode comes before the settings"),
    ("j@http://host/v1,temp=0.7", "settings are t=TEMPERATURE"),
    ("j@http://a/v1,t=0.7,http://b/v1", "settings are t=TEMPERATURE"),
    ("j@http://a/v1,b:8000", "'b:8000' is not one"),
])
def test_misplaced_or_unknown_settings_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as found:
        parse_judge(spec)
    assert "\n" not in str(found.value)


def test_a_model_spec_with_a_judge_setting_says_it_is_a_judge_setting() -> None:
    with pytest.raises(ConfigError, match="a judge's settings"):
        parse_endpoint("m@http://host/v1,t=0.7", role="model", concurrency=1)


def test_every_judge_the_readme_shows_parses() -> None:
    # The README's commands, as a user copies them: served specs and `local` get the endpoint their server would.
    text = "\n".join(path.read_text(encoding="utf-8") for path in README_AND_DOCS)
    specs = set(re.findall(r"--judge ([^\s`\"']+)", text))
    # The grammar itself: README_FORMS has its forms.
    specs.discard("NAME@URL[#json|#text][,t=0.7][,logprobs][,repeats=K]")
    specs |= set(re.findall(r"parse_judge\(\"([^\"]+)\"\)", text))
    assert len(specs) >= 8
    for spec in sorted(specs):
        base = judge_base(spec)
        served = {base: LOCAL} if is_served(base) else None
        assert parse_judge(spec, local=LOCAL, served=served).endpoint.name, spec


def test_a_mistyped_provider_after_the_at_sign_is_answered_with_the_closest_one() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_judge("x@opneai")
    assert "did you mean 'openai'?" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_judge("x@nothing-like-it")
    assert "did you mean" not in str(caught.value)
