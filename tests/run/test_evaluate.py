"""evaluate / aevaluate wiring, against a scripted local server (unit level; the real server is in
test_integration.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.run.evaluate import RunConfig, aevaluate, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script


def config(url: str, tmp_path: Path) -> RunConfig:
    endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=2)
    return RunConfig(model=endpoint, judges=(Judge("fake-judge", endpoint),), out=tmp_path / "r",
                     cache_path=tmp_path / "c.sqlite", limit=2, progress=False, n_bootstrap=50)


def test_evaluate_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    """A notebook cell runs inside an event loop: evaluate must not call asyncio.run on it."""
    task = load_task("sample-mt")
    with fake_model(Script([("ok", "A fine answer. Rating: [[7]]")])) as url:
        async def cell() -> int:
            result = evaluate(task, config(url, tmp_path))
            again = await aevaluate(task, config(url, tmp_path))
            assert again.counters.requests == 0  # all from the cache
            return result.n_judgments
        assert asyncio.run(cell()) == 4


def test_a_run_prints_the_rows_stats_computes_from_its_directory(tmp_path: Path) -> None:
    task = load_task("sample-pairwise")
    with fake_model(Script([("ok", "Both are good, A is better. [[A]]")])) as url:
        result = evaluate(task, config(url, tmp_path))
    from_disk = score_rows(read_judgments([result.run_dir]).frame, n_bootstrap=50)
    assert list(result.rows) == from_disk
    (row,) = from_disk
    # "A" in both orders: the candidate wins shown first and loses shown second, so every question is a tie.
    assert row.score == 50.0 and row.n_judged == 2 and row.order_agreement == 0.0 and row.benchmark == task.benchmark


def test_a_five_point_task_is_flagged_saturated_on_its_own_scale(tmp_path: Path) -> None:
    """The task's scale travels with every judgment: 5 out of 5 on every grade is saturation, not a middling 5/10."""
    from judgebench.analysis.diagnostics import FlagKind

    task_file = tmp_path / "five.yaml"
    task_file.write_text("include: sample-mt.yaml\nname: five-point\njudge:\n  scale: [1, 5]\n")
    task = load_task(str(task_file))
    with fake_model(Script([("ok", "Excellent. [[5]]")])) as url:
        result = evaluate(task, RunConfig(**{**config(url, tmp_path).__dict__, "limit": None}))
    assert {row.scale for row in result.rows} == {(1, 5)} and result.rows[0].score == 5.0
    assert result.rows[0].n_judged == 16
    saturated = [f for f in result.diagnostics.flags if f.kind is FlagKind.SATURATED and f.category is None]
    assert [f.model for f in saturated] == ["fake"] and "top grade 5 on 100%" in saturated[0].message


def test_a_runs_summary_is_the_one_load_computes_from_its_directory(tmp_path: Path) -> None:
    """Every number of summary.json (its rows, whole, and its diagnostics) is what ``judgebench.load()`` computes from
    the run's records: the run keeps its judgments compactly (formats.table.ColumnStore), the records keep all of
    them. Grades that vary, a reply that does not parse, and a value that comes late (the failure columns) make
    the columns the store keeps vary."""
    import json
    from dataclasses import asdict

    import judgebench

    replies = [("ok", f"Answer {k}. Rating: [[{grade}]]" if k % 5 != 3 else "I will not grade this.")
               for k, grade in enumerate([7, 3, 9, 5, 8, 2, 10, 6] * 6)]
    task = load_task("sample-mt")
    with fake_model(Script([*replies, ("ok", "Fine. Rating: [[4]]")])) as url:
        result = evaluate(task, RunConfig(**{**config(url, tmp_path).__dict__, "limit": None, "n_bootstrap": 200}))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    loaded = judgebench.load(result.run_dir, n_bootstrap=200)
    assert summary["n_failed"] >= 1 and summary["rows"][0]["ci_low"] < summary["rows"][0]["ci_high"]
    assert summary["n_judgments"] == len(loaded.judgments) == result.n_judgments
    assert summary["rows"] == json.loads(json.dumps([asdict(row) for row in loaded._board.scores]))
    assert summary["diagnostics"] == loaded.diagnostics.to_json()
    assert summary["n_failed"] == int(loaded.judgments["error"].notna().sum())


def test_a_run_result_and_its_task_have_short_reprs(tmp_path: Path) -> None:
    """A task's repr names it and counts its items: asyncio formats the repr of `asyncio.run(aevaluate(...))`'s
    result when the run ends (restoring the SIGINT handler), and a notebook shows it, so writing out every item made
    a string the size of the task (about 30 MB for 100,000 items)."""
    from dataclasses import replace

    task = load_task("sample-mt")
    many = replace(task, items=task.items * 500)
    assert len(many.items) > 1000
    assert repr(many) == (f"Task(name={task.name!r}, kind='single', protocol={task.protocol!r}, "
                          f"items={len(many.items):,}, path={task.path!r})")
    with fake_model(Script([("ok", "A fine answer. Rating: [[7]]")])) as url:
        result = asyncio.run(aevaluate(task, config(url, tmp_path)))
    assert result.n_judgments == 4
    assert repr(task) in repr(result) and task.items[0].turns[0] not in repr(result)
