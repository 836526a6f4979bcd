"""The leaderboard site: contents, determinism, incremental rebuilds, the lock; notebook loading and Parquet."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.cli import main
from judgebench.publish.site import EXIT_LOCKED, EXIT_UNCHANGED, SiteLocked, build_site, site_lock

AE2 = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
MODELS = ["claude-2", "gpt-3.5-turbo-0301", "alpaca-7b", "gpt4_1106_preview", "vicuna-13b"]


@pytest.fixture
def inputs(shared_data: Path, tmp_path: Path) -> list[Path]:
    """A few AlpacaEval 2.0 annotation files, copied so a test may change one."""
    copies = []
    for model in MODELS:
        target = tmp_path / "inputs" / model / "annotations.json.gz"
        target.parent.mkdir(parents=True)
        shutil.copy(shared_data / AE2.format(model), target)
        copies.append(target)
    return copies


def test_site_has_tables_plots_and_page(inputs: list[Path], tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "site"
    result = build_site(inputs, out, n_bootstrap=200)
    assert result.status == "updated" and result.n_groups == 1
    # AlpacaEval 2.0's annotator is the alpaca-eval-2.0 protocol: the section names it beside the benchmark.
    stem = "alpaca-eval-alpaca-eval-2-0__weighted_alpaca_eval_gpt4_turbo"
    rows = json.loads((out / "data" / f"{stem}.json").read_text())
    assert [r["rank"] for r in rows] == list(range(1, len(MODELS) + 1))
    board = pd.read_csv(shared_data / "alpaca_eval/leaderboards/data_AlpacaEval_2/"
                        "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv", index_col=0)
    for row in rows:
        assert row["score"] == pytest.approx(board.loc[row["model"], "win_rate"], abs=1e-9)
        assert row["ci_low"] <= row["score"] <= row["ci_high"]
    table = pd.read_csv(out / "data" / f"{stem}.csv")
    assert list(table["model"]) == [r["model"] for r in rows]
    assert (out / "data" / f"{stem}.md").read_text().startswith("| # | model |")
    assert (out / "plots" / f"{stem}-scores.png").stat().st_size > 1000
    assert (out / "plots" / f"{stem}-scores.svg").exists()
    html = (out / "index.html").read_text()
    assert html.count("<tr data-model=") == len(MODELS) and "plots/" in html


def test_same_inputs_give_byte_identical_sites(inputs: list[Path], tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "site", tmp_path / "b" / "site"
    build_site(inputs, first, n_bootstrap=20)
    build_site(inputs, second, n_bootstrap=20)
    comparison = filecmp.dircmp(first, second)
    files = [p.relative_to(first) for p in first.rglob("*") if p.is_file()]
    assert len(files) >= 6
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    assert not comparison.left_only and not comparison.right_only


def test_only_changed_inputs_are_recomputed(inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = build_site(inputs, out, n_bootstrap=20)
    assert first.n_parsed == len(MODELS)
    again = build_site(inputs, out, n_bootstrap=20)
    assert again.status == "unchanged" and again.n_parsed == 0
    before = (out / "index.html").read_text()
    # One input changes: drop one annotation from it.
    import gzip

    with gzip.open(inputs[0], "rt") as fh:
        rows = json.load(fh)
    with gzip.open(inputs[0], "wt") as fh:
        json.dump(rows[:-1], fh)
    changed = build_site(inputs, out, n_bootstrap=20)
    assert changed.status == "updated" and changed.n_parsed == 1 and changed.n_recomputed == 1
    assert (out / "index.html").read_text() != before
    assert not list(tmp_path.glob(".site.new-*")) and not list(tmp_path.glob(".site.old-*"))


def test_a_held_lock_stops_a_second_regeneration(inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    with site_lock(out.resolve()):
        with pytest.raises(SiteLocked):
            build_site(inputs, out, n_bootstrap=50)
        result = CliRunner().invoke(main, ["leaderboard", *map(str, inputs), "--out", str(out)])
        assert result.exit_code == EXIT_LOCKED
    assert not out.exists()


def test_cli_exit_status_says_what_happened(inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    args = ["leaderboard", *map(str, inputs), "--out", str(out), "--bootstrap", "50"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and first.stdout.startswith("updated") and "read 4025 judgments" in first.stderr
    second = CliRunner().invoke(main, args)
    assert second.exit_code == EXIT_UNCHANGED and second.stdout.startswith("unchanged")


def test_load_gives_documented_dataframes_and_parquet(inputs: list[Path], tmp_path: Path) -> None:
    results = judgebench.load(*inputs, n_bootstrap=100)
    # The documented columns, the same for every source.
    assert {"benchmark", "item_id", "category", "model", "judge", "turn", "score", "preference", "error"} <= set(
        results.judgments.columns)
    assert set(results.judgments["benchmark"]) == {"alpaca-eval"}
    assert len(results.judgments) == 805 * len(MODELS)
    assert list(results.leaderboard["rank"]) == list(range(1, len(MODELS) + 1))
    assert results.diagnostics.flags is not None and results.n_superseded == 0
    result = CliRunner().invoke(main, ["export", *map(str, inputs), "--parquet", str(tmp_path / "pq")])
    assert result.exit_code == 0, result.output
    back = pd.read_parquet(tmp_path / "pq" / "judgments.parquet")
    assert len(back) == len(results.judgments)
    assert pd.read_parquet(tmp_path / "pq" / "leaderboard.parquet")["model"].tolist() == \
        results.leaderboard["model"].tolist()


def test_public_api_is_curated() -> None:
    assert set(judgebench.__all__) == {"JudgebenchError", "Results", "RunConfig", "RunResult", "__version__",
                                       "aevaluate", "evaluate", "load", "load_task", "parse_endpoint", "parse_judge"}
    for name in judgebench.__all__:
        assert hasattr(judgebench, name)


def _annotations(path: Path, preferences: list[float]) -> Path:
    rows = [{"instruction": f"question {i}", "output_1": "base answer", "output_2": "model answer " * (i + 1),
             "generator_1": "base", "generator_2": "model", "annotator": "judge", "preference": p, "dataset": "d"}
            for i, p in enumerate(preferences)]
    path.write_text(json.dumps(rows))
    return path


def test_site_and_stats_agree_when_two_files_hold_the_same_judgments(tmp_path: Path) -> None:
    """The newest is the last given, for the site as for stats, whatever the files' names."""
    zz = _annotations(tmp_path / "zz.json", [2.0] * 6)
    aa = _annotations(tmp_path / "aa.json", [1.0, 2.0, 1.0, 2.0, 1.5, 1.0])
    stats = CliRunner().invoke(main, ["stats", "--json", "--bootstrap", "20", str(zz), str(aa)])
    assert stats.exit_code == 0, stats.output
    (row,) = json.loads(stats.stdout)
    assert row["score"] == pytest.approx(100 * (2 + 0.5) / 6)
    assert "6 older or failed duplicate record(s)" in stats.stderr
    site = CliRunner().invoke(main, ["leaderboard", "--bootstrap", "20", "--out", str(tmp_path / "site"), str(zz),
                                     str(aa)])
    assert site.exit_code == 0, site.output
    (section,) = json.loads((tmp_path / "site" / "data" / "alpaca-eval-judge__judge.json").read_text())
    assert section["score"] == pytest.approx(row["score"]) and section["n"] == row["n_judged"] == 6
    assert "6 duplicate record(s)" in site.stderr


def test_site_rebuilds_when_the_format_changes_and_refuses_empty_inputs(tmp_path: Path) -> None:
    aa = _annotations(tmp_path / "aa.json", [1.0, 2.0, 1.5])
    out = tmp_path / "site"
    assert CliRunner().invoke(main, ["leaderboard", "--out", str(out), str(aa)]).exit_code == 0
    forced = CliRunner().invoke(main, ["leaderboard", "--out", str(out), "--format", "fastchat", str(aa)])
    assert forced.exit_code == 1 and "unchanged" not in forced.output  # read again, as the format says
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["leaderboard", "--out", str(tmp_path / "s2"), str(aa), str(empty)])
    assert result.exit_code == 1 and "no judgebench run here" in result.output
    assert not (tmp_path / "s2").exists() and not (tmp_path / ".s2.cache").exists()


def test_build_date_is_the_newest_input_or_source_date_epoch(inputs: list[Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for n, path in enumerate(inputs):
        os.utime(path, (0, 1_700_000_000 + 60 * n))  # the newest: 2023-11-14 22:17 UTC
    out = tmp_path / "site"
    build_site(inputs, out, n_bootstrap=20)
    html = (out / "index.html").read_text()
    assert "Built 2023-11-14 22:17 UTC (the newest input&#39;s modification time)" in html
    assert "Built 2023-11-14 22:17 UTC" in (out / "models" / "claude-2.html").read_text()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    assert build_site(inputs, out, n_bootstrap=20).status == "updated"  # another date, another page
    assert "Built 1970-01-02 00:00 UTC (SOURCE_DATE_EPOCH)" in (out / "index.html").read_text()
    assert build_site(inputs, out, n_bootstrap=20).status == "unchanged"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(judgebench.errors.DataError, match="SOURCE_DATE_EPOCH='yesterday' is not a number"):
        build_site(inputs, out, n_bootstrap=50)


def test_model_pages_escape_every_text_and_link_from_the_table(inputs: list[Path], tmp_path: Path) -> None:
    from .runs import HOSTILE, fake_run

    run_dir = fake_run(tmp_path / "run")
    out = tmp_path / "site"
    build_site([*inputs, run_dir], out, n_bootstrap=50)
    index = (out / "index.html").read_text()
    page = (out / "models" / "fake-model.html").read_text()
    assert 'href="models/fake-model.html"' in index and 'href="models/claude-2.html"' in index
    assert HOSTILE not in page and "<img src=x" not in page
    assert page.count("&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;") == 3 * 5  # answer, 2 replies
    # The run recorded its prompt's hash; the method line shows it with the counts.
    digest = json.loads((run_dir / "config.json").read_text())["prompt_sha256"]["pairwise.jinja"]
    assert f"prompt pairwise.jinja sha256 <code>{digest[:16]}</code>" in index
    assert "5 judgments; 50 bootstrap samples" in index  # one judgment per item, both orders in it
