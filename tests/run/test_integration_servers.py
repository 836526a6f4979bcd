"""End to end against real llama.cpp servers that each test starts itself (the default run, a server killed mid-run),
over loopback. No mocks. Apart from tests/run/test_integration.py, whose tests share the one embedded server and
so run on one worker: these can run beside them (tests/conftest.py's groups)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from judgebench.clients.backends.local import free_port, start_server
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.run.runner import RetryPolicy
from judgebench.tasks import load_task
from judgebench.types import Judge

from .test_integration import cli, requests_made, run_dirs

pytestmark = pytest.mark.integration


def test_default_run_end_to_end_then_entirely_from_cache(tmp_path: Path) -> None:
    """`judgebench run` with no model options: starts the embedded server, runs both samples, writes results;
    the second run makes no request and prints the same tables."""
    out = tmp_path / "results"
    first = cli("run", "--limit", "2", "--out", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert all(n > 0 for n in requests_made(first.stdout)) and len(requests_made(first.stdout)) == 2
    dirs = run_dirs(out)
    assert len(dirs) == 2
    for run_dir in dirs:
        for name in ("config.json", "answers.jsonl", "judgments.jsonl", "summary.json"):
            assert (run_dir / name).stat().st_size > 0, f"{run_dir}/{name}"
        config = json.loads((run_dir / "config.json").read_text())
        assert config["packages"]["judgebench"] and config["prompt_sha256"]
        judgments = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
        summary = json.loads((run_dir / "summary.json").read_text())
        # The default panel: two judge configurations of the embedded model.
        assert {j["judge"] for j in judgments} == {"smollm2-135m-instruct#json", "smollm2-135m-instruct#json,t=0.7"}
        diagnostics = summary["diagnostics"]
        assert diagnostics["panel_agreement"][0]["judges"] and summary["benchmark"] == summary["task"]
        assert any(flag["kind"] == "same family as judge" for flag in diagnostics["flags"])
        if summary["kind"] == "pairwise":
            assert len(judgments) == 4
            assert diagnostics["position_bias"]
            for j in judgments:  # both orders and both raw replies in one record
                assert len(j["raw"]) == 2 and [c["label"] for c in j["calls"]] == ["AB", "BA"]
                assert j["verdict_ab"] in ("win", "loss", "tie") and j["verdict_ba"] in ("win", "loss", "tie")
        else:
            assert len(judgments) == 8  # 2 items x 2 turns x 2 judges
            assert diagnostics["saturation"] and diagnostics["saturation"][0]["overall"]["high"] == 10
            assert all(1 <= j["score"] <= 10 for j in judgments)  # constrained JSON: nothing unparseable
            # No judge of the default panel asks for log-probabilities (`,logprobs`): no probability-weighted grade.
            assert all(j["expected_score"] is None for j in judgments)
            answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
            assert all(len(a["turns"]) == 2 and a["params"]["max_tokens"] for a in answers)
            assert all(c["prompt_tokens"] for a in answers for c in a["calls"])
    second = cli("run", "--limit", "2", "--out", str(out), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert requests_made(second.stdout) == [0, 0]
    tables = [block.split("\n", 1)[1].split("requests made")[0] for block in first.stdout.split("\n== ")[1:]]
    tables_again = [block.split("\n", 1)[1].split("requests made")[0] for block in second.stdout.split("\n== ")[1:]]
    assert tables == tables_again
    assert "-- judge diagnostics --" in first.stdout and "Panel agreement" in first.stdout
    assert len(run_dirs(out)) == 4  # the first runs are kept, not overwritten

    # `run` and `stats` share one aggregation: the table a run printed is the table `stats` prints for it.
    for block in first.stdout.split("\n== ")[1:]:
        run_dir = Path(block.split(" -> ", 1)[1].split("\n", 1)[0])
        printed = block.split("\n", 1)[1].split("\nrequests made")[0]
        stats = cli("stats", str(run_dir), cwd=tmp_path)
        assert stats.returncode == 0, stats.stderr
        assert stats.stdout.strip() == printed.strip()
    # Reading both runs of each task counts every judgment once, and says how many records it superseded.
    once = cli("stats", "--json", *map(str, dirs), cwd=tmp_path)
    twice = cli("stats", "--json", str(out), cwd=tmp_path)
    assert json.loads(once.stdout) == json.loads(twice.stdout)
    assert "12 judgments" in twice.stderr and "12 older or failed duplicate record(s)" in twice.stderr
    counts = {(r["benchmark"], r["judge"]): r["n_judged"] + r["n_failed"] for r in json.loads(twice.stdout)}
    assert set(counts.values()) == {2, 4}  # pairwise: 2 items; single: 2 items x 2 turns

    # The site's section for each judge of the panel shows that judge's numbers, as `stats` gives them.
    site = cli("leaderboard", str(out), "--out", str(tmp_path / "site"), cwd=tmp_path)
    assert site.returncode == 0, site.stderr
    rows = json.loads(twice.stdout)
    sections = {}
    for path in (tmp_path / "site" / "data").glob("*.json"):
        if not path.name.endswith(".diagnostics.json"):
            sections[path.stem] = json.loads(path.read_text())
    assert len(sections) == 4  # two benchmarks x two judges
    for row in rows:
        (section,) = [r for rs in sections.values() for r in rs
                      if (r["benchmark"], r["judge"], r["model"]) == (row["benchmark"], row["judge"], row["model"])]
        assert (section["score"], section["ci_low"], section["ci_high"], section["n"]) == (
            row["score"], row["ci_low"], row["ci_high"], row["n_judged"])


def test_unreachable_server_is_a_clear_error_and_records_nothing(tmp_path: Path) -> None:
    out = tmp_path / "results"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    result = cli("run", "--task", "sample-mt", "--model", f"m@{dead}", "--judge", f"j@{dead}", "--out", str(out),
                 cwd=tmp_path)
    assert result.returncode != 0
    assert "cannot reach" in result.stderr and dead in result.stderr
    assert run_dirs(out) == []


def _cache_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])


def test_server_killed_mid_run_then_rerun_makes_exactly_the_missing_requests(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    limit = 3
    needed = limit * 2 + limit * 2  # 2 answer turns + 2 graded turns per item
    cache_path = tmp_path / "cache.sqlite"
    out = tmp_path / "results"
    # Few, quick retries; --max-elapsed also bounds each attempt, so room for a slow judge request on a busy machine.
    quick_retry = RetryPolicy(max_attempts=2, max_elapsed_s=120, initial_wait_s=0.1, max_wait_s=0.5)

    first_server = start_server(log_dir=tmp_path / "logs1")
    endpoint = first_server.endpoint(concurrency=1)

    def kill_after(n: int) -> None:
        deadline = time.monotonic() + 300
        while first_server.requests_served() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(first_server.process.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_after, args=(5,))
    killer.start()
    config = RunConfig(model=endpoint, judges=(Judge("smollm2", endpoint, constrained=True),), out=out,
                       cache_path=cache_path, limit=limit, retry=quick_retry, progress=False)
    first = evaluate(task, config)
    killer.join()
    first_server.stop()
    assert first.n_failed > 0  # recorded as failed, not scored
    interrupted = (first.run_dir / "judgments.jsonl").read_text()
    failed = [json.loads(line) for line in interrupted.splitlines()]
    assert all(j["score"] is None for j in failed if j["error"])
    cached_after_first = _cache_rows(cache_path)
    assert 0 < cached_after_first < needed

    second_server = start_server(log_dir=tmp_path / "logs2")
    try:
        endpoint2 = second_server.endpoint(concurrency=1)
        config2 = RunConfig(model=endpoint2, judges=(Judge("smollm2", endpoint2, constrained=True),), out=out,
                            cache_path=cache_path, limit=limit, retry=quick_retry, progress=False)
        second = evaluate(task, config2)
        assert second.n_failed == 0
        assert second_server.requests_served() == needed - cached_after_first
        third = evaluate(task, config2)
        assert second_server.requests_served() == needed - cached_after_first  # nothing more
        assert third.counters.requests == 0 and third.rows == second.rows
    finally:
        second_server.stop()
    # Reading all three runs: every judgment once, the killed run's failures superseded by the later successes.
    per_judgment = limit * 2
    stats = cli("stats", "--json", str(out), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    (row,) = json.loads(stats.stdout)
    assert (row["n_judged"], row["n_failed"]) == (per_judgment, 0)
    assert f"read {per_judgment} judgments ({per_judgment + len(failed)} older or failed" in stats.stderr
    # The killed run alone counts exactly what it finished.
    alone = json.loads(cli("stats", "--json", str(first.run_dir), cwd=tmp_path).stdout)[0]
    assert alone["n_judged"] == sum(1 for j in failed if not j["error"])
    assert alone["n_failed"] == sum(1 for j in failed if j["error"])
    # The interrupted run's records are still there, untouched.
    assert (first.run_dir / "judgments.jsonl").read_text() == interrupted
