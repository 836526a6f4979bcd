"""JudgeBench's accuracy metric: checked on small cases, against a direct pandas computation from the raw files,
and against the published table (published_numbers.md, "JudgeBench"), through the library and the CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from judgebench.analysis.judge_accuracy import judges
from judgebench.cli import main
from judgebench.stats.judge_accuracy import (
    accuracy,
    longer_share,
    order_points,
    pairs_correct,
    position_consistency,
    preferred,
)

# published_numbers.md, JudgeBench: judge -> (Knowledge, Reasoning, Math, Coding, Overall)
PUBLISHED = {
    "gpt-pairs.reward_model.GRM-Gemma-2B-rewardmodel-ft.jsonl.gz": (62.99, 53.06, 64.29, 54.76, 59.43),
    "gpt-pairs.reward_model.internlm2-7b-reward.jsonl.gz": (56.49, 61.22, 71.43, 50.00, 59.43),
    "claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz": (37.66, 29.41, 32.35, 9.68, 32.22),
}
COLUMNS = ("knowledge", "reasoning", "math", "coding", "accuracy")


def test_each_order_adds_one_for_the_label_and_takes_one_against_it() -> None:
    assert order_points(["A>B", "A>B"], "A>B") == 2
    assert order_points(["A>B", "B>A"], "A>B") == 0
    assert order_points(["A>B", "A=B"], "A>B") == 1
    assert order_points([None, "B>A"], "A>B") == -1
    # correct only when the sum is positive: a pair whose orders disagree is not correct
    assert pairs_correct([["A>B", "A=B"], ["A>B", "B>A"], ["A=B", None], ["B>A"]], ["A>B"] * 3 + ["B>A"]).tolist() \
        == [True, False, False, True]


def test_accuracy_has_a_seeded_bootstrap_interval_around_it() -> None:
    correct = np.array([True] * 30 + [False] * 70)
    first, again = accuracy(correct), accuracy(correct)
    assert first == again and first.value == 30.0 and first.n == 100
    assert first.low < 30.0 < first.high
    assert np.isnan(accuracy(correct, n_bootstrap=0).low)
    assert accuracy(np.array([], dtype=bool)).n == 0


def test_consistency_and_length_preference() -> None:
    assert position_consistency(["A>B", "A=B", None, "B>A"], ["A>B", "A=B", None, "A>B"]) == 0.5
    assert preferred(["A>B", "A=B"]) == "A" and preferred(["A>B", "B>A"]) is None and preferred(["B>A"]) == "B"
    share = longer_share(["A", "B", None, "A"], [10, 10, 10, 5], [5, 20, 1, 5])
    assert (share.share, share.n) == (1.0, 2)


def _direct(path: Path) -> pd.DataFrame:
    """The metric straight from the raw rows, written apart from the library: JudgeBench flips the second order's
    decision (the judge saw response_B first), scores +1/-1 per order, and a reward model counts its first only."""
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    flip = {"A>B": "B>A", "B>A": "A>B"}
    records = []
    for row in rows:
        decisions = [row["judgments"][0]["decision"]]
        if row["judge_name"] != "reward_model":
            second = row["judgments"][1]["decision"]
            decisions.append(flip.get(second, second))
        score = sum(1 if d == row["label"] else -1 if d == flip[row["label"]] else 0 for d in decisions)
        group = ("Knowledge" if row["source"].startswith("mmlu-pro") else
                 {"livebench-reasoning": "Reasoning", "livebench-math": "Math", "livecodebench": "Coding"}[
                     row["source"]])
        records.append({"group": group, "correct": score > 0})
    frame = pd.DataFrame(records)
    return frame.groupby("group")["correct"].mean() * 100


@pytest.fixture(scope="module")
def outputs(shared_data: Path) -> list[Path]:
    return [shared_data / "judgebench" / "outputs" / name for name in PUBLISHED]


def test_the_library_agrees_with_a_direct_groupby(outputs: list[Path]) -> None:
    table = judges(outputs, n_bootstrap=0)
    for path, (_, row) in zip(outputs, table.iterrows(), strict=True):
        direct = _direct(path)
        for group, value in direct.items():
            assert row[str(group).lower()] == pytest.approx(value, abs=1e-9)


def test_the_published_table_is_reproduced_through_the_library(outputs: list[Path]) -> None:
    table = judges(outputs)
    assert table["n_pairs"].tolist() == [350, 350, 270]
    for name, (_, row) in zip(PUBLISHED, table.iterrows(), strict=True):
        assert tuple(round(row[c], 2) for c in COLUMNS) == PUBLISHED[name]
        for column in COLUMNS:
            assert row[f"{column}_low"] <= row[column] <= row[f"{column}_high"]
    assert table["consistency"].isna().tolist() == [True, True, False]
    assert table["consistency"].iloc[2] == pytest.approx(0.5)
    # claude-3-haiku gave no decision in 13 of its 540 asks (5 + 4 + 2 + 2 pairs with one order undecided)
    assert table["no_decision"].tolist() == [0.0, 0.0, pytest.approx(13 / 540)]


def test_the_published_table_is_reproduced_through_the_cli(outputs: list[Path]) -> None:
    args = ["judges", *map(str, outputs)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    frame = judges(outputs)
    for name, row, (_, expected) in zip(PUBLISHED, rows, frame.iterrows(), strict=True):
        assert tuple(round(row[c], 2) for c in COLUMNS) == PUBLISHED[name]
        assert row["accuracy_low"] == expected["accuracy_low"]  # the same numbers as the frame, intervals too
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert "59.43 [" in lines[2] and "62.99 [" in lines[2] and "54.76 [" in lines[2]
    assert "59.43 [" in lines[3] and "71.43 [" in lines[3]
    assert "32.22 [" in lines[4] and "37.66 [" in lines[4] and "9.68 [" in lines[4] and "50.0%" in lines[4]


def test_the_cli_gives_one_line_for_a_pair_file(shared_data: Path) -> None:
    pairs = shared_data / "judgebench" / "pairs" / "gpt-4o-2024-05-13.jsonl.gz"
    result = CliRunner().invoke(main, ["judges", str(pairs)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and f"{pairs}:1: no 'judgments'" in result.output
