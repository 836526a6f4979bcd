"""A rerun judged from the cache (issue 23): the items of a window whose judge requests the cache holds are judged
at once (Executor.known), the others sent as before; the judgments, records and counts are those of the path that
sends, and a cached reply the run would not accept is asked again."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from judgebench.formats import judgebench as store
from judgebench.run.evaluate import RunConfig, RunResult, evaluate
from judgebench.run.runner import Runner
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script


def _inputs(tmp_path: Path, n: int, *, empty: frozenset[int] = frozenset()) -> tuple[Path, Path]:
    """A single-grading task of ``n`` two-turn items, and a FastChat answers file (the items of ``empty`` with an
    empty second answer: judged without a request)."""
    lines = ["name: rerun", "kind: single", "judge:", "  prompt: single.jinja", "  scale: [1, 10]", "items:"]
    for i in range(n):
        lines += [f"  - id: q{i}", f"    category: {'writing' if i % 2 else 'math'}", "    turns:",
                  f"      - 'Question {i}?'", f"      - 'And then {i}?'"]
    task = tmp_path / "task.yaml"
    task.write_text("\n".join(lines) + "\n")
    answers = tmp_path / "model-a.jsonl"
    answers.write_text("".join(json.dumps({"question_id": f"q{i}", "model_id": "model-a", "choices": [
        {"index": 0, "turns": [f"Answer {i}.", "" if i in empty else f"More {i}."]}]}) + "\n" for i in range(n)))
    return task, answers


def _grade(body: dict[str, Any]) -> str:
    # A grade that depends on the prompt: a judgment assembled from another request's reply would show.
    return f"Rating: [[{1 + sum(map(ord, body['messages'][-1]['content'])) % 10}]]"


def _config(url: str, tmp_path: Path, answers: Path, judges: int = 1, **options: Any) -> RunConfig:
    endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=4)
    panel = tuple(Judge(f"fake-judge-{k}", replace(endpoint, name=f"fake-{k}")) for k in range(judges))
    return RunConfig(model=None, judges=panel, out=tmp_path / "r", cache_path=tmp_path / "c.sqlite",
                     answers_file=answers, progress=False, n_bootstrap=50, **options)


def _records(result: RunResult) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in (result.run_dir / store.JUDGMENTS).read_text().splitlines()]
    for record in found:  # what differs between a run that sent and one that read the cache
        for call in record.get("calls", ()):
            call.pop("cached", None)
            call.pop("from_cache", None)
    return sorted(found, key=lambda r: json.dumps(r, sort_keys=True))


def _summary(result: RunResult) -> dict[str, Any]:
    summary = json.loads((result.run_dir / store.SUMMARY).read_text())
    del summary["requests"], summary["usage"]
    return dict(summary)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of requests each call of Runner.outcomes was handed (the path with tasks and futures)."""
    found: list[int] = []
    original = Runner.outcomes

    async def counting(self: Runner, requests: Any, accept: Any) -> Any:
        found.append(len(requests))
        return await original(self, requests, accept)

    monkeypatch.setattr(Runner, "outcomes", counting)
    return found


@pytest.mark.parametrize("judges", [1, 2])
def test_a_cached_rerun_is_judged_at_once_with_the_same_records(tmp_path: Path, sent: list[int],
                                                                 judges: int) -> None:
    task_path, answers = _inputs(tmp_path, 30, empty=frozenset({4, 17}))
    task = load_task(str(task_path))
    with fake_model(Script([("fn", _grade)])) as url:
        first = evaluate(task, _config(url, tmp_path, answers, judges))
        assert sum(sent) == first.counters.requests == judges * (2 * 30 - 2)
        sent.clear()
        second = evaluate(task, _config(url, tmp_path, answers, judges))
    assert sent == []  # nothing went the way of a request: every item was judged at once
    assert second.counters.requests == 0 and second.counters.cache_hits == first.counters.requests
    assert [(u.endpoint, u.cache_hits) for u in second.usage] == [(u.endpoint, u.requests) for u in first.usage]
    assert second.n_judgments == first.n_judgments == judges * 60 and second.n_failed == first.n_failed == 0
    assert _records(second) == _records(first)
    assert _summary(second) == _summary(first)
    answered = [json.loads(line) for line in (second.run_dir / store.ANSWERS).read_text().splitlines()]
    assert [a["item_id"] for a in answered] == [f"q{i}" for i in range(30)]


def test_a_partly_cached_rerun_sends_only_what_the_cache_lacks(tmp_path: Path, sent: list[int]) -> None:
    task_path, answers = _inputs(tmp_path, 40)
    task = load_task(str(task_path))
    with fake_model(Script([("fn", _grade)])) as url:
        evaluate(task, _config(url, tmp_path, answers, item_ids=frozenset(f"q{i}" for i in range(0, 40, 3))))
        sent.clear()
        rerun = evaluate(task, _config(url, tmp_path, answers))
        fresh = evaluate(task, replace(_config(url, tmp_path, answers), cache_path=tmp_path / "fresh.sqlite"))
    uncached = 40 - len(range(0, 40, 3))
    assert rerun.counters.requests == 2 * uncached and rerun.counters.cache_hits == 2 * (40 - uncached)
    assert sent[:uncached] == [2] * uncached  # the items the cache lacked, each sent with its two requests
    assert _records(rerun) == _records(fresh) and _summary(rerun) == _summary(fresh)


def test_a_cached_reply_the_run_refuses_is_asked_again(tmp_path: Path, sent: list[int]) -> None:
    task_path, answers = _inputs(tmp_path, 6)
    task = load_task(str(task_path))
    with fake_model(Script([("fn", _grade)])) as url:
        first = evaluate(task, _config(url, tmp_path, answers))
        with sqlite3.connect(tmp_path / "c.sqlite") as db:  # one stored reply no longer holds a verdict
            key, reply = db.execute("SELECT key, reply FROM replies ORDER BY key LIMIT 1").fetchone()
            db.execute("UPDATE replies SET reply = ? WHERE key = ?",
                       (json.dumps({**json.loads(reply), "text": "no verdict here"}), key))
        sent.clear()
        second = evaluate(task, _config(url, tmp_path, answers))
    assert second.counters.requests == 1 and second.counters.cache_hits == first.counters.requests - 1
    assert sent == [2]  # that item alone took the path that sends, both its requests (one found in the cache)
    assert second.n_failed == 0 and _records(second) == _records(first)


def test_an_interruption_of_a_cached_rerun_is_seen_after_the_window_it_came_in(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C cancels the run's main task, which sees it only when it waits. A rerun judged from its cache waits for
    nothing: it must still turn the event loop after each window (else a cached rerun of 65,536 items, a window of
    windows, was judged whole before an interruption was seen, and no progress was shown meanwhile)."""
    import asyncio

    from judgebench.run.config import MIN_WINDOW
    from judgebench.run.evaluate import aevaluate
    from judgebench.run.pipeline import Pipeline

    n = 3 * MIN_WINDOW
    task_path, answers = _inputs(tmp_path, n)
    task = load_task(str(task_path))
    original = Pipeline.judged_at_once
    windows: list[int] = []

    def interrupted_in_the_first(self: Pipeline, jobs: Any) -> Any:
        windows.append(len(jobs))
        if len(windows) == 1:
            asyncio.current_task().cancel()  # type: ignore[union-attr]  # as asyncio.run's SIGINT handler does
        return original(self, jobs)

    with fake_model(Script([("fn", _grade)])) as url:
        config = _config(url, tmp_path, answers)
        evaluate(task, config)
        monkeypatch.setattr(Pipeline, "judged_at_once", interrupted_in_the_first)
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(aevaluate(task, config))
    assert windows == [MIN_WINDOW]  # the next window is never judged
