"""End to end against the real embedded llama.cpp server (SmolLM2-135M-Instruct) over loopback. No mocks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from judgebench.clients.backends.local import free_port, start_server
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.run.runner import RetryPolicy
from judgebench.tasks import load_task
from judgebench.types import Judge

from .embedded_tasks import short_answers_task

pytestmark = pytest.mark.integration
SENTINEL_MODEL_KEY = "sk-judgebench-sentinel-model-0123456789abcdef"
SENTINEL_JUDGE_KEY = "sk-judgebench-sentinel-judge-0123456789abcdef"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=900)


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and (p / "config.json").exists()) if out.exists() else []


def requests_made(output: str) -> list[int]:
    return [int(line.split("requests made: ")[1].split()[0]) for line in output.splitlines()
            if line.startswith("requests made: ")]


def test_default_run_end_to_end_then_entirely_from_cache(tmp_path: Path) -> None:
    """`judgebench run` with no model options: starts the embedded server, runs both samples, writes results;
    the second run makes no request and prints the same tables."""
    out = tmp_path / "results"
    first = cli("run", "--limit", "1", "--out", str(out), cwd=tmp_path)
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
            assert len(judgments) == 2  # 1 item x 2 judges
            assert diagnostics["position_bias"]
            for j in judgments:  # both orders and both raw replies in one record
                assert len(j["raw"]) == 2 and [c["label"] for c in j["calls"]] == ["AB", "BA"]
                assert j["verdict_ab"] in ("win", "loss", "tie") and j["verdict_ba"] in ("win", "loss", "tie")
        else:
            assert len(judgments) == 4  # 1 item x 2 turns x 2 judges
            assert diagnostics["saturation"] and diagnostics["saturation"][0]["overall"]["high"] == 10
            assert all(1 <= j["score"] <= 10 for j in judgments)  # constrained JSON: nothing unparseable
            # No judge of the default panel asks for log-probabilities (`,logprobs`): no probability-weighted grade.
            assert all(j["expected_score"] is None for j in judgments)
            answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
            assert all(len(a["turns"]) == 2 and a["params"]["max_tokens"] for a in answers)
            assert all(c["prompt_tokens"] for a in answers for c in a["calls"])
    second = cli("run", "--limit", "1", "--out", str(out), cwd=tmp_path)
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
    # Per run: 1 pairwise item and 2 graded turns, for each of the 2 judges; the second runs repeat them all.
    assert "6 judgments" in twice.stderr and "6 older or failed duplicate record(s)" in twice.stderr
    counts = {(r["benchmark"], r["judge"]): r["n_judged"] + r["n_failed"] for r in json.loads(twice.stdout)}
    assert set(counts.values()) == {1, 2}  # pairwise: 1 item; single: 1 item x 2 turns

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


def test_api_keys_never_reach_results_or_cache(tmp_path: Path, embedded_server) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "results"
    url = embedded_server.base_url
    result = cli("run", "--task", "sample-pairwise", "--limit", "1", "--model", f"smollm2-135m-instruct@{url}",
                 "--judge", f"smollm2-135m-instruct@{url}#json", "--out", str(out), "--model-key-env",
                 "OPENAI_API_KEY", "--judge-key-env", "JUDGEBENCH_JUDGE_API_KEY", cwd=tmp_path,
                 env={"OPENAI_API_KEY": SENTINEL_MODEL_KEY, "JUDGEBENCH_JUDGE_API_KEY": SENTINEL_JUDGE_KEY})
    assert result.returncode == 0, result.stderr + result.stdout
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "cache.sqlite" for p in files) and any(p.name == "judgments.jsonl" for p in files)
    for path in files:
        data = path.read_bytes()
        assert SENTINEL_MODEL_KEY.encode() not in data, path
        assert SENTINEL_JUDGE_KEY.encode() not in data, path
    assert SENTINEL_MODEL_KEY not in result.stdout + result.stderr
    config = json.loads(next(out.rglob("config.json")).read_text())
    assert config["model"]["api_key_env"] == "OPENAI_API_KEY"
    assert config["judges"][0]["endpoint"]["api_key_env"] == "JUDGEBENCH_JUDGE_API_KEY"


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
    task = short_answers_task(tmp_path)
    limit = 2
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

    killer = threading.Thread(target=kill_after, args=(3,))
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


def test_constrained_verdicts_never_fail_to_parse(tmp_path: Path, embedded_server) -> None:  # type: ignore[no-untyped-def]
    """A panel of the same model in both verdict modes (two two-turn items: four judgments each). JSON-schema
    decoding makes every reply parse; free text from a 135M model often does not (the rate is printed for the
    record, not asserted)."""
    endpoint = embedded_server.endpoint(concurrency=2)
    task = short_answers_task(tmp_path)
    judges = (Judge("smollm2#json", endpoint, constrained=True), Judge("smollm2#text", endpoint, constrained=False))
    result = evaluate(task, RunConfig(model=endpoint, judges=judges, out=tmp_path / "r",
                                      cache_path=tmp_path / "c.sqlite", limit=2, progress=False))
    rows = {r.judge: r for r in result.rows}
    assert rows["smollm2#json"].n_parse_failures == 0 and rows["smollm2#json"].n_judged == 4
    text = rows["smollm2#text"]
    print(f"\nfree-text failures: {text.n_failed}/4 ({text.n_parse_failures} unparseable, the rest cut off by "
          "max_tokens); constrained: 0/4")
    assert text.n_judged + text.n_failed == 4 and rows["smollm2#json"].n_failed == 0


def test_judging_existing_fastchat_answers(tmp_path: Path, embedded_server, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    task_file = tmp_path / "mt.yaml"
    task_file.write_text(f"include: mt-bench.yaml\nsource:\n  path: {shared_data}/mt_bench/question.jsonl\n"
                         f"  references:\n    path: {shared_data}/mt_bench/reference_answer/gpt-4.jsonl\n"
                         "judge:\n  max_tokens: 48\n")
    url = embedded_server.base_url
    before, before_ok = embedded_server.requests_served(), embedded_server.requests_served("200")
    result = cli("run", "--task", str(task_file), "--answers", str(shared_data / "mt_bench/model_answer/gpt-4.jsonl"),
                 "--judge", f"smollm2-135m-instruct@{url}#json", "--limit", "1", "--out", str(tmp_path / "r"),
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert embedded_server.requests_served("200") - before_ok == 2  # two turns judged, nothing generated
    # A new process asks once with "json_schema"; llama-cpp-python's server rejects it, then the
    # llama.cpp form is used from there on.
    assert embedded_server.requests_served() - before == 3
    (run_dir,) = run_dirs(tmp_path / "r")
    answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    assert answers[0]["model"] == "gpt-4" and answers[0]["item_id"] == "81"

    mismatched = cli("run", "--task", str(task_file), "--answers",
                     str(shared_data / "mt_bench_extras/lmsys_skycamp_branch/model_answer/gpt-4.jsonl"),
                     "--judge", f"smollm2-135m-instruct@{url}", "--out", str(tmp_path / "r2"), cwd=tmp_path)
    assert mismatched.returncode != 0
    assert "answers do not match" in mismatched.stderr and "no answer for 80 item(s)" in mismatched.stderr
    assert run_dirs(tmp_path / "r2") == []


def test_our_alpaca_eval_run_lines_up_with_alpaca_evals_own_annotations(tmp_path: Path, embedded_server,  # type: ignore[no-untyped-def]
                                                                       shared_data: Path) -> None:
    """Three AlpacaEval instructions: claude-2's answers (taken from AlpacaEval's annotation file) judged by the
    embedded judge against gpt4_1106_preview, then read beside AlpacaEval's own GPT-4 annotations of the same
    answers. Both have one benchmark name and one item id per instruction, so they line up item for item."""
    import gzip

    annotations = shared_data / "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
    with gzip.open(annotations, "rt", encoding="utf-8") as fh:
        rows = json.loads(fh.read())
    reference = json.loads((shared_data / "alpaca_eval/results/gpt4_1106_preview/model_outputs.json").read_text())
    # The three instructions with the shortest answers on both sides, so the small judge's context holds them.
    picked = sorted(rows, key=lambda r: len(r["output_1"]) + len(r["output_2"]))[:3]
    instructions = {r["instruction"] for r in picked}
    (tmp_path / "reference.json").write_text(json.dumps([r for r in reference if r["instruction"] in instructions]))
    (tmp_path / "claude-2.json").write_text(json.dumps(
        [{"instruction": r["instruction"], "output": r["output_2"], "generator": "claude-2", "dataset": r["dataset"]}
         for r in picked]))
    task_file = tmp_path / "ae.yaml"
    task_file.write_text("include: alpaca-eval-2-both-orders.yaml\njudge:\n  max_tokens: 48\n"
                         "reference:\n  source:\n    path: reference.json\n    sha256: null\n")
    url = embedded_server.base_url
    result = cli("run", "--task", str(task_file), "--answers", str(tmp_path / "claude-2.json"), "--judge",
                 f"smollm2-135m-instruct@{url}#json", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout

    import judgebench

    frame = judgebench.load(tmp_path / "r", annotations).judgments
    frame = frame[frame["item_id"].isin(set(frame[frame["judge"] == "smollm2-135m-instruct#json"]["item_id"]))]
    assert set(frame["benchmark"]) == {"alpaca-eval"}
    assert set(frame["opponent"]) == {"gpt4_1106_preview"} and set(frame["model"]) == {"claude-2"}
    by_judge = frame.groupby("judge")["item_id"].apply(set)
    assert set(by_judge.index) == {"smollm2-135m-instruct#json", "weighted_alpaca_eval_gpt4_turbo"}
    assert len(by_judge.iloc[0]) == 3 and by_judge.iloc[0] == by_judge.iloc[1]
    # Lined up, the two judges can be compared: the panel agreement has 3 shared judgments.
    report = judgebench.load(tmp_path / "r", annotations).diagnostics
    (agreement,) = report.panel_agreement
    (pair,) = agreement.pairs
    assert pair.n == 3


def test_battles_between_real_mt_bench_answers(tmp_path: Path, embedded_server, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    """sample-battles with three models' real MT-Bench answers, every pair judged in both orders by the real
    embedded judge; the ranking `run` prints is the one `stats` prints for the run directory."""
    task = load_task("sample-battles")
    ids = {item.id for item in task.items}
    files = []
    for model in ("gpt-4", "vicuna-13b-v1.3", "llama-13b"):
        lines = (shared_data / "mt_bench/model_answer" / f"{model}.jsonl").read_text().splitlines()
        kept = [line for line in lines if str(json.loads(line)["question_id"]) in ids]
        assert len(kept) == len(ids)
        (tmp_path / f"{model}.jsonl").write_text("\n".join(kept) + "\n")
        files += ["--answers", str(tmp_path / f"{model}.jsonl")]
    url = embedded_server.base_url
    before = embedded_server.requests_served("200")
    # One of the five items: real answers make long judge prompts, which the one-thread server reads at about
    # 100 tokens a second (all five took 4 to 11 minutes, two about 100 s, the suite's longest test).
    result = cli("run", "--task", "sample-battles", *files, "--judge", f"smollm2-135m-instruct@{url}#json",
                 "--limit", "1", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    # 3 pairs x 1 item x 2 orders, nothing generated (a first request that asks for json_schema may be refused
    # once and asked again in llama.cpp's form: only successful requests are counted).
    assert embedded_server.requests_served("200") - before == 6
    (run_dir,) = run_dirs(tmp_path / "r")
    answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    assert sorted({a["model"] for a in answers}) == ["gpt-4", "llama-13b", "vicuna-13b-hao-0515"]
    assert len(answers) == 3
    judgments = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert len(judgments) == 3 and {j["kind"] for j in judgments} == {"battles"}
    pairs = {(j["item_id"], *sorted((j["model"], j["opponent"]))) for j in judgments}
    assert len(pairs) == 3  # every pair on the item, once
    for j in judgments:
        assert len(j["raw"]) == 2 and [c["label"] for c in j["calls"]] == ["AB", "BA"]
        assert j["error"] is None  # constrained JSON: every verdict parses
        for verdict, margin in ((j["verdict_ab"], j["margin_ab"]), (j["verdict_ba"], j["margin_ba"])):
            assert verdict in ("win", "loss", "tie") and (margin is None) == (verdict == "tie")
        assert j["length"] > 0 and j["headers"] is not None
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["battles"]["n_battles"] == 3 and summary["kind"] == "battles"
    printed = result.stdout.split(" -> ", 1)[1].split("\n", 1)[1].split("\nrequests made")[0]
    table = [line for line in printed.strip().splitlines() if not line.startswith("note")]  # flags' notes follow
    assert "BT score" in printed and len(table) == 2 + 3
    stats = cli("stats", str(run_dir), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.strip() == printed.strip()
