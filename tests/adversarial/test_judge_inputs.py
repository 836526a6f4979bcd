"""Hostile inputs to the commands that measure judges (`judges --labels`, `escalate`, `calibrate`): a label file with a
winner no one can read, a turn that is no turn, an AlpacaEval preference outside its scale, an existing file named
as an output. Each ends in one line that names the file, and no number moves in silence."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.analysis.records import read_judgments
from judgebench.cli import main

JUDGE = "results/alpaca-7b/alpaca_eval_cot_gpt4_turbo_fn/annotations.json.gz"
HAIKU = "judgebench/outputs/claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz"


def _labels(shared_data: Path, tmp_path: Path, winner: str = "", turn: str = "", n: int = 20) -> Path:
    """The judge's own verdicts on its file's first ``n`` items as labels (item_id, model_a, model_b, winner[, turn]):
    the first label's winner and turn replaced where given."""
    rows = read_judgments([shared_data / "alpaca_eval" / JUDGE]).frame.head(n)
    lines = ["item_id,model_a,model_b,winner" + (",turn" if turn else "")]
    for i, (item, model, opponent, preference) in enumerate(zip(rows["item_id"], rows["model"], rows["opponent"],
                                                                rows["preference"], strict=True)):
        label = winner if i == 0 and winner else "model_a" if preference > 1.5 else "model_b"
        lines.append(f"{item},{model},{opponent},{label}" + ((f",{turn}" if i == 0 else ",1") if turn else ""))
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(result_output: str, *says: str) -> None:
    last = result_output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "internal error" not in result_output, result_output
    assert all(s in last for s in says), last


@pytest.mark.parametrize("winner", ["banana", "MODEL_B", " model_b", "gpt-5"])
def test_a_winner_no_one_can_read_is_an_error_at_its_line_never_a_tie(shared_data: Path, tmp_path: Path,
                                                                     winner: str) -> None:
    labels = _labels(shared_data, tmp_path, winner=winner)
    for command in (["judges"], ["escalate"], ["agree"]):
        result = CliRunner().invoke(main, [*command, str(shared_data / "alpaca_eval" / JUDGE), "--labels",
                                           str(labels)])
        assert result.exit_code != 0
        _one_line(result.output, f"{labels}:2", "winner", "correct the label")


@pytest.mark.parametrize("turn", ["1000000000000000000000000000000", "abc", "", "0", "1.5"])
def test_a_turn_that_is_no_turn_is_an_error_at_its_line(shared_data: Path, tmp_path: Path, turn: str) -> None:
    labels = _labels(shared_data, tmp_path, turn=turn or '""')
    result = CliRunner().invoke(main, ["judges", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(labels)])
    assert result.exit_code != 0
    _one_line(result.output, f"{labels}:2", "turn", "whole number")


def test_labels_of_another_shape_are_one_line_for_escalation(shared_data: Path, tmp_path: Path) -> None:
    labels = tmp_path / "other.csv"
    labels.write_text("a,b,c\n1,2,3\n")
    result = CliRunner().invoke(main, ["escalate", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(labels)])
    assert result.exit_code != 0
    _one_line(result.output, str(labels), "not pairwise labels", "item_id, model_a, model_b, winner")


def test_an_alpaca_eval_preference_outside_its_scale_is_a_failure_not_a_win_rate(shared_data: Path,
                                                                                tmp_path: Path) -> None:
    with gzip.open(shared_data / "alpaca_eval" / JUDGE, "rt") as fh:
        rows = json.load(fh)[:40]
    bad = {0: 5, 1: -1, 2: 1e308}
    for i, value in bad.items():
        rows[i]["preference"] = value
    path = tmp_path / "alpaca-7b" / "annotations.json"
    path.parent.mkdir()
    path.write_text(json.dumps(rows))
    frame = read_judgments([path]).frame
    assert frame["preference"].dropna().between(1, 2).all()
    failed = frame[frame["failure"] == "parse"]
    assert len(failed) == len(bad) + sum(r["preference"] is None for r in rows[3:])
    assert failed["error"].str.contains("outside \\[1, 2\\]").sum() == len(bad)
    result = CliRunner().invoke(main, ["stats", str(path), "--json"])
    assert result.exit_code in (0, 3) and "inf" not in result.output.lower()


def test_escalation_never_replaces_a_file_without_force_nor_writes_an_empty_list(shared_data: Path,
                                                                                tmp_path: Path) -> None:
    labels = _labels(shared_data, tmp_path, n=805)  # the judge's own verdicts: nothing to escalate
    existing = tmp_path / "items.jsonl"
    existing.write_text("keep\n")
    args = ["escalate", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(labels), "--target", "0.5",
            "--write-items", str(existing)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and existing.read_text() == "keep\n"
    _one_line(result.output, str(existing), "exists", "--force")
    result = CliRunner().invoke(main, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert "not written: no item is escalated" in result.output and existing.read_text() == "keep\n"


def test_a_judge_no_label_matches_is_named_not_dropped_in_silence(shared_data: Path, tmp_path: Path) -> None:
    labels = _labels(shared_data, tmp_path)
    result = CliRunner().invoke(main, ["judges", str(shared_data / HAIKU), str(shared_data / "alpaca_eval" / JUDGE),
                                       "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    assert "judge arena_hard:claude-3-haiku-20240307: no label matches its verdicts" in result.output
    assert "alpaca_eval_cot_gpt4_turbo_fn" in result.output


@pytest.mark.parametrize("command", ["judges", "escalate"])
def test_one_to_nine_resamples_are_refused(shared_data: Path, command: str) -> None:
    result = CliRunner().invoke(main, [command, str(shared_data / HAIKU), "--bootstrap", "1"])
    assert result.exit_code == 2 and "give 0 (no interval) or at least 10 resamples" in result.output


MT_GRADES = "mt_bench_extras/third_party_alvarobartt/model_judgment/gpt-4_single.jsonl.gz"


@pytest.mark.parametrize(("score", "says"), [("ten", "is not a number"), ("", "is not a number"),
                                             ("1e300", "is outside the judged scale [1, 10]"),
                                             ("-50", "is outside the judged scale [1, 10]")])
def test_a_score_label_that_is_no_grade_on_the_scale_is_refused(shared_data: Path, tmp_path: Path, score: str,
                                                                says: str) -> None:
    frame = read_judgments([shared_data / MT_GRADES]).frame.dropna(subset=["score"]).head(30)
    labels = tmp_path / "scores.csv"
    rows = [f"{i},{m},{s:g}" for i, m, s in zip(frame["item_id"], frame["model"], frame["score"], strict=True)]
    rows[3] = f"{frame['item_id'].iloc[3]},{frame['model'].iloc[3]},{score}"
    labels.write_text("item_id,model,score\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(main, ["calibrate", str(shared_data / MT_GRADES), "--labels", str(labels)])
    assert result.exit_code != 0
    _one_line(result.output, str(labels), "label row 4", says)


def test_win_rate_intervals_stay_within_0_and_1_and_a_sample_needs_its_rows(shared_data: Path,
                                                                           tmp_path: Path) -> None:
    labels = _labels(shared_data, tmp_path, n=200)
    result = CliRunner().invoke(main, ["calibrate", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(labels),
                                       "--json"])
    assert result.exit_code == 0, result.output
    rates = [r for r in json.loads(result.output[result.output.index("["):]) if r["quantity"] == "win rate"]
    assert rates
    for row in rates:
        for name in ("judge_only", "labels_only", "ppi"):
            if row[name] is not None:
                assert 0.0 <= row[name]["low"] <= row[name]["high"] <= 1.0, (name, row[name])
    result = CliRunner().invoke(main, ["calibrate", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(labels),
                                       "--sample", "1000"])
    assert result.exit_code != 0
    _one_line(result.output, "--sample 1000 is more than the 200 label rows")


def test_a_judgebench_file_as_labels_gives_its_objective_labels(shared_data: Path) -> None:
    # As `escalate --labels` reads it: the pair file and the judge's own output file carry the same labels.
    pairs = shared_data / "judgebench" / "pairs" / "claude-3-5-sonnet-20240620.jsonl.gz"
    rows = []
    for labels in (pairs, shared_data / HAIKU):
        result = CliRunner().invoke(main, ["judges", str(shared_data / HAIKU), "--labels", str(labels), "--json"])
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.output[result.output.index("["):])
        rows.append({k: v for k, v in row.items() if k != "labels"})
    assert rows[0] == rows[1] and rows[0]["n"] > 250


def test_a_label_without_an_item_id_is_an_error_at_its_line(shared_data: Path, tmp_path: Path) -> None:
    """A NaN or empty item id would match no judgment and drop the label in silence."""
    good = _labels(shared_data, tmp_path).read_text().splitlines()
    path = tmp_path / "labels.jsonl"
    rows = [dict(zip(good[0].split(","), line.split(","), strict=True)) for line in good[1:]]
    rows[2]["item_id"] = float("nan")
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))  # json writes NaN, as pandas' files hold it
    result = CliRunner().invoke(main, ["judges", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(path)])
    assert result.exit_code != 0
    _one_line(result.output, f"{path}:3", "item_id", "NaN")


def test_a_csv_label_file_with_an_unclosed_quote_names_its_line(shared_data: Path, tmp_path: Path) -> None:
    path = _labels(shared_data, tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",", ',"', 1)  # the file's line 3 opens a quote that never closes
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["judges", str(shared_data / "alpaca_eval" / JUDGE), "--labels", str(path)])
    assert result.exit_code != 0
    _one_line(result.output, f"{path}:3:", "cannot read labels")
