"""Verdict parsing: hand-made cases, and the real GPT-4 judgments FastChat recorded."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from judgebench.judging.verdicts import (
    candidate_outcome,
    combine_orders,
    expected_score,
    parse_pair,
    parse_pair_json,
    parse_score,
    parse_score_json,
)

LABELS = ("A", "B", "C")


@pytest.mark.parametrize(("text", "score"), [
    ("Good answer. Rating: [[8]]", 8.0),
    ("Rating: [[ 7 ]]", 7.0),
    ("Rating: [[8.5]]", 8.5),
    ("no double brackets, Rating: [6]", 6.0),
    ("Rating: [[9]] ... as I said, [[9]]", 9.0),  # the same grade repeated is still one grade
])
def test_parse_score(text: str, score: float) -> None:
    assert parse_score(text, 1, 10).score == score


@pytest.mark.parametrize(("text", "reason"), [
    ("I would give it a nine.", "no [[score]]"),
    ("Rating: [[11]]", "outside the scale"),
    ("First [[3]], on reflection [[8]]", "conflicting scores"),
])
def test_parse_score_failures_are_explicit(text: str, reason: str) -> None:
    verdict = parse_score(text, 1, 10)
    assert verdict.score is None and verdict.error is not None and reason in verdict.error


def test_parse_pair() -> None:
    assert parse_pair("Final verdict: [[A]]", LABELS).winner == "A"
    assert parse_pair("[[B]]", LABELS).winner == "B"
    assert parse_pair("It is a tie [[C]]", LABELS).winner == "tie"
    assert parse_pair("[[A]] or maybe [[B]]", LABELS).error is not None
    assert parse_pair("A is better", LABELS).error is not None
    assert parse_pair("[[left]]", ("left", "right", "same")).winner == "A"


def test_json_verdicts_and_truncated_replies() -> None:
    assert parse_score_json('{"score": 7, "explanation": "fine"}', 1, 10).score == 7
    # Cut off by max_tokens in the explanation: the schema put the score first, so it is still there...
    assert parse_score_json('{ "score": 4, "explanation": "the answer is wr', 1, 10, truncated=True).score == 4
    # ...also when a small model stopped early (the server said "stop"): the object is unclosed.
    assert parse_score_json('{ "score": 4, "explanation": "the answer is wr', 1, 10).score == 4
    # A complete object is read whole: a key repeated after the prefix is an error, not the prefix's grade.
    assert parse_score_json('{ "score": 4, "explanation": "x", "score": 9}', 1, 10).error is not None
    # Raw newlines inside strings (llama.cpp's grammar allows them) change nothing.
    assert parse_score_json('{"score": 5, "explanation": ");\n{"}', 1, 10).score == 5
    cut = parse_score_json('{ "explanation": "no score yet', 1, 10, truncated=True)
    assert cut.error is not None and cut.truncated
    assert parse_score_json('{"score": 0, "explanation": ""}', 1, 10).error is not None
    assert parse_score_json('{"score": true}', 1, 10).error is not None
    assert parse_pair_json('{"verdict": "B", "explanation": "x"}', LABELS).winner == "B"
    assert parse_pair_json('{"verdict": "C", "explan', LABELS, truncated=True).winner == "tie"
    assert parse_pair_json('{"verdict": "D"}', LABELS).error is not None


def test_orders_combine_as_fastchat_does() -> None:
    assert candidate_outcome("A", candidate_first=True) == "win"
    assert candidate_outcome("A", candidate_first=False) == "loss"
    assert candidate_outcome("tie", candidate_first=False) == "tie"
    assert combine_orders("win", "win") == 2.0
    assert combine_orders("loss", "loss") == 1.0
    assert combine_orders("tie", "tie") == 1.5
    assert combine_orders("win", "loss") == 1.5  # inconsistent orders count as a tie
    assert combine_orders("win", "tie") == 1.5


def test_single_parser_agrees_with_fastchat_on_800_real_gpt4_judgments(shared_data: Path) -> None:
    """FastChat stored each grade in `score` (-1 when it could not parse): our parser agrees on every row."""
    path = shared_data / "mt_bench_extras/third_party_alvarobartt/model_judgment/gpt-4_single.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(rows) == 800
    failures = 0
    for row in rows:
        verdict = parse_score(row["judgment"], 1, 10)
        if row["score"] == -1:
            failures += 1
            assert verdict.score is None and verdict.error, row["judgment"][-200:]
        else:
            assert verdict.score == pytest.approx(row["score"]), row["judgment"][-200:]
    assert failures == 1


def test_pair_parser_agrees_with_fastchat_on_real_gpt4_pairwise_judgments(shared_data: Path) -> None:
    """g1 shows model_1 as A; g2 swaps the order. FastChat's recorded winners must come out of our parser."""
    path = shared_data / "mt_bench_extras/lmsys_skycamp_branch/model_judgment/gpt-4_pair.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert rows
    for row in rows:
        for game, first in (("g1", "model_1"), ("g2", "model_2")):
            second = "model_2" if first == "model_1" else "model_1"
            winner = parse_pair(row[f"{game}_judgment"], LABELS).winner
            expected = {"A": first, "B": second, "tie": "tie", None: "error"}[winner]
            assert expected == row[f"{game}_winner"], (row["question_id"], game)


def _lp(p: float) -> float:
    import math

    return math.log(p)


def test_expected_score_from_token_logprobs() -> None:
    """Token streams shaped like llama.cpp's: the grade's alternatives carry the probability mass."""
    stream = (
        ("{", ()), (' "', ()), ("score", ()), ('":', ()), (" ", ()),
        ("7", (("7", _lp(0.5)), ("8", _lp(0.3)), ("The", _lp(0.1)), ("3", _lp(0.1)))),
        (",", ()),
    )
    # Renormalized over valid grades: (7*.5 + 8*.3 + 3*.1) / .9
    assert expected_score(stream, 1, 10) == pytest.approx((3.5 + 2.4 + 0.3) / 0.9)
    ten = (
        ('{"', ()), ("score", ()), ('":', ()),
        (" 1", ((" 1", _lp(0.6)), (" 9", _lp(0.4)))),
        ("0", (("0", _lp(0.75)), (",", _lp(0.25)))),
    )
    # "1" splits 3:1 into 10 and 1 by the next token: (10*.45 + 1*.15 + 9*.4) / 1.0
    assert expected_score(ten, 1, 10) == pytest.approx(10 * 0.45 + 1 * 0.15 + 9 * 0.4)
    assert expected_score((("{", ()), (' "explanation', ())), 1, 10) is None
    assert expected_score((), 1, 10) is None
