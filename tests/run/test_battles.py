"""Battles runs (task kind ``battles``) against a scripted judge on loopback: both orders, margins, the three
schedules' spread, reruns from the cache, and `run`'s table against `stats`'s. The real judge is in
test_integration.py."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.cli import main
from judgebench.errors import ConfigError
from judgebench.formats import judgebench as store
from judgebench.run.battles import sampled_budget
from judgebench.run.evaluate import RunConfig, RunResult, evaluate
from judgebench.stats.battle_ranking import STRONG_WEIGHT
from judgebench.tasks import load_task
from judgebench.types import BattlesSpec, Endpoint, Judge, Task

from ..fakemodel import fake_model
from ..fakeserver import Script, fake_server

# The judge's prompt frames each answer as "<|Assistant A, answer 1 CODE|>\nTEXT".
_ANSWER = re.compile(r"<\|Assistant ([AB]), answer 1 [0-9a-f]+\|>\n(\S+)")


def answers_file(path: Path, model: str, task: Task) -> Path:
    """A FastChat model_answer file for ``task``'s items: each answer names its model."""
    path.write_text("".join(json.dumps({"question_id": item.id, "model_id": model, "choices": [
        {"index": 0, "turns": [f"{model} answers turn {k + 1} of {item.id}" for k in range(len(item.turns))]}]}) + "\n"
        for item in task.items))
    return path


def shown(body: dict[str, Any]) -> tuple[str, str]:
    """The models whose answers a judge request shows as A and as B."""
    found = dict(_ANSWER.findall(body["messages"][-1]["content"]))
    return found["A"], found["B"]


def config(url: str, tmp_path: Path, files: list[Path], **extra: Any) -> RunConfig:
    judge = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=4)
    return RunConfig(model=None, judges=(Judge("fake-judge", judge),), out=tmp_path / "r",
                     cache_path=tmp_path / "c.sqlite", progress=False, n_bootstrap=50, answers_files=tuple(files),
                     **extra)


def task_file(tmp_path: Path, battles: str, n_items: int = 5) -> Task:
    items = "".join(f"  - {{id: q{i}, category: c{i % 2}, turns: [question {i}]}}\n" for i in range(n_items))
    path = tmp_path / "t.yaml"
    path.write_text(f"name: t\nkind: battles\njudge:\n  prompt: battle.jinja\n  labels: [A>>B, A>B, A=B, B>A, B>>A]\n"
                    f"battles:\n{battles}\nitems:\n{items}")
    return load_task(str(path))


def three_files(tmp_path: Path, task: Task, names: tuple[str, ...] = ("alpha", "beta", "gamma")) -> list[Path]:
    return [answers_file(tmp_path / f"{name}.jsonl", name, task) for name in names]


def judged_pairs(result: RunResult) -> Counter[tuple[str, str]]:
    records = store.read_jsonl(result.run_dir / store.JUDGMENTS)
    return Counter(tuple(sorted((r["model"], r["opponent"]))) for r in records)  # type: ignore[misc]


def test_every_battle_is_asked_in_both_orders_with_margins(tmp_path: Path) -> None:
    task = load_task("sample-battles")
    files = three_files(tmp_path, task)

    def judge(body: dict[str, Any]) -> str:
        first, _ = shown(body)  # a judge that always prefers alpha, decisively, and otherwise the second answer
        return "[[A>>B]]" if first == "alpha" else "[[B>>A]]" if _ == "alpha" else "Close. [[B>A]]"

    script = Script([("fn", judge)])
    with fake_model(script) as url:
        result = evaluate(task, config(url, tmp_path, files))
    shown_orders = Counter((shown(body), body["messages"][-1]["content"].count("answers turn 2")) for body in
                           script.requests)
    # 3 pairs x 5 items, each shown both ways round, every turn of both answers in each request.
    assert len(script.requests) == 30 and len(shown_orders) == 6
    assert all(n == 5 and turns == 2 for ((_, _), turns), n in shown_orders.items())
    records = store.read_jsonl(result.run_dir / store.JUDGMENTS)
    assert len(records) == 15 and all(len(r["raw"]) == 2 for r in records)
    assert all([c["label"] for c in r["calls"]] == ["AB", "BA"] for r in records)
    for r in records:
        if "alpha" in (r["model"], r["opponent"]):
            alpha_won = r["model"] == "alpha"
            assert r["verdict_ab"] == r["verdict_ba"] == ("win" if alpha_won else "loss")
            assert r["margin_ab"] == r["margin_ba"] == 2
        else:  # the second answer wins by a little: each model wins the order where it is shown second
            assert (r["verdict_ab"], r["verdict_ba"], r["margin_ab"], r["margin_ba"]) == ("loss", "win", 1, 1)
            assert r["preference"] == 1.5
        # Lengths: characters of both turns of each side.
        assert r["length"] == 2 * len(f"{r['model']} answers turn 1 of {r['item_id']}")
        assert r["opponent_length"] == 2 * len(f"{r['opponent']} answers turn 1 of {r['item_id']}")
    rows = {row.model: row for row in result.rows}
    assert rows["alpha"].n_wins == 10 and rows["alpha"].n_losses == 0 and rows["alpha"].n_judged == 10
    assert rows["beta"].n_draws == rows["gamma"].n_draws == 5 and rows["beta"].n_losses == 5
    # alpha's decisive wins count STRONG_WEIGHT games each: its games are 10 battles x 2 orders x 3.
    assert STRONG_WEIGHT == 3.0
    assert rows["alpha"].score is not None and rows["alpha"].score > rows["beta"].score  # type: ignore[operator]


def test_all_pairs_meet_on_every_item(tmp_path: Path) -> None:
    task = task_file(tmp_path, "  schedule: all-pairs", n_items=4)
    files = three_files(tmp_path, task, ("a", "b", "c", "d"))
    with fake_model(Script([("ok", "[[A=B]]")])) as url:
        result = evaluate(task, config(url, tmp_path, files))
    records = store.read_jsonl(result.run_dir / store.JUDGMENTS)
    meetings = {(r["item_id"], *sorted((r["model"], r["opponent"]))) for r in records}
    assert len(records) == len(meetings) == 6 * 4  # C(4, 2) pairs on 4 items, each once
    assert judged_pairs(result) == {pair: 4 for pair in
                                    [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]}
    # Every verdict a tie: every model as strong as the anchor, overall and in each category.
    for row in result.rows:
        assert row.score == pytest.approx(50.0, abs=1e-3) and row.n_draws == 12 and row.n_judged == 12
        assert [c for c, _ in row.per_category] == ["c0", "c1"]
        assert all(value == pytest.approx(50.0, abs=1e-3) for _, value in row.per_category)
    summary = json.loads((result.run_dir / store.SUMMARY).read_text())["battles"]
    assert summary["n_battles"] == 24 and {tuple(s[:2]): s[2] for s in summary["spread"]} == dict(judged_pairs(result))


def test_baseline_schedule_battles_only_the_baseline(tmp_path: Path) -> None:
    task = task_file(tmp_path, "  schedule: baseline\n  baseline: b", n_items=3)
    files = three_files(tmp_path, task, ("a", "b", "c", "d"))
    with fake_model(Script([("ok", "[[A>B]]")])) as url:
        result = evaluate(task, config(url, tmp_path, files))
    records = store.read_jsonl(result.run_dir / store.JUDGMENTS)
    assert {r["opponent"] for r in records} == {"b"} and Counter(r["model"] for r in records) == {"a": 3, "c": 3,
                                                                                                   "d": 3}
    assert {row.opponent for row in result.rows} == {"b"}  # the anchor: the model in the most games
    baseline = next(row for row in result.rows if row.model == "b")
    assert baseline.score == pytest.approx(50.0)

    missing = task_file(tmp_path, "  schedule: baseline\n  baseline: nobody", n_items=3)
    with pytest.raises(ConfigError, match="baseline model 'nobody' is not among the run's models"):
        evaluate(missing, config("http://127.0.0.1:9/v1", tmp_path, files))


# Strengths (log-odds) of the simulated models: a and b are close, c and d far below and far apart.
STRENGTHS = {"a": 1.0, "b": 0.9, "c": -3.0, "d": -7.0}


def simulated_judge(body: dict[str, Any]) -> str:
    """A judge whose verdicts follow Bradley-Terry with ``STRENGTHS``, drawn from a hash of the prompt: the same
    prompt always gets the same verdict (so a rerun is served from the cache), different prompts independent ones."""
    first, second = (name.split()[0] for name in shown(body))
    p_first = 1 / (1 + math.exp(STRENGTHS[second] - STRENGTHS[first]))
    u = int(hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest()[:12], 16) / 16 ** 12
    return "[[A>B]]" if u < p_first else "[[B>A]]"


def test_sampled_covers_every_pair_then_concentrates_on_the_close_pair(tmp_path: Path) -> None:
    task = task_file(tmp_path, "  schedule: sampled\n  budget: 150\n  cover: 3\n  seed: 7", n_items=60)
    files = three_files(tmp_path, task, tuple(STRENGTHS))
    with fake_model(Script([("fn", simulated_judge)])) as url:
        result = evaluate(task, config(url, tmp_path, files))
        again = evaluate(task, config(url, tmp_path, files))
    spread = judged_pairs(result)
    assert sum(spread.values()) == 150 and len(spread) == 6
    assert min(spread.values()) >= 3  # every pair got its cover first
    # After the cover, the close pair (a, b) is drawn most, well above an even share (25); the pairs whose order is
    # plain (a or b against d) get less than half as many.
    assert spread[("a", "b")] == max(spread.values()) and spread[("a", "b")] > 150 / 6
    assert spread[("a", "b")] > 2 * max(spread[("a", "d")], spread[("b", "d")])
    records = store.read_jsonl(result.run_dir / store.JUDGMENTS)
    assert len({(r["item_id"], *sorted((r["model"], r["opponent"]))) for r in records}) == 150  # no repeat meeting
    # Seeded: the rerun schedules the same battles, entirely from the cache, with the same results.
    assert again.counters.requests == 0 and again.counters.cache_hits == 300
    assert judged_pairs(again) == spread
    assert [asdict(r) for r in again.rows] == [asdict(r) for r in result.rows]
    print("sampled spread (seed 7):", dict(sorted(spread.items())))


def test_sampled_defaults() -> None:
    # One battle per pair on a third of the items, a third of that spread evenly first; never more than fits.
    assert sampled_budget(BattlesSpec("sampled"), n_pairs=6, n_items=80) == (6 * 27, 9)
    assert sampled_budget(BattlesSpec("sampled", budget=1000, cover=50), n_pairs=3, n_items=5) == (15, 5)
    assert sampled_budget(BattlesSpec("sampled"), n_pairs=3, n_items=2) == (3, 1)


def test_a_rerun_is_served_from_the_cache_with_identical_rows(tmp_path: Path) -> None:
    task = load_task("sample-battles")
    files = three_files(tmp_path, task)
    with fake_model(Script([("fn", simulated_judge_for_sample)])) as url:
        first = evaluate(task, config(url, tmp_path, files))
        second = evaluate(task, config(url, tmp_path, files))
    assert first.counters.requests == 30 and second.counters.requests == 0 and second.counters.cache_hits == 30
    assert [asdict(r) for r in second.rows] == [asdict(r) for r in first.rows]
    assert score_rows(read_judgments([first.run_dir]).frame, n_bootstrap=50) == list(first.rows)


def simulated_judge_for_sample(body: dict[str, Any]) -> str:
    first, second = shown(body)
    return "[[A>B]]" if first < second else "[[A=B]]"


def test_failed_and_empty_answers_are_recorded_never_judged(tmp_path: Path) -> None:
    task = task_file(tmp_path, "  schedule: all-pairs", n_items=2)
    files = three_files(tmp_path, task, ("a", "b"))
    lines = files[1].read_text().splitlines()
    files[1].write_text("\n".join([lines[0].replace("b answers turn 1 of q0", " "), lines[1]]) + "\n")
    script = Script([("ok", "[[A>B]]")])
    with fake_model(script) as url:
        result = evaluate(task, config(url, tmp_path, files))
    assert len(script.requests) == 2  # q1 only: b's empty answer to q0 is never shown to the judge
    empty = next(r for r in store.read_jsonl(result.run_dir / store.JUDGMENTS) if r["item_id"] == "q0")
    assert empty["empty"] and empty["verdict_ab"] == empty["verdict_ba"] == "win" and empty["model"] == "a"


def test_a_failed_generation_is_recorded_and_never_judged(tmp_path: Path) -> None:
    task = task_file(tmp_path, "  schedule: all-pairs", n_items=2)
    (supplied,) = three_files(tmp_path, task, ("a",))
    judge_script = Script([("ok", "[[A>B]]")])
    with fake_model(Script([("400", None, "model not found")])) as model_url, fake_model(judge_script) as url:
        broken = Endpoint(provider="openai", name="broken", model="x", base_url=model_url)
        result = evaluate(task, config(url, tmp_path, [supplied], models=(broken,)))
    assert judge_script.requests == []  # nothing to judge: the judge was never asked
    records = store.read_jsonl(result.run_dir / store.JUDGMENTS)
    assert len(records) == 2 and all(r["failure"] == "no_answer" and "broken" in r["error"] for r in records)
    assert {(row.model, row.score, row.n_failed, row.n_judged) for row in result.rows} == {
        ("a", None, 2, 0), ("broken", None, 2, 0)}


def test_one_model_tasks_refuse_several_models(tmp_path: Path) -> None:
    task = load_task("sample-pairwise")
    with pytest.raises(ConfigError, match="judges one model at a time"):
        evaluate(task, config("http://127.0.0.1:9/v1", tmp_path, [tmp_path / "x.json", tmp_path / "y.json"]))
    battles = load_task("sample-battles")
    (one,) = three_files(tmp_path, battles, ("solo",))
    with pytest.raises(ConfigError, match="at least two"):
        evaluate(battles, config("http://127.0.0.1:9/v1", tmp_path, [one]))
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def _table(output: str) -> str:
    """The score table in a command's output: its header, its rule and its rows (which start with the benchmark)."""
    lines = [line.rstrip() for line in output.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("benchmark"))
    end = next((i for i in range(start + 2, len(lines)) if not lines[i].startswith("sample-battles ")), len(lines))
    return "\n".join(lines[start:end])


def test_run_prints_the_table_stats_prints(tmp_path: Path) -> None:
    task = load_task("sample-battles")
    files = three_files(tmp_path, task)
    runner = CliRunner()
    with fake_server(Script([("fn", simulated_judge_for_sample)])) as url:
        answers = [arg for f in files for arg in ("--answers", str(f))]
        ran = runner.invoke(main, ["run", "--task", "sample-battles", *answers, "--judge", f"fake@{url}#text",
                                   "--out", str(tmp_path / "out"), "--no-progress"])
    assert ran.exit_code == 0, ran.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if (p / "config.json").exists()]
    stats = runner.invoke(main, ["stats", str(run_dir)])
    assert stats.exit_code == 0, stats.output
    assert _table(ran.output) == _table(stats.output)
    assert "BT score" in _table(ran.output) and len(_table(ran.output).splitlines()) == 2 + 3


def test_a_failure_inside_the_run_is_raised_as_itself() -> None:
    """Work runs in a task group: the first failure comes out as the one-line error it is, not an ExceptionGroup."""
    import asyncio

    from judgebench.run.fanout import bounded as _bounded

    done: list[int] = []

    async def work(value: int) -> None:
        if value == 3:
            raise ConfigError("the third one is bad")
        await asyncio.sleep(0)
        done.append(value)

    with pytest.raises(ConfigError, match="the third one is bad"):
        asyncio.run(_bounded(range(10), 2, work))
    assert 3 not in done and len(done) < 10
