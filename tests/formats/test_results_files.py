"""judgebench's own results files read back: a bad record is a one-line error naming file:line, never a
traceback and never a number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.formats import detect_format, read_sources
from judgebench.formats import judgebench as store

GOOD = {"benchmark": "b", "item_id": "1", "category": "c", "model": "m", "judge": "j", "turn": 1, "kind": "single",
        "score": 7.0, "scale": [1, 10]}


def make_run(root: Path, records: list[dict], config: object = None) -> Path:
    run_dir = root / "run"
    run_dir.mkdir(parents=True)
    (run_dir / store.CONFIG).write_text(json.dumps(config if config is not None else {"created": "2026-01-01"}))
    (run_dir / store.JUDGMENTS).write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "tournament"}, "unknown kind 'tournament'"),
    ({"zzz": 1}, "unknown field(s) zzz"),
    ({"turn": None}, "turn must be a positive integer"),
    ({"score": "high"}, "score must be a number"),
    ({"judge": 5}, "judge must be text"),
])
def test_a_bad_judgment_record_names_its_line(tmp_path: Path, change: dict, message: str) -> None:
    run_dir = make_run(tmp_path, [GOOD, {**GOOD, "item_id": "2", **change}, {**GOOD, "item_id": "3"}])
    for command in (["stats"], ["diagnose"], ["leaderboard", "--out", str(tmp_path / "site")]):
        result = CliRunner().invoke(main, [*command, str(run_dir)])
        assert result.exit_code == 1, result.output
        assert f"{run_dir / store.JUDGMENTS}:2: not a judgment record" in result.output and message in result.output
        assert "Traceback" not in result.output and result.output.count("\n") == 1
    # Nothing was written beside the would-be site.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_run_configuration_that_is_not_an_object(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [GOOD], config=[1])
    result = CliRunner().invoke(main, ["stats", str(run_dir)])
    assert result.exit_code == 1 and "a run configuration is a JSON object" in result.output


def test_a_torn_last_line_is_skipped_and_a_torn_middle_line_is_an_error(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [GOOD])
    with (run_dir / store.JUDGMENTS).open("a") as fh:
        fh.write('{"benchmark": "b", "item_')
    (source,) = read_sources(run_dir)
    assert len(source.judgments) == 1
    with (run_dir / store.JUDGMENTS).open("a") as fh:
        fh.write("\n" + json.dumps(GOOD) + "\n")
    result = CliRunner().invoke(main, ["stats", str(run_dir)])
    assert result.exit_code == 1 and ":2: corrupt record" in result.output


def test_records_written_before_benchmarks_had_names_are_read(tmp_path: Path) -> None:
    old = {k: v for k, v in GOOD.items() if k not in ("benchmark", "scale")} | {"task": "MT_Bench"}
    (source,) = read_sources(make_run(tmp_path, [old]))
    assert source.judgments[0].benchmark == "mt-bench"


def test_arena_bench_grades_are_not_taken_for_mt_bench(shared_data: Path) -> None:
    path = shared_data / "arena_hard/arena-bench-v1_pr1/model_judgment/claude-instant-1.jsonl.gz"
    assert detect_format(path) == "arena-hard"
    (source,) = read_sources(path)
    assert {j.benchmark for j in source.judgments} == {"arena-bench-v1"}
