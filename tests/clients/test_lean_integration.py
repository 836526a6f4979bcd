"""The lean transport end to end against the real embedded llama.cpp server (SmolLM2-135M-Instruct) over
loopback. No mocks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from judgebench.clients.backends import with_transport
from judgebench.clients.backends.local import MODEL_ALIAS
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

pytestmark = pytest.mark.integration


def test_generating_and_judging_through_the_lean_transport(tmp_path: Path, embedded_server) -> None:  # type: ignore[no-untyped-def]
    """Answers and two judges through lean: the embedded endpoint (llama.cpp's response format and
    log-probabilities) and the same server named by URL, which has to learn that it rejects json_schema. A second
    run through the SDK transport is served entirely from the cache the lean run filled."""
    local = with_transport(embedded_server.endpoint(concurrency=2), "lean")
    by_url = Endpoint(provider="openai", name="smollm2-url", model=MODEL_ALIAS, base_url=embedded_server.base_url,
                      concurrency=2, transport="lean")
    judges = (Judge("smollm2#json", local, constrained=True, logprobs=True),
              Judge("smollm2-url#json", by_url, constrained=True))
    # One item, short answers: the transport is under test here, not the model.
    task = replace(load_task("sample-mt"), generation=(("max_tokens", 48), ("temperature", 0.0)))
    config = RunConfig(model=local, judges=judges, out=tmp_path / "r", cache_path=tmp_path / "c.sqlite", limit=1,
                       progress=False)
    before, before_ok = embedded_server.requests_served(), embedded_server.requests_served("200")
    result = evaluate(task, config)

    assert result.n_failed == 0 and result.n_judgments == 4  # 1 item x 2 turns x 2 judges
    rows = {r.judge: r for r in result.rows}
    assert all(rows[j.name].n_judged == 2 and rows[j.name].n_parse_failures == 0 for j in judges)
    # 2 answers and 4 verdicts, and one request the URL judge's server refused with json_schema (inside one call).
    assert embedded_server.requests_served("200") - before_ok == 6
    assert embedded_server.requests_served() - before == 7
    assert result.counters.requests == 6 and result.counters.prompt_tokens > 0

    judgments = [json.loads(line) for line in (result.run_dir / "judgments.jsonl").read_text().splitlines()]
    for judgment in judgments:
        assert 1 <= judgment["score"] <= 10
        # The embedded endpoint's log-probabilities came through the lean parser.
        assert (judgment["expected_score"] is not None) == (judgment["judge"] == "smollm2#json")
    answers = [json.loads(line) for line in (result.run_dir / "answers.jsonl").read_text().splitlines()]
    assert all(len(a["turns"]) == 2 and all(c["prompt_tokens"] for c in a["calls"]) for a in answers)
    manifest = json.loads((result.run_dir / "config.json").read_text())
    assert manifest["model"]["transport"] == "lean"
    assert [j["endpoint"]["transport"] for j in manifest["judges"]] == ["lean", "lean"]

    sdk_judges = tuple(replace(j, endpoint=with_transport(j.endpoint, "sdk")) for j in judges)
    again = evaluate(task, replace(config, model=with_transport(local, "sdk"), judges=sdk_judges))
    assert again.counters.requests == 0 and again.rows == result.rows
