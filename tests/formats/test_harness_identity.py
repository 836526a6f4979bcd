"""Other harnesses' files keep the identities their harness gives them: an AlpacaEval model is its results
folder (NullModel, whose rows say ``generator_2: example``), an arena-bench-v1 judgment file is arena-bench-v1
whatever its rows look like, judged by the ``judge_model`` of the config beside it. Checked on the real files,
against independent computations on the raw JSON."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.analysis.records import read_judgments
from judgebench.cli import main
from judgebench.errors import DataError
from judgebench.formats import detect_format, read_parsed, read_sources, read_texts
from judgebench.formats.arena_hard import judge_config
from judgebench.formats.parse_cache import ParseCache

NULL = "alpaca_eval/results/NullModel/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
CLAUDE = "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
ARENA_BENCH = "arena_hard/arena-bench-v1_pr1/model_judgment"


def test_alpaca_eval_models_are_named_by_their_results_folder(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / NULL
    with gzip.open(path, "rt") as fh:
        assert {row["generator_2"] for row in json.load(fh)} == {"example"}  # what the file itself says
    cache = ParseCache(tmp_path / "parsed")
    (source,) = read_parsed(path, cache=cache)
    assert set(source.frame()["model"]) == {"NullModel"}
    assert {j.model for s in read_sources(path) for j in s.judgments} == {"NullModel"}
    assert {t.model for t in read_texts(path, "alpaca-eval")} == {"NullModel"}  # the site's model page finds them
    # The same bytes elsewhere: named by that folder, or by generator_2 outside AlpacaEval's layout; never the
    # name a cached parse of the same bytes had.
    renamed = tmp_path / "results" / "Renamed" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.gz"
    loose = tmp_path / "loose" / "annotations.json.gz"
    for copy in (renamed, loose):
        copy.parent.mkdir(parents=True)
        shutil.copyfile(path, copy)
    (warm,) = read_parsed(path, cache=cache)
    assert not warm.parsed and set(warm.frame()["model"]) == {"NullModel"}
    assert set(read_parsed(renamed, cache=cache)[0].frame()["model"]) == {"Renamed"}
    assert set(read_parsed(loose, cache=cache)[0].frame()["model"]) == {"example"}


def test_stats_and_load_show_null_model(shared_data: Path) -> None:
    paths = [shared_data / NULL, shared_data / CLAUDE]
    result = CliRunner().invoke(main, ["stats", *map(str, paths), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert "NullModel" in result.output and " example " not in result.output
    board = judgebench.load(*paths, n_bootstrap=20).leaderboard
    assert set(board["model"]) == {"NullModel", "claude-2"}
    # A list (as glob.glob gives) is the same as the paths one by one; no path at all is a clear error.
    listed = judgebench.load(paths, n_bootstrap=20).leaderboard
    pd.testing.assert_frame_equal(listed, board)
    with pytest.raises(DataError, match="at least one"):
        judgebench.load()


def _raw_grades(folder: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return pd.DataFrame(rows)


def test_arena_bench_v1_keeps_its_benchmark_and_the_judge_of_its_config(shared_data: Path) -> None:
    folder = shared_data / ARENA_BENCH
    config = judge_config(folder / "claude-1.jsonl.gz")
    assert config is not None and config.judge_model == "gpt-4"
    assert config.path.name == "arena-bench-v1_config.yaml"
    # One file carries FastChat's turn field; it is arena-bench-v1 all the same.
    with gzip.open(folder / "gpt-3.5-turbo.jsonl.gz", "rt") as fh:
        assert "turn" in json.loads(fh.readline())
    assert {detect_format(p) for p in folder.glob("*.jsonl.gz")} == {"arena-hard"}
    frame = read_judgments([folder]).frame
    assert set(frame["benchmark"]) == {"arena-bench-v1"} and set(frame["judge"]) == {"gpt-4"}
    # Each model's mean grade is the mean of the files' own score fields (null where no [[n]] was given).
    raw = _raw_grades(folder)
    expected = pd.to_numeric(raw["score"]).groupby(raw["model"]).mean()
    ours = frame.groupby("model")["score"].mean()
    assert sorted(ours.index) == sorted(expected.index) and len(ours) == 11
    for model, value in expected.items():
        assert ours[model] == pytest.approx(value, abs=1e-12), model
    assert frame["score"].notna().sum() == raw["score"].notna().sum()


def test_stats_on_the_arena_bench_folder(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["stats", str(shared_data / ARENA_BENCH), "--json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("["):])
    assert len(rows) == 11
    assert {(r["benchmark"], r["judge"]) for r in rows} == {("arena-bench-v1", "gpt-4")}


def _grades_beside(folder: Path, config: str | None) -> Path:
    judgments = folder / "model_judgment"
    judgments.mkdir(parents=True)
    row = {"question_id": "q1", "model": "m", "judgment": "Good. Rating: [[7]]", "score": 7, "turn": 1}
    (judgments / "m.jsonl").write_text(json.dumps(row) + "\n")
    if config is not None:
        (folder / "judge_config.yaml").write_text(config)
    return judgments / "m.jsonl"


def test_a_judge_config_is_read_safely(tmp_path: Path) -> None:
    # Without a config, FastChat's shape is FastChat's (MT-Bench); beside one it is Arena-Hard's.
    plain = _grades_beside(tmp_path / "plain", None)
    assert detect_format(plain) == "fastchat"
    beside = _grades_beside(tmp_path / "beside", "judge_model: gpt-4o\nbench_name: x\n")
    (judgment,) = read_sources(beside)[0].judgments
    assert (judgment.benchmark, judgment.judge, judgment.score) == ("arena-bench-v1", "gpt-4o", 7.0)
    # YAML that would build Python objects is refused by safe_load: an error naming the file and line.
    hostile = _grades_beside(tmp_path / "hostile", "judge_model: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(DataError, match=r"judge_config\.yaml:1: not valid YAML"):
        read_sources(hostile)
    wrong = _grades_beside(tmp_path / "wrong", "name: x\njudge_model: [a, b]\n")
    with pytest.raises(DataError, match=r"judge_config\.yaml:2: judge_model must be a model name"):
        read_sources(wrong)
    # A huge YAML file is not read as a config at all.
    huge = _grades_beside(tmp_path / "huge", "judge_model: gpt-4o\n" + "# padding\n" * 40_000)
    assert judge_config(huge) is None
