"""A pairwise judge with ``,logprobs``: the verdict token's alternatives give the verdict's probabilities
(PairVerdict.probability, logprob_margin), recorded, read back as the frame's verdict_probability / verdict_margin
columns, taken as the judge's probability by `judges --labels` (Brier, ECE) and as escalation's confidence."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from judgebench.analysis.escalation import escalated_items
from judgebench.analysis.judge_labels import LabelSet, label_agreement
from judgebench.clients.endpoints import parse_judge
from judgebench.formats.judgebench import judgment_record
from judgebench.formats.table import flat_judgment, judgments_frame
from judgebench.judging.kinds import kind_of
from judgebench.judging.verdicts import TokenLogprobs, candidate_probability, verdict_distribution
from judgebench.tasks import load_task
from judgebench.types import Candidate, ChatReply, Judgment


def _tokens(text: str, at: str, alternatives: dict[str, float]) -> TokenLogprobs:
    """``text`` as tokens split around its last ``at`` (one token), that token's alternatives given as
    probabilities."""
    head, tail = text[:text.rindex(at)], text[text.rindex(at) + len(at):]
    top = tuple((token, math.log(p)) for token, p in alternatives.items())
    return ((head, ((head, 0.0),)), (at, top), (tail, ((tail, 0.0),)))


def test_the_verdict_tokens_alternatives_are_its_probabilities() -> None:
    labels = ("A", "B", "C")
    text = "Both are fine, A is clearer. [[A]]"
    found = verdict_distribution(_tokens(text, "A", {"A": 0.6, "B": 0.2, "C": 0.1, "x": 0.1}), labels)
    assert found == pytest.approx({"A": 0.6 / 0.9, "B": 0.2 / 0.9, "tie": 0.1 / 0.9})
    # the label sharing its token with the frame ('[[A'), and a constrained reply's '"verdict": "B"'
    shared = (("Fine. ", (("Fine. ", 0.0),)), ("[[B", (("[[B", math.log(0.5)), ("[[A", math.log(0.5)))), ("]]", ()))
    assert verdict_distribution(shared, labels) == pytest.approx({"A": 0.5, "B": 0.5, "tie": 0.0})
    constrained = _tokens('{"verdict": "B", "explanation": "x"}', "B", {"B": 0.7, "C": 0.3})
    assert verdict_distribution(constrained, labels) == pytest.approx({"A": 0.0, "B": 0.7, "tie": 0.3})
    assert verdict_distribution(constrained, ("A>>B", "A>B", "A=B", "B>A", "B>>A")) is None  # five levels
    assert verdict_distribution(_tokens("no verdict here", "here", {"here": 1.0}), labels) is None
    # the candidate shown second: B is the candidate
    assert candidate_probability({"A": 0.1, "B": 0.7, "tie": 0.2}, candidate_first=False) == pytest.approx((0.8, 0.5))


def _reply(label: str) -> str:
    return json.dumps({"verdict": label, "explanation": "clearer"})


def _judged(probabilities: list[tuple[float, float]], verdicts: list[tuple[str, str]]) -> list[Judgment]:
    """Judgments of sample-pairwise items by a judge with ,logprobs: each item's two replies, with the candidate's
    label probability (A in AB, B in BA) given and the rest on the other side."""
    task = load_task("sample-pairwise")
    judge = parse_judge("j@http://127.0.0.1:9/v1#json,logprobs")
    kind = kind_of(task.kind)
    out = []
    for item, (p_ab, p_ba), (ab, ba) in zip(task.items, probabilities, verdicts, strict=False):
        candidate = Candidate(task.benchmark, item.id, "m", tuple("answer" for _ in item.turns))
        requests = kind.requests(task, candidate, item, judge)
        assert dict(requests[0].chat.params)["logprobs"] is True  # asked for, for a three-label pairwise task
        replies = [ChatReply(_reply(ab), logprobs=_tokens(_reply(ab), ab, {"A": p_ab, "B": 1 - p_ab})),
                   ChatReply(_reply(ba), logprobs=_tokens(_reply(ba), ba, {"B": p_ba, "A": 1 - p_ba}))]
        out += kind.assemble(task, candidate, requests, replies)
    return out


def test_a_pairwise_judgment_carries_its_probability_through_its_record_and_frame() -> None:
    (judgment,) = _judged([(0.9, 0.7)], [("A", "B")])
    assert judgment.verdict.probability == pytest.approx((0.9 + 0.7) / 2)
    assert judgment.verdict.logprob_margin == pytest.approx(min(0.9 - 0.1, 0.7 - 0.3))
    record = judgment_record(judgment)
    assert record["verdict_probability"] == pytest.approx(0.8) and record["verdict_margin"] == pytest.approx(0.4)
    again = flat_judgment(record)
    assert again.verdict == judgment.verdict
    frame = judgments_frame([again])
    assert frame["verdict_probability"].iloc[0] == pytest.approx(0.8)
    assert frame["verdict_margin"].iloc[0] == pytest.approx(0.4)
    # a judge without ,logprobs writes the record as it always did
    plain = judgment_record(flat_judgment({k: v for k, v in record.items()
                                           if k not in ("verdict_probability", "verdict_margin")}))
    assert "verdict_probability" not in plain


def test_the_probability_is_calibrated_against_labels_and_the_margin_escalates() -> None:
    chances = [(0.95, 0.9), (0.6, 0.55), (0.8, 0.85), (0.3, 0.35)]
    verdicts = [("A", "B"), ("A", "B"), ("A", "B"), ("B", "A")]
    frame = judgments_frame(_judged(chances, verdicts))
    assert frame["verdict_probability"].notna().all()
    labels = pd.DataFrame({"item_id": frame["item_id"], "model_a": "m", "model_b": frame["opponent"],
                           "winner": ["model_a", "model_b", "model_a", "model_b"], "benchmark": frame["benchmark"]})
    row = label_agreement(frame, LabelSet("people", labels, "people.csv"), n_bootstrap=0)
    assert row is not None and row.n_calibration == 4
    p = frame["verdict_probability"].to_numpy()
    y = np.array([1.0, 0.0, 1.0, 0.0])
    assert row.brier == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)
    # Escalation's confidence is the margin where the orders agree: the least sure item (0.6 / 0.55) goes first.
    items = escalated_items(frame, threshold=0.5)
    assert list(items["item_id"]) == [frame["item_id"].iloc[1], frame["item_id"].iloc[3]]
    assert items["confidence"].tolist() == pytest.approx([0.1, 0.3])


def test_a_graders_expected_score_is_calibrated_against_grade_labels() -> None:
    """`agree` with grade labels: the judge's expected grade (,logprobs) against the label's, both on [0, 1] by the
    scale: Brier the mean squared difference, ECE over ten bins, each equal to a direct computation."""
    from judgebench.analysis.agreement import item_agreement
    from judgebench.publish.tables import format_score_agreement
    from tests.judgments import flat

    grades = [(7.0, 6.4, 6.0), (3.0, 3.5, 2.0), (9.0, 8.8, 9.0), (5.0, 5.0, 7.0), (8.0, None, 8.0)]
    frame = judgments_frame([flat("mt-bench", f"q{i}", "writing", "m", "j", 1, "single", score=score,
                                  expected_score=expected, scale=(1, 10))
                             for i, (score, expected, _) in enumerate(grades)])
    labels = pd.DataFrame({"item_id": [f"q{i}" for i in range(len(grades))], "model": "m",
                           "score": [label for _, _, label in grades]})
    found = item_agreement(frame, labels)
    assert not isinstance(found, list) and found.n == 5 and found.n_calibration == 4  # q4 has no expectation
    p = (np.array([6.4, 3.5, 8.8, 5.0]) - 1) / 9
    y = (np.array([6.0, 2.0, 9.0, 7.0]) - 1) / 9
    assert found.brier == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).sum() for b in set(bins)) / len(p)
    assert found.ece == pytest.approx(ece, abs=1e-12)
    assert "Brier (expected)" in format_score_agreement(found)
