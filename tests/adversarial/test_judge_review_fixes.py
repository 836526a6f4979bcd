"""Findings a review left open on the judge-measuring commands, each fixed: a judgment a file repeats is one verdict
in `agree` and `judges --labels`; `run --items` refuses a list naming another benchmark; `escalate` prices what it
can; every command reads AlpacaEval JSON holding NaN the same way; AlpacaEval's price and time per example reach
the judges' table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.analysis.judge_labels import judges_against_labels
from judgebench.cli import main


def _fastchat(path: Path, verdicts: list[tuple[int, str, str]]) -> Path:
    """A FastChat pair file of judge "cheap": (question, g1 verdict, g2 verdict) of gpt-4 (model_1) against
    alpaca-13b (model_2); g2 shows model_2 first."""
    lines = [{"question_id": q, "model_1": "gpt-4", "model_2": "alpaca-13b", "turn": 1, "judge": ["cheap", "pair-v2"],
              "g1_winner": "", "g2_winner": "", "g1_judgment": f"[[{g1}]]", "g2_judgment": f"[[{g2}]]"}
             for q, g1, g2 in verdicts]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_a_judgment_a_file_repeats_is_one_verdict_its_last(tmp_path: Path) -> None:
    """FastChat's GPT-4 pair file repeats records: each label is compared once, with the judgment's last record,
    in `judges --labels` and in `agree` alike."""
    judged = _fastchat(tmp_path / "cheap_pair.jsonl", [
        (81, "B", "A"),  # alpaca-13b wins in one record ...
        (81, "A", "B"),  # ... and gpt-4 in the repeated, last one
        (82, "A", "B")])
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,model_a,model_b,winner\n81,gpt-4,alpaca-13b,model_a\n82,gpt-4,alpaca-13b,model_a\n")
    row = judges_against_labels([judged], [labels], n_bootstrap=0).iloc[0]
    assert row["n"] == 2 and row["s1"] == pytest.approx(1.0)  # was 3 matched, one of them against the label
    agree = CliRunner().invoke(main, ["agree", str(judged), "--labels", str(labels), "--json"])
    (item,) = json.loads(agree.stdout)["items"]
    assert item["n_s1"] == 2 and item["s1"] == pytest.approx(1.0)
