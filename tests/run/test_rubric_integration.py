"""The rubric kind end to end against the real embedded llama.cpp server (SmolLM2-135M-Instruct). No mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


def test_sample_rubric_runs_on_the_embedded_model_and_stats_shows_its_tables(tmp_path: Path) -> None:
    """`judgebench run --task sample-rubric --limit 2`: the embedded model answers, judges every criterion through
    the JSON schema (which llama.cpp enforces, so every verdict parses), and `stats` prints the rubric tables."""
    out = tmp_path / "results"
    run = cli("run", "--task", "sample-rubric", "--limit", "2", "--out", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    (run_dir,) = [p for p in out.iterdir() if (p / "config.json").exists()]
    judgments = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
    # Two items, each judged by the default panel's two judge configurations: one judgment per answer and judge.
    assert len(judgments) == 4 and {j["kind"] for j in judgments} == {"rubric"}
    for judgment in judgments:
        assert judgment["error"] is None, judgment["error"]
        assert 0.0 <= judgment["score"] <= 1.0
        assert all(c["met"] in (True, False) for c in judgment["criteria"])
    rows = json.loads((run_dir / "summary.json").read_text())["rows"]
    assert {r["n_judged"] for r in rows} == {2} and {r["n_failed"] for r in rows} == {0}
    stats = cli("stats", str(out), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert "rubric: per criterion" in stats.stdout and "on-topic" in stats.stdout
