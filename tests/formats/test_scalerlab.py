"""JudgeBench's (ScalerLab's) pair and judge output files: read from ../shared/data, refused clearly when hostile."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from judgebench.errors import DataError
from judgebench.formats import detect_format, read_sources, scalerlab
from judgebench.formats.scalerlab import read_outputs, read_pairs

HAIKU = "claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz"
GRM = "gpt-pairs.reward_model.GRM-Gemma-2B-rewardmodel-ft.jsonl.gz"


@pytest.fixture(scope="module")
def judgebench_data(shared_data: Path) -> Path:
    return shared_data / "judgebench"


def test_the_pair_files_are_620_labelled_pairs(judgebench_data: Path) -> None:
    pairs = [p for f in sorted((judgebench_data / "pairs").iterdir()) for p in read_pairs(f)]
    assert len(pairs) == 620
    assert {p.label for p in pairs} == {"A>B", "B>A"}
    assert {p.response_model for p in pairs} == {"gpt-4o-2024-05-13", "claude-3-5-sonnet-20240620"}
    assert {scalerlab.source_group(p.source) for p in pairs} == {"Knowledge", "Reasoning", "Math", "Coding"}
    assert len({p.pair_id for p in pairs}) == 620


def test_the_second_order_is_read_in_the_pairs_own_terms(judgebench_data: Path) -> None:
    outputs = read_outputs(judgebench_data / "outputs" / HAIKU)
    assert (outputs.judge, outputs.orders, len(outputs.pairs)) == ("arena_hard:claude-3-haiku-20240307", 2, 270)
    data = gzip.decompress((judgebench_data / "outputs" / HAIKU).read_bytes())
    raw = [json.loads(line) for line in data.splitlines()]
    second = [j for j in outputs.judgments if j.position == "BA"]
    flip = {"A>B": "B>A", "B>A": "A>B"}
    # the file writes the second order as the judge saw it (response_B first); the reader turns it back
    assert [j.decision for j in second] == [flip.get(r["judgments"][1]["decision"], r["judgments"][1]["decision"])
                                            for r in raw]
    assert all(j.raw for j in outputs.judgments if j.decision is not None)


def test_a_reward_model_counts_one_order(judgebench_data: Path) -> None:
    outputs = read_outputs(judgebench_data / "outputs" / GRM)
    assert outputs.orders == 1 and len(outputs.judgments) == 350
    assert outputs.judge == "reward_model:Ray2333/GRM-Gemma-2B-rewardmodel-ft"


def test_output_files_are_a_registered_format_read_as_judgments(judgebench_data: Path) -> None:
    path = judgebench_data / "outputs" / HAIKU
    assert detect_format(path) == "scalerlab-judgebench"
    judgments = read_sources(path)[0].judgments
    assert len(judgments) == 270 and {j.kind for j in judgments} == {"pairwise"}
    assert {j.category for j in judgments} == {"Knowledge", "Reasoning", "Math", "Coding"}


def _write(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _pair(**extra: object) -> dict[str, object]:
    return {"pair_id": "p1", "original_id": 1, "source": "livebench-math", "question": "2+2?",
            "response_model": "m", "response_A": "4", "response_B": "5", "label": "A>B", **extra}


def _error(call: object, *args: object) -> str:
    with pytest.raises(DataError) as caught:
        call(*args)  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_judgments_as_python_literal_text_are_read_without_running_them(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.jsonl", [_pair(judge_name="vanilla", judgments=str(
        [{"judgment": {"judge_model": "j", "response": "A is right"}, "decision": "A>B"},
         {"judgment": {"judge_model": "j", "response": "tie"}, "decision": None}]))])
    outputs = read_outputs(good)
    assert [j.decision for j in outputs.judgments] == ["A>B", None]
    hostile = _write(tmp_path / "hostile.jsonl", [_pair(judgments="__import__('os').system('touch x')")])
    assert f"{hostile}:1: 'judgments' holds a Call, not a literal" in _error(read_outputs, hostile)
    assert not (tmp_path / "x").exists()


def test_a_malformed_literal_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", [_pair(judgments=[{"decision": "A>B"}]),
                                           _pair(pair_id="p2", judgments="[{'decision': 'A>B'}, {'decision': ")])
    assert _error(read_outputs, path).startswith(f"{path}:2: 'judgments' is not a Python literal list")


@pytest.mark.parametrize(("record", "says"), [
    ({k: v for k, v in _pair(judgments=[]).items() if k != "label"}, ":1: a JudgeBench pair needs label"),
    (_pair(label="A>>B", judgments=[{"decision": "A>B"}]), ":1: label must be 'A>B' or 'B>A'"),
    (_pair(judgments=[{"decision": "A>>B"}]), ":1: decision must be A>B, B>A, A=B or None"),
    (_pair(judgments=[{"judgment": {}}]), ":1: each entry of 'judgments' needs a 'decision'"),
    (_pair(judgments=[]), ":1: 'judgments' must be a non-empty list"),
    (_pair(), ":1: no 'judgments': a JudgeBench pair file"),
    ([1, 2], ":1: expected a JSON object per line"),
])
def test_a_bad_record_is_one_line_naming_it(tmp_path: Path, record: object, says: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [record])
    assert f"{path}{says}" in _error(read_outputs, path)


def test_a_deeply_nested_literal_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "deep.jsonl", [_pair(judgments="[" * 100_000 + "]" * 100_000)])
    assert f"{path}:1: 'judgments' is not a Python literal list" in _error(read_outputs, path)


def test_a_huge_line_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps(_pair(judgments=[{"decision": "A>B"}])) + "\n"
                    + '{"question": "' + "x" * (scalerlab.MAX_LINE + 1) + '"}\n', encoding="utf-8")
    assert f"{path}:2: a line of" in _error(read_outputs, path)


def test_a_pair_judged_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "twice.jsonl", [_pair(judgments=[{"decision": "A>B"}])] * 2)
    assert f"{path}:2: pair 'p1' again (first at line 1)" in _error(read_outputs, path)


def test_two_judges_in_one_file_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "mixed.jsonl", [
        _pair(judge_name="a", judgments=[{"judgment": {"judge_model": "x"}, "decision": "A>B"}]),
        _pair(pair_id="p2", judge_name="b", judgments=[{"judgment": {"judge_model": "x"}, "decision": "A>B"}])])
    assert "split the file by judge" in _error(read_outputs, path)


def test_invalid_json_and_an_empty_file_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"pair_id": \n', encoding="utf-8")
    assert f"{broken}:1: not valid JSON" in _error(read_outputs, broken)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert f"{empty}: no judgments" in _error(read_outputs, empty)
    assert f"{empty}: no JudgeBench pairs" in _error(read_pairs, empty)


def test_a_literal_that_is_code_or_too_long_is_refused_without_running_or_building_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = _write(tmp_path / "code.jsonl", [_pair(judgments=f"__import__('pathlib').Path({str(marker)!r}).touch()")])
    message = _error(read_outputs, code)
    assert f"{code}:1: 'judgments' holds a Call, not a literal" in message and "0x" not in message
    assert not marker.exists()
    long = _write(tmp_path / "long.jsonl", [_pair(judgments="[" + "0," * scalerlab.MAX_LITERAL + "]")])
    assert f"{long}:1: 'judgments' is {2 * scalerlab.MAX_LITERAL + 2:,} characters" in _error(read_outputs, long)


def test_a_decompression_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    """70 MiB of newlines gzip to about 70 KB: past both the floor (64 MiB) and 200 times the stored size."""
    from judgebench.formats import common

    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b"\n" * (70 * 2**20), compresslevel=9))
    assert "inflates past" in _error(read_outputs, bomb) and str(bomb) in _error(read_outputs, bomb)
    # A real file well under the bounds reads as before.
    small = tmp_path / "fine.jsonl.gz"
    small.write_bytes(gzip.compress(json.dumps(_pair(judgments=[{"decision": "A>B"}])).encode() + b"\n"))
    assert common.content(small, small.read_bytes()).startswith(b"{")
