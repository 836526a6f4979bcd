"""The built-in samples are benchmarks of their own: sample-battles asks five of MT-Bench's questions with its own
references and limits, so judging the same answers with it and with mt-bench-battles must leave both sets of
judgments, and both rankings, whole and apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.cli import main
from judgebench.errors import TaskError
from judgebench.tasks import load_task
from judgebench.tasks.builtin import task_names

from ..fakeserver import Script, fake_server

MODELS = ("alpaca-13b", "gpt-3.5-turbo", "vicuna-13b-v1.3")


def test_every_builtin_sample_has_a_benchmark_of_its_own(shared_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    tasks = {}
    for name in task_names():
        try:
            tasks[name] = load_task(name)
        except TaskError as exc:  # Arena-Hard's judge files are not in the shared data (test_arena_hard)
            assert "cannot download" in str(exc) and name.startswith("arena-hard")
    samples = {name for name in tasks if name.startswith("sample-")}
    assert samples
    others = {task.benchmark for name, task in tasks.items() if name not in samples}
    for name in samples:
        assert tasks[name].benchmark == name and tasks[name].benchmark not in others


def test_sample_battles_and_mt_bench_battles_keep_their_judgments_and_rankings_apart(
        shared_data: Path, shared_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    files = [shared_data / "mt_bench/model_answer" / f"{model}.jsonl" for model in MODELS]
    answers = [arg for f in files for arg in ("--answers", str(f))]
    out = tmp_path / "out"
    runner = CliRunner()
    with fake_server(Script([("ok", "The first is better. [[A>B]]")])) as url:
        for task in ("mt-bench-battles", "sample-battles"):  # the FastChat model_answer files, matched by id
            ran = runner.invoke(main, ["run", "--task", task, *answers, "--judge", f"fake@{url}#text",
                                       "--concurrency", "16", "--out", str(out), "--no-progress"])
            assert ran.exit_code == 0, ran.output

    read = read_judgments([out])
    assert read.n_superseded == 0
    frame = read.frame
    pairs = len(MODELS) * (len(MODELS) - 1) // 2
    for name in ("mt-bench-battles", "sample-battles"):
        task = load_task(name)
        mine = frame[frame["protocol"] == name]
        # Every battle judged is still there, under the task's own benchmark.
        assert len(mine) == pairs * len(task.items) and set(mine["benchmark"]) == {task.benchmark}
    assert load_task("sample-battles").benchmark != load_task("mt-bench-battles").benchmark

    rows = score_rows(frame, n_bootstrap=0)
    for name in ("mt-bench-battles", "sample-battles"):
        task = load_task(name)
        ranking = [r for r in rows if r.benchmark == task.benchmark]
        # One ranking per benchmark, each model in it judged on that task's items only (no 5-item model among 80).
        assert {r.model for r in ranking} == set(MODELS)
        assert all(r.n_judged == (len(MODELS) - 1) * len(task.items) for r in ranking)

    stats = runner.invoke(main, ["stats", str(out)])
    assert stats.exit_code == 0, stats.output
    assert "superseded" not in stats.output
    table = [line.split() for line in stats.output.splitlines()]
    for name in ("mt-bench", "sample-battles"):
        assert sum(1 for cells in table if cells and cells[0] == name) == len(MODELS)
