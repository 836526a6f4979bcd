"""One judgment shape: an identity, a typed verdict, a failure value and the answers' traits, with the old flat names
as read-only properties; its JSONL record is byte for byte the record judgebench wrote when the fields were flat."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace

import pytest

from judgebench.formats import judgebench as store
from judgebench.formats.table import judgments_frame
from judgebench.types import AnswerTraits, CallRecord, Failure, Grade, Judgment, JudgmentId, PairVerdict

GRADED = Judgment(JudgmentId("mt-bench", "mt-bench", "j#json", "m", None, "q81", 2), "single", "writing",
                  Grade(7.0, 6.75), scale=(1, 10), answer=AnswerTraits(120), raw=("[[7]]",),
                  calls=(CallRecord("k1", "judge", 10, 3, 0.25, False, "stop"),))
PAIR = Judgment(JudgmentId("arena-hard-v2.0", "arena-hard-v2.0", "j", "m", "base", "u1", 1), "pairwise", "hard",
                PairVerdict("win", "loss", 1.5, 2, 1), raw=("A>>B", "A>B"))
FAILED = Judgment(JudgmentId("mt-bench", "", "j", "m", None, "q1", 1), "single", "math",
                  failure=Failure("parse", "no verdict in the reply"), scale=(1, 10), raw=("no score",))
STYLED = Judgment(JudgmentId("arena", "", "human", "a", "b", "i1", 1), "battles", "chat",
                  PairVerdict("loss", None, 1.0), answer=AnswerTraits(300, 80, 2, 5, 1),
                  opponent_answer=AnswerTraits(40, 12, 0, 0, 0), raw=("B",))
HALF = Judgment(JudgmentId("alpaca-eval", "", "j", "m", "gpt4", "abc", 1), "pairwise", "alpaca",
                PairVerdict("win"), Failure("parse", "BA: no verdict"), answer=AnswerTraits(10),
                opponent_answer=AnswerTraits(20), raw=("m", "x"))
EMPTY = Judgment(JudgmentId("mt-bench", "", "j", "m", None, "q2", 1), "single", "coding", Grade(1.0), scale=(1, 10),
                 answer=AnswerTraits(0), empty=True)
JUDGMENTS = (GRADED, PAIR, FAILED, STYLED, HALF, EMPTY)
# The lines judgebench wrote for these judgments while Judgment was 32 flat fields (captured before the reshape).
WRITTEN_FLAT = (
    ('{"benchmark":"mt-bench","bold":null,"calls":[{"cache_key":"k1","label":"judge","prompt_tokens":10,"compl'
     'etion_tokens":3,"latency_s":0.25,"from_cache":false,"finish_reason":"stop","error":null}],"category":"wr'
     'iting","empty":false,"error":null,"expected_score":6.75,"failure":null,"headers":null,"item_id":"q81","j'
     'udge":"j#json","kind":"single","length":120,"lists":null,"margin_ab":null,"margin_ba":null,"model":"m","'
     'opponent":null,"opponent_bold":null,"opponent_headers":null,"opponent_length":null,"opponent_lists":null'
     ',"opponent_tokens":null,"preference":null,"protocol":"mt-bench","raw":["[[7]]"],"scale":[1,10],"score":7'
     '.0,"tokens":null,"turn":2,"verdict_ab":null,"verdict_ba":null}'),
    ('{"benchmark":"arena-hard-v2.0","bold":null,"calls":[],"category":"hard","empty":false,"error":null,"expe'
     'cted_score":null,"failure":null,"headers":null,"item_id":"u1","judge":"j","kind":"pairwise","length":nul'
     'l,"lists":null,"margin_ab":2,"margin_ba":1,"model":"m","opponent":"base","opponent_bold":null,"opponent_'
     'headers":null,"opponent_length":null,"opponent_lists":null,"opponent_tokens":null,"preference":1.5,"prot'
     'ocol":"arena-hard-v2.0","raw":["A>>B","A>B"],"scale":null,"score":null,"tokens":null,"turn":1,"verdict_a'
     'b":"win","verdict_ba":"loss"}'),
    ('{"benchmark":"mt-bench","bold":null,"calls":[],"category":"math","empty":false,"error":"no verdict in th'
     'e reply","expected_score":null,"failure":"parse","headers":null,"item_id":"q1","judge":"j","kind":"singl'
     'e","length":null,"lists":null,"margin_ab":null,"margin_ba":null,"model":"m","opponent":null,"opponent_bo'
     'ld":null,"opponent_headers":null,"opponent_length":null,"opponent_lists":null,"opponent_tokens":null,"pr'
     'eference":null,"protocol":"","raw":["no score"],"scale":[1,10],"score":null,"tokens":null,"turn":1,"verd'
     'ict_ab":null,"verdict_ba":null}'),
    ('{"benchmark":"arena","bold":1,"calls":[],"category":"chat","empty":false,"error":null,"expected_score":n'
     'ull,"failure":null,"headers":2,"item_id":"i1","judge":"human","kind":"battles","length":300,"lists":5,"m'
     'argin_ab":null,"margin_ba":null,"model":"a","opponent":"b","opponent_bold":0,"opponent_headers":0,"oppon'
     'ent_length":40,"opponent_lists":0,"opponent_tokens":12,"preference":1.0,"protocol":"","raw":["B"],"scale'
     '":null,"score":null,"tokens":80,"turn":1,"verdict_ab":"loss","verdict_ba":null}'),
    ('{"benchmark":"alpaca-eval","bold":null,"calls":[],"category":"alpaca","empty":false,"error":"BA: no verd'
     'ict","expected_score":null,"failure":"parse","headers":null,"item_id":"abc","judge":"j","kind":"pairwise'
     '","length":10,"lists":null,"margin_ab":null,"margin_ba":null,"model":"m","opponent":"gpt4","opponent_bol'
     'd":null,"opponent_headers":null,"opponent_length":20,"opponent_lists":null,"opponent_tokens":null,"prefe'
     'rence":null,"protocol":"","raw":["m","x"],"scale":null,"score":null,"tokens":null,"turn":1,"verdict_ab":'
     '"win","verdict_ba":null}'),
    ('{"benchmark":"mt-bench","bold":null,"calls":[],"category":"coding","empty":true,"error":null,"expected_s'
     'core":null,"failure":null,"headers":null,"item_id":"q2","judge":"j","kind":"single","length":0,"lists":n'
     'ull,"margin_ab":null,"margin_ba":null,"model":"m","opponent":null,"opponent_bold":null,"opponent_headers'
     '":null,"opponent_length":null,"opponent_lists":null,"opponent_tokens":null,"preference":null,"protocol":'
     '"","raw":[],"scale":[1,10],"score":1.0,"tokens":null,"turn":1,"verdict_ab":null,"verdict_ba":null}'),
)


@pytest.mark.parametrize("index", range(len(JUDGMENTS)))
def test_a_judgment_written_and_read_back_is_equal_and_its_line_is_the_flat_one(index: int) -> None:
    judgment, line = JUDGMENTS[index], WRITTEN_FLAT[index]
    assert store.dumps_line(store.judgment_record(judgment)) == line
    assert store.judgment_from_record(json.loads(line)) == judgment


def test_the_record_has_the_flat_keys_only() -> None:
    assert tuple(store.judgment_record(GRADED)) == store.JUDGMENT_FIELDS
    assert not {"id", "verdict", "answer", "opponent_answer"} & set(json.loads(WRITTEN_FLAT[0]))


def test_the_flat_names_read_the_nested_fields() -> None:
    assert (GRADED.benchmark, GRADED.protocol, GRADED.judge, GRADED.model, GRADED.item_id, GRADED.turn) == (
        "mt-bench", "mt-bench", "j#json", "m", "q81", 2)
    assert (GRADED.score, GRADED.expected_score, GRADED.verdict_ab, GRADED.preference) == (7.0, 6.75, None, None)
    assert GRADED.ok and GRADED.error is None and GRADED.failure_kind is None and GRADED.grade == Grade(7.0, 6.75)
    assert (PAIR.verdict_ab, PAIR.verdict_ba, PAIR.preference, PAIR.margin_ab, PAIR.margin_ba) == (
        "win", "loss", 1.5, 2, 1)
    assert PAIR.score is None and PAIR.opponent == "base" and PAIR.pair == PAIR.verdict
    assert not FAILED.ok and (FAILED.failure_kind, FAILED.error) == ("parse", "no verdict in the reply")
    assert (STYLED.length, STYLED.tokens, STYLED.headers, STYLED.lists, STYLED.bold) == (300, 80, 2, 5, 1)
    assert (STYLED.opponent_length, STYLED.opponent_tokens, STYLED.opponent_headers, STYLED.opponent_lists,
            STYLED.opponent_bold) == (40, 12, 0, 0, 0)
    assert HALF.verdict_ab == "win" and HALF.failure == Failure("parse", "BA: no verdict")
    with pytest.raises(FrozenInstanceError):
        GRADED.score = 8.0  # type: ignore[misc]


def test_the_frame_reads_the_nested_fields() -> None:
    frame = judgments_frame(JUDGMENTS)
    assert frame["score"].tolist()[0] == 7.0 and frame["failure"].tolist()[2] == "parse"
    assert frame["verdict_ab"].tolist()[1] == "win" and frame["margin_ab"].tolist()[1] == 2.0
    assert frame["scale_low"].tolist()[2] == 1.0 and frame["opponent_bold"].tolist()[3] == 0.0
    assert frame["error"].isna().tolist() == [True, True, False, True, False, True]


def test_an_old_record_with_a_message_but_no_cause_is_a_parse_failure() -> None:
    record = {**json.loads(WRITTEN_FLAT[2]), "failure": None}
    assert store.judgment_from_record(record).failure == Failure("parse", "no verdict in the reply")
    cause_only = {**json.loads(WRITTEN_FLAT[2]), "error": None, "failure": "pending"}
    read = store.judgment_from_record(cause_only)
    assert read.failure == Failure("pending", "") and read.error is None
    assert store.dumps_line(store.judgment_record(read)) == store.dumps_line(cause_only)


def test_a_record_with_a_grade_and_a_pair_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="a score or a pair verdict"):
        store.judgment_from_record({**json.loads(WRITTEN_FLAT[0]), "verdict_ab": "win"})


def test_replace_takes_the_nested_fields() -> None:
    moved = replace(GRADED, id=replace(GRADED.id, benchmark="other"))
    assert moved.benchmark == "other" and moved.score == GRADED.score
