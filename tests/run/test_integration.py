"""End to end against the real embedded llama.cpp server (SmolLM2-135M-Instruct) over loopback. No mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Judge

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


def test_constrained_verdicts_never_fail_to_parse(tmp_path: Path, embedded_server) -> None:  # type: ignore[no-untyped-def]
    """A panel of the same model in both verdict modes. JSON-schema decoding makes every reply parse; free
    text from a 135M model often does not (the rate is printed for the record, not asserted)."""
    endpoint = embedded_server.endpoint(concurrency=2)
    task = load_task("sample-mt")
    judges = (Judge("smollm2#json", endpoint, constrained=True), Judge("smollm2#text", endpoint, constrained=False))
    result = evaluate(task, RunConfig(model=endpoint, judges=judges, out=tmp_path / "r",
                                      cache_path=tmp_path / "c.sqlite", limit=4, progress=False))
    rows = {r.judge: r for r in result.rows}
    assert rows["smollm2#json"].n_parse_failures == 0 and rows["smollm2#json"].n_judged == 8
    text = rows["smollm2#text"]
    print(f"\nfree-text failures: {text.n_failed}/8 ({text.n_parse_failures} unparseable, the rest cut off by "
          "max_tokens); constrained: 0/8")
    assert text.n_judged + text.n_failed == 8 and rows["smollm2#json"].n_failed == 0


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
    # Two of the five items: real answers make long judge prompts, which the one-thread server reads at about
    # 100 tokens a second (all five took 4 to 11 minutes, most of the suite's time).
    result = cli("run", "--task", "sample-battles", *files, "--judge", f"smollm2-135m-instruct@{url}#json",
                 "--limit", "2", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    # 3 pairs x 2 items x 2 orders, nothing generated (a first request that asks for json_schema may be refused
    # once and asked again in llama.cpp's form: only successful requests are counted).
    assert embedded_server.requests_served("200") - before == 12
    (run_dir,) = run_dirs(tmp_path / "r")
    answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    assert sorted({a["model"] for a in answers}) == ["gpt-4", "llama-13b", "vicuna-13b-hao-0515"]
    assert len(answers) == 6
    judgments = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert len(judgments) == 6 and {j["kind"] for j in judgments} == {"battles"}
    pairs = {(j["item_id"], *sorted((j["model"], j["opponent"]))) for j in judgments}
    assert len(pairs) == 6  # every pair on every item, once
    for j in judgments:
        assert len(j["raw"]) == 2 and [c["label"] for c in j["calls"]] == ["AB", "BA"]
        assert j["error"] is None  # constrained JSON: every verdict parses
        for verdict, margin in ((j["verdict_ab"], j["margin_ab"]), (j["verdict_ba"], j["margin_ba"])):
            assert verdict in ("win", "loss", "tie") and (margin is None) == (verdict == "tie")
        assert j["length"] > 0 and j["headers"] is not None
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["battles"]["n_battles"] == 6 and summary["kind"] == "battles"
    printed = result.stdout.split(" -> ", 1)[1].split("\n", 1)[1].split("\nrequests made")[0]
    table = [line for line in printed.strip().splitlines() if not line.startswith("note")]  # flags' notes follow
    assert "BT score" in printed and len(table) == 2 + 3
    stats = cli("stats", str(run_dir), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.strip() == printed.strip()
