"""HealthBench- and WildBench-style files as rubric task sources: written here in the published layouts (no such
file is in ../shared/data), read by path, by URL from a data mirror with their sha256, gzip or not; every bad line
is a one-line file:line error, an oversized line is refused without reading it whole."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import DataError, TaskError
from judgebench.formats.conversations import MAX_LINE, stream_jsonl
from judgebench.judging.kinds import kind_of
from judgebench.judging.requests import generation_request
from judgebench.tasks import load_task
from judgebench.tasks.fetch import using_data_dirs
from judgebench.types import Candidate, Endpoint, Judge


def healthbench_example(prompt_id: str, *, conversation: list[dict[str, str]] | None = None,
                        rubrics: list[Any] | None = None, theme: str = "emergency_referrals") -> dict[str, Any]:
    """One line of HealthBench's published JSONL (the fields simple-evals' healthbench_eval.py reads, and one it
    does not)."""
    return {
        "prompt": conversation or [{"role": "user", "content": f"Question {prompt_id}: I have chest pain."}],
        "rubrics": rubrics if rubrics is not None else [
            {"criterion": "Advises calling emergency services right away", "points": 10,
             "tags": ["level:example", "axis:completeness"]},
            {"criterion": "Explains which symptoms are warning signs", "points": 5, "tags": ["axis:accuracy"]},
            {"criterion": "Recommends a specific prescription drug dose", "points": -7, "tags": ["axis:accuracy"]},
        ],
        "prompt_id": prompt_id,
        "example_tags": [f"theme:{theme}", "physician_agreed_category:emergent"],
        "ideal_completions_data": None,
    }


def wildbench_task(session_id: str, *, conversation: list[dict[str, str]] | None = None,
                   checklist: list[Any] | None = None, tag: str = "Coding & Debugging") -> dict[str, Any]:
    """One line of WildBench's published task file (its fields, and some the reader leaves alone)."""
    return {
        "session_id": session_id,
        "conversation_input": conversation or [{"role": "user", "content": f"Task {session_id}: sort a list",
                                                "language": "English", "toxic": False}],
        "checklist": checklist if checklist is not None else [
            "Does the answer give working code?", "Does it explain the time complexity?"],
        "primary_tag": tag,
        "secondary_tags": ["Reasoning"],
        "references": {"gpt-4": "..."},
    }


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_task(folder: Path, source: str, *, style: str = "points", kind: str = "rubric", extra: str = "") -> Path:
    style_line = f"  style: {style}\n" if kind == "rubric" else ""
    path = folder / "task.yaml"
    path.write_text(f"name: t\nkind: {kind}\njudge:\n  prompt: {'rubric' if kind == 'rubric' else 'single'}.jinja\n"
                    f"{style_line}{extra}source:\n{source}")
    return path


def test_healthbench_lines_become_items_with_their_criteria(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "hb.jsonl", [healthbench_example("p1"),
                                        healthbench_example("p2", theme="context_seeking"),
                                        healthbench_example("p3", rubrics=[{"criterion": "Asks how old", "points": 3,
                                                                            "tags": []}])])
    task = load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n")))
    assert [(i.id, i.category) for i in task.items] == [("p1", "emergency_referrals"), ("p2", "context_seeking"),
                                                        ("p3", "emergency_referrals")]
    first = task.items[0]
    assert first.turns == ("Question p1: I have chest pain.",)
    assert [(c.id, c.points, c.tags) for c in first.criteria] == [
        ("c1", 10.0, ("level:example", "axis:completeness")), ("c2", 5.0, ("axis:accuracy",)),
        ("c3", -7.0, ("axis:accuracy",))]
    assert first.criteria[2].text == "Recommends a specific prescription drug dose"
    assert first.source.endswith("hb.jsonl:1") and task.items[2].source.endswith("hb.jsonl:3")


def test_a_task_level_rubric_comes_first_and_categories_filter(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "hb.jsonl", [healthbench_example("p1"), healthbench_example("p2", theme="hedging")])
    task = load_task(str(write_task(
        tmp_path, "  format: healthbench\n  path: hb.jsonl\n  categories: [hedging]\n",
        extra="rubric:\n  - {id: plain, text: Uses plain language, points: 1, tags: [communication]}\n")))
    assert [i.id for i in task.items] == ["p2"]
    assert [(c.id, c.scope) for c in task.items[0].criteria][:2] == [("plain", "task"), ("c2", "item")]


def test_wildbench_checklists_are_one_point_each(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "wb.jsonl", [wildbench_task("s1"), wildbench_task("s2", tag="Creative Writing")])
    task = load_task(str(write_task(tmp_path, "  format: wildbench\n  path: wb.jsonl\n", style="checklist")))
    assert [(i.id, i.category, len(i.criteria)) for i in task.items] == [("s1", "Coding & Debugging", 2),
                                                                         ("s2", "Creative Writing", 2)]
    assert {c.points for i in task.items for c in i.criteria} == {1.0}
    assert task.items[0].criteria[1].text == "Does it explain the time complexity?"


def test_read_by_url_from_a_data_mirror_checked_by_sha256(tmp_path: Path) -> None:
    payload = "".join(json.dumps(healthbench_example(f"p{n}")) + "\n" for n in range(3)).encode()
    url = "https://openaipublic.blob.core.windows.net/simple-evals/healthbench/test_file.jsonl"
    mirror = tmp_path / "mirror"
    copy = mirror / "openaipublic.blob.core.windows.net" / "simple-evals" / "healthbench" / "test_file.jsonl.gz"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(gzip.compress(payload))
    sha = hashlib.sha256(payload).hexdigest()
    task_path = write_task(tmp_path, f"  format: healthbench\n  url: {url}\n  sha256: \"{sha}\"\n")
    with using_data_dirs([mirror]):
        assert [i.id for i in load_task(str(task_path)).items] == ["p0", "p1", "p2"]
        wrong = write_task(tmp_path, f"  format: healthbench\n  url: {url}\n  sha256: \"{'0' * 64}\"\n")
        with pytest.raises(TaskError, match="does not match sha256"):
            load_task(str(wrong))


def test_a_gzip_copy_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "wb.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(wildbench_task("s1")) + "\n\n").encode()))
    task = load_task(str(write_task(tmp_path, "  format: wildbench\n  path: wb.jsonl.gz\n", style="checklist")))
    assert [i.id for i in task.items] == ["s1"]


EARLIER = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello, how can I help?"},
           {"role": "user", "content": "My child has a fever."}]


def test_earlier_turns_are_the_items_context_or_refused_or_skipped(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "hb.jsonl", [healthbench_example("p1"), healthbench_example("p2", conversation=EARLIER)])
    task = load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n")))
    one, two = task.items
    assert one.context == () and one.turns == ("Question p1: I have chest pain.",)
    assert two.context == (("user", "Hi"), ("assistant", "Hello, how can I help?"))
    assert two.turns == ("My child has a fever.",)
    with pytest.raises(TaskError, match=r"hb\.jsonl:2: the conversation has 2 earlier message\(s\) \(user, "
                                        r"assistant\) and the task's source says prior_turns: refuse"):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n  prior_turns: refuse\n")))
    task = load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n  prior_turns: skip\n")))
    assert [i.id for i in task.items] == ["p1"]
    with pytest.raises(TaskError, match=r"task\.yaml:\d+: prior_turns must be one of keep, refuse, skip"):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n  prior_turns: all\n")))


def test_the_model_and_the_judge_see_the_conversation_before_the_question(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "wb.jsonl", [wildbench_task("s1", conversation=EARLIER)])
    task = load_task(str(write_task(tmp_path, "  format: wildbench\n  path: wb.jsonl\n", style="checklist")))
    (item,) = task.items
    endpoint = Endpoint(provider="openai", name="m", model="m", base_url="http://unused/v1")
    assert generation_request(task, item, endpoint, ()).messages == (
        ("user", "Hi"), ("assistant", "Hello, how can I help?"), ("user", "My child has a fever."))
    candidate = Candidate(task.benchmark, item.id, "m", ("Rest and fluids.",))
    (request,) = kind_of("rubric").requests(task, candidate, item, Judge("j", endpoint))
    prompt = request.chat.messages[-1][1]
    before, after = prompt.index("Hello, how can I help?"), prompt.index("My child has a fever.")
    assert prompt.index("Hi") < before < after < prompt.index("Rest and fluids.")
    assert "Conversation Before the User Question" in prompt


def test_the_source_must_suit_the_task(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "hb.jsonl", [healthbench_example("p1")])
    with pytest.raises(TaskError, match=r"task\.yaml:\d+: format 'healthbench' gives each item its criteria: use it "
                                        "in a task of kind: rubric"):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n", kind="single")))
    with pytest.raises(TaskError, match=r"hb\.jsonl:1: a criterion worth 10 points in a checklist"):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n", style="checklist")))
    with pytest.raises(TaskError, match="not a score rubric's levels"):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n", style="score")))


BAD_LINES = [
    ({"rubrics": [], "prompt_id": "x", "prompt": [{"role": "user", "content": "q"}]}, "'rubrics' must be a non-empty"),
    (healthbench_example("x", rubrics=[{"criterion": "Says hi", "points": "5"}]),
     "rubric 1.s points must be a finite nonzero"),
    (healthbench_example("x", rubrics=[{"criterion": "Says hi", "points": True}]),
     "points must be a finite nonzero number"),
    (healthbench_example("x", rubrics=[{"criterion": "Says hi", "points": 0}]),
     "points must be a finite nonzero number"),
    (healthbench_example("x", rubrics=[{"criterion": "Says hi", "points": float("nan")}]), "not 'nan'"),
    (healthbench_example("x", rubrics=[{"criterion": "Says hi"}]), "rubric 1 has no 'points' field"),
    (healthbench_example("x", rubrics=[{"points": 2}]), "rubric 1 has no 'criterion' field"),
    (healthbench_example("x", rubrics=[{"criterion": "  ", "points": 2}]), "rubric 1 needs its text"),
    (healthbench_example("x", rubrics=[{"criterion": "a", "points": 2, "tags": "x"}]), "tags must be a list"),
    (healthbench_example("x", rubrics=["Says hi"]), "rubric 1 must be an object"),
    (healthbench_example("x", rubrics=[{"criterion": "Warns", "points": -3}]), "no criterion with positive points"),
    ({k: v for k, v in healthbench_example("x").items() if k != "prompt_id"}, "has no 'prompt_id' field"),
    ({k: v for k, v in healthbench_example("x").items() if k != "prompt"}, "has no 'prompt' field"),
    (healthbench_example("x", conversation=[{"role": "user", "content": 5}]), "message 1 of 'prompt' must be"),
    (healthbench_example("x", conversation=[{"role": "bot", "content": "q"}]), "message 1 of 'prompt' must be"),
    (healthbench_example("x", conversation=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]),
     "ends with an assistant message"),
    ([1, 2], "expected a JSON object per line"),
]


@pytest.mark.parametrize(("row", "message"), BAD_LINES)
def test_a_bad_healthbench_line_is_one_error_at_its_line(tmp_path: Path, row: Any, message: str) -> None:
    write_jsonl(tmp_path / "hb.jsonl", [healthbench_example("ok"), row])
    with pytest.raises(TaskError, match=r"hb\.jsonl:2: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n")))


@pytest.mark.parametrize(("row", "message"), [
    (wildbench_task("x", checklist=[]), "'checklist' must be a non-empty list"),
    (wildbench_task("x", checklist=["ok", 7]), "checklist question 2 needs its text"),
    (wildbench_task("x", checklist=["x" * 5000]), "checklist question 1's text is 5,000 characters"),
    (wildbench_task("x", tag=""), "primary_tag must be a name"),
    ({k: v for k, v in wildbench_task("x").items() if k != "session_id"}, "has no 'session_id' field"),
])
def test_a_bad_wildbench_line_is_one_error_at_its_line(tmp_path: Path, row: Any, message: str) -> None:
    write_jsonl(tmp_path / "wb.jsonl", [wildbench_task("ok"), row])
    with pytest.raises(TaskError, match=r"wb\.jsonl:2: .*" + message):
        load_task(str(write_task(tmp_path, "  format: wildbench\n  path: wb.jsonl\n", style="checklist")))


def test_text_that_is_not_json_lines(tmp_path: Path) -> None:
    (tmp_path / "hb.jsonl").write_bytes(json.dumps(healthbench_example("ok")).encode() + b"\n{not json\n")
    task = write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n")
    with pytest.raises(TaskError, match=r"hb\.jsonl:2: not valid JSON"):
        load_task(str(task))
    (tmp_path / "hb.jsonl").write_bytes(b'{"prompt_id": "caf\xe9"}\n')
    with pytest.raises(TaskError, match=r"hb\.jsonl:1: not UTF-8 text \(byte 0xe9\)"):
        load_task(str(task))


def test_an_oversized_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "hb.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps(healthbench_example("ok")) + "\n")
        fh.write('{"prompt_id": "' + "x" * (MAX_LINE + 10) + '"}\n')
    with pytest.raises(TaskError, match=rf"hb\.jsonl:2: a line longer than {MAX_LINE:,} bytes"):
        load_task(str(write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n")))
    # The first line fits a limit of its own length (and its newline); the second is refused at that limit.
    first = len(path.read_bytes().split(b"\n", 1)[0]) + 1
    rows = stream_jsonl(path, what="a test line", max_line=first)
    assert next(rows)[0] == 1
    with pytest.raises(DataError, match=rf":2: a line longer than {first:,} bytes: not a test line"):
        next(rows)


def test_validate_and_the_cli_report_one_line(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "hb.jsonl", [healthbench_example("ok"),
                                        healthbench_example("x", rubrics=[{"criterion": "a", "points": "lots"}])])
    task = write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n")
    result = CliRunner().invoke(main, ["validate", str(task)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "hb.jsonl:2: rubric 1's points must be a finite nonzero number" in result.output


def test_wildbench_as_published_on_the_hub_parquet(tmp_path: Path) -> None:
    """WildBench's own release is Parquet (its conversation turns carry more fields than role and content)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [wildbench_task(f"s{n}") for n in range(300)] + [wildbench_task("multi", conversation=EARLIER)]
    for row in rows:
        row.pop("references")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test-00000-of-00001.parquet", row_group_size=100)
    task = load_task(str(write_task(tmp_path, "  format: wildbench\n  path: test-00000-of-00001.parquet\n",
                                    style="checklist")))
    assert len(task.items) == 301 and task.items[0].criteria[0].text == "Does the answer give working code?"
    assert task.items[-1].context[1] == ("assistant", "Hello, how can I help?")
    rows[7]["checklist"] = []
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "bad.parquet")
    with pytest.raises(TaskError, match=r"bad\.parquet\[7\]: 'checklist' must be a non-empty list"):
        load_task(str(write_task(tmp_path, "  format: wildbench\n  path: bad.parquet\n", style="checklist")))
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(TaskError, match=r"fake\.parquet: cannot read it as Parquet .*expected rows of a WildBench"):
        load_task(str(write_task(tmp_path, "  format: wildbench\n  path: fake.parquet\n", style="checklist")))


def test_validate_lints_the_criteria_read_from_a_source_file(tmp_path: Path) -> None:
    """`validate` lints a HealthBench or WildBench file's criteria as it lints the YAML's: a wording against its
    sign and a duplicate within an item (also of a task-level criterion), each one line at the record's line."""
    write_jsonl(tmp_path / "hb.jsonl", [
        healthbench_example("clean"),
        healthbench_example("bad", rubrics=[
            {"criterion": "Does not recommend a drug dose", "points": -5, "tags": []},
            {"criterion": "Fails to mention emergency services", "points": 4, "tags": []},
            {"criterion": "Explains the warning signs.", "points": 2, "tags": []},
            {"criterion": "explains the  warning signs", "points": 1, "tags": []},
            {"criterion": "Uses plain language", "points": 1, "tags": []}])])
    task = write_task(tmp_path, "  format: healthbench\n  path: hb.jsonl\n",
                      extra="rubric:\n  - {id: plain, text: Uses plain language, points: 1}\n")
    result = CliRunner().invoke(main, ["validate", str(task)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lints = [line for line in result.output.splitlines() if line.startswith("lint ")]
    assert len(lints) == 4, result.output
    assert all("hb.jsonl:2: item 'bad'" in line for line in lints)
    # The task's criterion is c1 of every item: the file's are numbered after it.
    assert "criterion c2: negative points on a requirement worded as a negation" in lints[0]
    assert "criterion c3: positive points on a statement of a fault" in lints[1]
    assert "criterion c5: duplicate criterion: the same text as criterion c4" in lints[2]
    assert "criterion c6: duplicate criterion: the same text as criterion plain" in lints[3]
    assert "ok    " in result.output  # the task loads: the lint's lines are the only problems

    wildbench = tmp_path / "wb"
    wildbench.mkdir()
    write_jsonl(wildbench / "wb.jsonl", [wildbench_task("s1", checklist=["Does the answer omit the imports?",
                                                                         "Does it explain the time complexity?"])])
    checklist_task = write_task(wildbench, "  format: wildbench\n  path: wb.jsonl\n", style="checklist")
    checklist = CliRunner().invoke(main, ["validate", str(checklist_task)])
    assert checklist.exit_code == 1, checklist.output
    (lint,) = [line for line in checklist.output.splitlines() if line.startswith("lint ")]
    assert "wb.jsonl:1: item 's1', criterion c1: positive points on a statement of a fault" in lint

    clean = tmp_path / "clean"
    clean.mkdir()
    write_jsonl(clean / "hb.jsonl", [healthbench_example("p1")])
    ok = CliRunner().invoke(main, ["validate", str(write_task(clean, "  format: healthbench\n  path: hb.jsonl\n"))])
    assert ok.exit_code == 0 and "lint  " not in ok.output, ok.output
