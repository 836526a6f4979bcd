"""Keys go only where they are named and are never written anywhere; an endpoint that refuses every request is
stopped with a clear message instead of being sent the whole run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main

from ..fakeserver import Script, fake_server

SENTINEL = "sk-judgebench-sentinel-0123456789abcdef"


@pytest.fixture(autouse=True, params=["sdk", "lean"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs over both transports of an OpenAI-compatible server (`run --transport`'s variable)."""
    monkeypatch.setenv("JUDGEBENCH_TRANSPORT", request.param)
    return str(request.param)


def auth(headers: dict[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "authorization"), "")


def run(*args: str, out: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--out", str(out), *args])
    return result.exit_code, result.stdout, result.stderr


def written(root: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


def test_a_url_server_gets_no_key_unless_one_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    script = Script([("ok", "Rating: [[7]]")])
    with fake_server(script) as url:
        code, _, stderr = run("--model", f"m@{url}", "--judge", f"j@{url}", out=tmp_path / "r")
    assert code == 0, stderr
    assert all(SENTINEL not in auth(h) for h in script.headers)


def test_a_named_key_is_sent_to_that_server_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", SENTINEL)
    judge_script, model_script = Script([("ok", "Rating: [[7]]")]), Script([("ok", "An answer.")])
    with fake_server(judge_script) as judge_url, fake_server(model_script) as model_url:
        code, _, stderr = run("--model", f"m@{model_url}", "--judge", f"j@{judge_url}#text,key_env=MY_JUDGE_KEY",
                              out=tmp_path / "r")
    assert code == 0, stderr
    assert all(auth(h) == f"Bearer {SENTINEL}" for h in judge_script.headers)
    assert all(SENTINEL not in auth(h) for h in model_script.headers)
    assert SENTINEL not in written(tmp_path)


def test_name_at_openai_uses_openai_base_url_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    script = Script([("ok", "Rating: [[7]]")])
    with fake_server(script) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        code, _, stderr = run("--model", "gpt-x@openai", "--judge", "gpt-y@openai", out=tmp_path / "r")
    assert code == 0, stderr
    assert script.requests and all(auth(h) == f"Bearer {SENTINEL}" for h in script.headers)
    assert SENTINEL not in written(tmp_path)


def test_a_refusing_judge_is_stopped_after_three_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """401 to every request: three are sent, not the whole run, and the message names the status, the server's
    reason and how to name a key. A server that echoes the key in its refusal gets it redacted everywhere."""
    monkeypatch.setenv("MY_JUDGE_KEY", SENTINEL)
    judge = Script([("401", None, f"invalid api key {SENTINEL}")])
    with fake_server(Script([("ok", "An answer.")])) as model_url, fake_server(judge) as judge_url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "4", "--concurrency", "1",
                                           "--out", str(tmp_path / "r"), "--model", f"m@{model_url}",
                                           "--judge", f"j@{judge_url}#text,key_env=MY_JUDGE_KEY"])
    assert len(judge.requests) == 3  # 8 judge requests in the run; the breaker stopped it after 3
    assert result.exit_code == 3  # the judgments are recorded, as failed
    assert "HTTP 401" in result.stderr and "invalid api key [redacted MY_JUDGE_KEY]" in result.stderr
    assert "stopped:" in result.stderr
    assert "check the key in MY_JUDGE_KEY" in result.stderr
    assert SENTINEL not in result.output and SENTINEL not in written(tmp_path)
    assert "8 x request" not in result.stderr and "x request:" in result.stderr  # causes with counts


def test_a_401_without_a_key_says_how_to_name_one(tmp_path: Path) -> None:
    with fake_server(Script([("ok", "An answer.")])) as model_url, fake_server(Script([("401",)])) as judge_url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--out",
                                           str(tmp_path / "r"), "--model", f"m@{model_url}", "--judge",
                                           f"j@{judge_url}"])
    assert "no key was sent" in result.stderr and "key_env=VAR" in result.stderr


def test_a_key_ending_in_a_newline_is_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", SENTINEL + "\n")
    with fake_server(Script([("ok", "An answer.")])) as model_url, \
            fake_server(Script([("ok", "Rating: [[7]]")])) as judge_url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--out",
                                           str(tmp_path / "r"), "--model", f"m@{model_url}", "--judge",
                                           f"j@{judge_url}#text,key_env=MY_JUDGE_KEY"])
    assert SENTINEL not in result.output and SENTINEL not in written(tmp_path)


def test_progress_without_a_terminal_is_a_line_every_few_seconds(tmp_path: Path) -> None:
    with fake_server(Script([("ok", "Rating: [[7]]")])) as url:
        code, _, stderr = run("--model", f"m@{url}", "--judge", f"j@{url}", out=tmp_path / "r")
    assert code == 0
    # Generation (2 items x 2 turns... limited to the run's items) and judging share one line: done/total, rate,
    # ETA, failures and what is in flight on each endpoint's replicas.
    final = [line for line in stderr.splitlines() if line.startswith("sample-mt: ")][-1]
    assert re.fullmatch(r"sample-mt: (\d+)/\1 requests done, [\d.]+ req/s, ETA \d+:\d\d, 0 failed; "
                        r"in flight: m: 127\.0\.0\.1:\d+ 0/\d+; j: 127\.0\.0\.1:\d+ 0/\d+", final), final


@pytest.mark.parametrize("status", ["401", "403", "404"])
def test_every_refusal_status_stops_the_endpoint(tmp_path: Path, status: str, transport: str) -> None:
    import asyncio

    from judgebench.run.cache import Cache
    from judgebench.run.runner import Runner
    from judgebench.types import ChatRequest, Endpoint

    script = Script([(status, None, "model not found" if status == "404" else "forbidden")])
    with fake_server(script) as url:
        endpoint = Endpoint(provider="openai", name="j", model="j", base_url=url, concurrency=1,
                            transport=transport)  # type: ignore[arg-type]
        requests = [ChatRequest(endpoint, (("user", f"q{i}"),)) for i in range(10)]

        async def main() -> list[object]:
            runner = Runner(Cache(tmp_path / "c.sqlite"), progress=False)
            try:
                return list(await runner.outcomes(requests, lambda _request, _reply: True))
            finally:
                await runner.aclose()

        outcomes = asyncio.run(main())
    assert len(script.requests) == 3 and len(outcomes) == 10
    assert all(f"HTTP {status}" in str(o) for o in outcomes)


def test_a_named_provider_without_its_key_says_which_variable_to_set(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`gpt-4o@openai` with no OPENAI_API_KEY, offline: the missing key is the message (its variable and how to set
    it), before any connection is tried, not advice to start a vLLM server. No other key is printed."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # offline: nothing listens there
    monkeypatch.setenv("OTHER_API_KEY", SENTINEL)
    code, _, stderr = run("--model", "gpt-4o@openai", "--judge", "gpt-4o@openai", out=tmp_path / "r")
    assert code == 1
    assert "OPENAI_API_KEY is not set" in stderr and "export OPENAI_API_KEY=" in stderr
    assert "vllm serve" not in stderr and SENTINEL not in stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_a_key_variable_named_for_a_server_but_unset_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_JUDGE_KEY", raising=False)
    with fake_server(Script([("ok", "Rating: [[7]]")])) as url:
        code, _, stderr = run("--model", f"m@{url}", "--judge", f"j@{url}#text,key_env=MY_JUDGE_KEY",
                              out=tmp_path / "r")
    assert code == 1 and "MY_JUDGE_KEY is not set" in stderr


def test_openai_unreachable_with_a_key_says_network_not_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    code, _, stderr = run("--model", "gpt-4o@openai", "--judge", "gpt-4o@openai", out=tmp_path / "r")
    assert code == 1 and "cannot reach gpt-4o" in stderr and "OPENAI_BASE_URL" in stderr
    assert "vllm serve" not in stderr and SENTINEL not in stderr
