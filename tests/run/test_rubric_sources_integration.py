"""A HealthBench-style file as a rubric task, end to end against the real embedded llama.cpp server
(SmolLM2-135M-Instruct): `judgebench run` on it (one conversation with an earlier exchange), then `judgebench
leaderboard` and `judgebench stats` on the results. No mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..publish.rubric_runs import EARLIER_REPLY, healthbench_file

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


def test_a_healthbench_file_runs_on_the_embedded_model_and_the_site_shows_it(tmp_path: Path) -> None:
    data = healthbench_file(tmp_path / "healthbench.jsonl", n_items=2)  # the second has an earlier exchange
    task = tmp_path / "hb.yaml"
    task.write_text("name: hb-sample\nkind: rubric\njudge:\n  prompt: rubric.jinja\n  max_tokens: 256\n"
                    f"source:\n  format: healthbench\n  path: {data.name}\n")
    out = tmp_path / "results"
    run = cli("run", "--task", str(task), "--out", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    (run_dir,) = [p for p in out.iterdir() if (p / "config.json").exists()]
    judgments = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert {j["item_id"] for j in judgments} == {"hb-0", "hb-1"} and {j["kind"] for j in judgments} == {"rubric"}
    scored = [j for j in judgments if j["error"] is None]
    assert scored and all(0.0 <= j["score"] <= 1.0 for j in scored)
    assert {len(j["criteria"]) for j in judgments if j["item_id"] == "hb-1"} == {4}
    site = cli("leaderboard", str(out), "--out", str(tmp_path / "site"), cwd=tmp_path)
    assert site.returncode == 0, site.stderr + site.stdout
    page = (tmp_path / "site" / "rubric.html").read_text()
    stats = cli("stats", str(out), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    # The pairwise section needs two models; the per-category scores are on both surfaces, the same cells.
    for line in stats.stdout.split("rubric: mean item score per category")[1].split("\n\n")[1].splitlines()[2:]:
        score, interval = line.split()[-3], " ".join(line.split()[-2:])
        assert f">{score}<" in page and f">{interval}<" in page
    # The viewer's texts show the earlier exchange above the question.
    assert any(EARLIER_REPLY in shard.read_text() for shard in (tmp_path / "site" / "viewer").rglob("*.js"))
