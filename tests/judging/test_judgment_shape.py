"""A judgment's typed views (identity, verdict, failure) say what its flat record says, and adding them changed no
byte of the record a run writes."""

from __future__ import annotations

from judgebench.formats import judgebench as store
from judgebench.types import Failure, Grade, Judgment, JudgmentId, PairVerdict


def test_a_grade_its_identity_and_no_failure() -> None:
    graded = Judgment("mt", "q1", "math", "m", "j", 2, "single", score=7.0, scale=(1, 10), expected_score=6.5)
    assert graded.identity == JudgmentId("mt", "", "j", "m", None, "q1", 2)
    assert graded.verdict == Grade(7.0, (1, 10), 6.5)
    assert graded.failed_with is None


def test_a_pair_verdict_with_its_margins() -> None:
    pair = Judgment("ah", "q1", "hard", "m", "j", 1, "arena-hard-v2.0", opponent="base", verdict_ab="win",
                    verdict_ba="loss", preference=1.5, margin_ab=2, protocol="arena-hard-v2.0")
    assert pair.identity.opponent == "base" and pair.identity.protocol == "arena-hard-v2.0"
    assert pair.verdict == PairVerdict("win", "loss", 1.5, 2, None)


def test_a_failure_has_a_cause_and_a_message() -> None:
    failed = Judgment("mt", "q1", "math", "m", "j", 1, "single", error="no verdict", failure="parse", raw=("x",))
    assert failed.verdict is None
    assert failed.failed_with == Failure("parse", "no verdict")


def test_the_record_is_the_flat_fields_as_before() -> None:
    judgment = Judgment("mt", "q1", "math", "m", "j", 1, "single", score=7.0, scale=(1, 10))
    line = store.dumps_line(store.judgment_record(judgment))
    assert '"identity"' not in line and '"verdict"' not in line and '"failed_with"' not in line
    assert line.startswith('{"benchmark":"mt","bold":null,"calls":[],"category":"math"')
