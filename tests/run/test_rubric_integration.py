"""The rubric kind end to end against the real embedded llama.cpp server (SmolLM2-135M-Instruct). No mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import judgebench

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


def test_sample_rubric_runs_on_the_embedded_model_and_stats_and_rubric_report_show_it(tmp_path: Path) -> None:
    """`judgebench run --task sample-rubric --limit 2`: the embedded model answers, judges every criterion through
    the JSON schema (which llama.cpp enforces, so every verdict parses), `stats` prints the rubric tables and
    `rubric-report` measures the panel's agreement per criterion (one run for both: each run costs the suite)."""
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
    # The same panel's verdicts measured per criterion: rubric-report prints what load() computes.
    report = cli("rubric-report", str(out), "--json", "--bootstrap", "100", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    shown = json.loads(report.stdout)
    pooled = next(row for row in shown["panel"] if row["key"] == "*")
    assert pooled["n_units"] > 0 and pooled["statistic"] == "cohen" and 0.0 <= pooled["agreement"] <= 1.0
    assert len(pooled["judges"].split("; ")) == 2
    assert shown == json.loads(json.dumps(judgebench.load(out, n_bootstrap=100).rubric_quality().to_json()))
