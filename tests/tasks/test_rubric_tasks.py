"""Rubric task files (kind: rubric): criteria task-wide and per item, the three styles, and the one-line
file:line errors and lint messages a user gets for bad ones."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import TaskError
from judgebench.tasks import load_task
from judgebench.tasks.rubric_lint import lint_task_file, wording_problem


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


GOOD = """
name: r
kind: rubric
judge:
  prompt: rubric.jinja
  mode: per_criterion
rubric:
  - {id: cites, text: "Cites a source", points: 2, tags: [accuracy]}
items:
  - id: q1
    category: health
    turns: ["My chest hurts."]
    rubric:
      - {text: "Recommends seeing a doctor", points: 5, tags: [safety]}
      - {text: "Recommends a specific prescription drug dose", points: -4, tags: [safety, accuracy]}
  - id: q2
    category: cooking
    turns: ["How long do I boil an egg?"]
"""


def test_a_rubric_task_gives_each_item_the_tasks_criteria_then_its_own(tmp_path: Path) -> None:
    task = load_task(str(write(tmp_path / "r.yaml", GOOD)))
    assert task.rubric is not None and (task.rubric.mode, task.rubric.style) == ("per_criterion", "points")
    q1, q2 = task.items
    assert [(c.id, c.points, c.scope, c.tags) for c in q1.criteria] == [
        ("cites", 2.0, "task", ("accuracy",)), ("c2", 5.0, "item", ("safety",)),
        ("c3", -4.0, "item", ("safety", "accuracy"))]
    assert [c.id for c in q2.criteria] == ["cites"]
    # Each criterion knows its line, for the lint and for error messages.
    assert q1.criteria[1].source.endswith("r.yaml:13")


def test_a_checklist_takes_plain_questions_worth_a_point_each(tmp_path: Path) -> None:
    task = load_task(str(write(tmp_path / "c.yaml", """
        name: c
        kind: rubric
        judge: {prompt: rubric.jinja, style: checklist}
        items:
          - id: a
            turns: ["Write an email."]
            rubric: ["Does it greet the reader?", {text: "Is it short?", tags: [style]}]
        """)))
    assert [(c.id, c.text, c.points) for c in task.items[0].criteria] == [
        ("c1", "Does it greet the reader?", 1.0), ("c2", "Is it short?", 1.0)]


def test_a_score_rubric_keeps_its_levels(tmp_path: Path) -> None:
    task = load_task(str(write(tmp_path / "s.yaml", """
        name: s
        kind: rubric
        judge: {prompt: rubric.jinja, style: score}
        items:
          - id: a
            turns: ["Explain rain."]
            rubric:
              - {id: clarity, text: "How clear is it?", levels: [Confusing, Unclear, Fair, Clear, Very clear]}
        """)))
    (criterion,) = task.items[0].criteria
    assert criterion.id == "clarity" and len(criterion.levels) == 5 and criterion.levels[0] == "Confusing"


def test_the_builtin_samples_load() -> None:
    rubric, checklist = load_task("sample-rubric"), load_task("sample-checklist")
    assert len(rubric.items) >= 6 and len({i.category for i in rubric.items}) >= 3
    assert any(c.points < 0 for i in rubric.items for c in i.criteria)
    assert all(c.tags for i in rubric.items for c in i.criteria)
    assert checklist.rubric is not None and checklist.rubric.style == "checklist"
    assert lint_task_file(Path(rubric.path)) == [] and lint_task_file(Path(checklist.path)) == []


BAD = [
    # (what replaces the q1 criteria block, the line the error names, words the message holds)
    ('      - {text: "Recommends a doctor"}\n', 13, "no points"),
    ('      - {text: "Recommends a doctor", points: 0}\n', 13, "nonzero"),
    ('      - {text: "Recommends a doctor", points: yes}\n', 13, "nonzero"),
    ('      - {text: "", points: 2}\n', 13, "needs its text"),
    ('      - {text: "A", points: 2, weight: 3}\n', 13, "unknown field 'weight'"),
    ('      - {id: cites, text: "A", points: 2}\n', 13, "duplicates"),
    ('      - {text: "A", points: 2, levels: [a, b]}\n', 13, "levels belong to a score rubric"),
    ('      - {text: "A", points: 2, tags: 3}\n', 13, "tags must be"),
    ('      - {id: "bad id!", text: "A", points: 2}\n', 13, "id must be"),
]


@pytest.mark.parametrize(("criteria", "line", "words"), BAD)
def test_a_bad_criterion_is_refused_at_its_line(tmp_path: Path, criteria: str, line: int, words: str) -> None:
    text = textwrap.dedent(GOOD).lstrip()
    start = text.index('      - {text: "Recommends seeing')
    end = text.index("  - id: q2")
    path = tmp_path / "r.yaml"
    path.write_text(text[:start] + criteria + text[end:])
    with pytest.raises(TaskError, match=re.escape(f"r.yaml:{line}: ") + ".*" + re.escape(words)):
        load_task(str(path))


def test_an_item_without_criteria_or_positive_points_is_refused(tmp_path: Path) -> None:
    none = write(tmp_path / "n.yaml", """
        name: n
        kind: rubric
        judge: {prompt: rubric.jinja}
        items:
          - {id: a, turns: ["x"]}
        """)
    with pytest.raises(TaskError, match=r"n\.yaml:5: item 'a' has no criteria"):
        load_task(str(none))
    negative = write(tmp_path / "p.yaml", """
        name: p
        kind: rubric
        judge: {prompt: rubric.jinja}
        items:
          - id: a
            turns: ["x"]
            rubric: [{text: "Is rude", points: -2}]
        """)
    with pytest.raises(TaskError, match=r"p\.yaml:5: item 'a' has no criterion with positive points"):
        load_task(str(negative))


@pytest.mark.parametrize(("judge", "words"), [
    ("{prompt: rubric.jinja, mode: sometimes}", "judge.mode must be one of per_criterion, all_at_once"),
    ("{prompt: rubric.jinja, style: essay}", "judge.style must be one of points, checklist, score"),
])
def test_bad_rubric_settings_are_refused(tmp_path: Path, judge: str, words: str) -> None:
    path = write(tmp_path / "m.yaml", f"""
        name: m
        kind: rubric
        judge: {judge}
        items:
          - {{id: a, turns: ["x"], rubric: [{{text: "Is kind", points: 1}}]}}
        """)
    with pytest.raises(TaskError, match=r"m\.yaml:3: " + re.escape(words)):
        load_task(str(path))


def test_a_score_rubric_needs_one_criterion_with_levels(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", """
        name: s
        kind: rubric
        judge: {prompt: rubric.jinja, style: score}
        items:
          - id: a
            turns: ["x"]
            rubric: [{text: "Clear?", levels: [only one]}]
        """)
    with pytest.raises(TaskError, match=r"s\.yaml:7: a score rubric's criterion needs levels"):
        load_task(str(path))


def test_criteria_in_a_task_of_another_kind_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", """
        name: x
        kind: single
        judge: {prompt: single.jinja}
        items:
          - {id: a, turns: ["x"], rubric: [{text: "Is kind", points: 1}]}
        """)
    with pytest.raises(TaskError, match=r"x\.yaml:5: an item's rubric belongs to a task of kind 'rubric'"):
        load_task(str(path))
    write(path, """
        name: x
        kind: single
        judge: {prompt: single.jinja, mode: per_criterion}
        items:
          - {id: a, turns: ["x"]}
        """)
    with pytest.raises(TaskError, match=r"x\.yaml:3: 'mode' belongs to a task of kind 'rubric', not 'single'"):
        load_task(str(path))


LINTED = """
name: l
kind: rubric
judge: {prompt: rubric.jinja}
rubric:
  - {text: "Answers the question", points: 2}
items:
  - id: q1
    turns: ["x"]
    rubric:
      - {text: "Does not recommend a drug dose", points: -4}
      - {text: "answers  the question.", points: 1}
      - {text: "Fails to mention a doctor", points: 2}
      - {text: "Is polite"}
      - {text: "Is short", points: 0}
      - {text: "Recommends a drug dose", points: -4}
  - id: q2
    turns: ["y"]
"""


def test_the_lint_reports_every_problem_of_a_rubric_file_one_line_each(tmp_path: Path) -> None:
    path = write(tmp_path / "l.yaml", LINTED)
    found = lint_task_file(path)
    assert [m.split(": ", 1)[0] for m in found] == [f"{path}:{n}" for n in (10, 11, 12, 13, 14)]
    assert "worded as a negation" in found[0]
    assert f"duplicate criterion: the same text as the one at {path}:5" in found[1]
    assert "statement of a fault" in found[2] and "no points" in found[3] and "zero" in found[4]
    assert all("\n" not in m for m in found)


def test_an_item_without_criteria_is_linted(tmp_path: Path) -> None:
    path = write(tmp_path / "e.yaml", """
        name: e
        kind: rubric
        judge: {prompt: rubric.jinja}
        items:
          - {id: a, turns: ["x"], rubric: [{text: "Is kind", points: 1}]}
          - {id: b, turns: ["y"]}
        """)
    assert lint_task_file(path) == [f"{path}:6: item 'b' has no criteria; give it a rubric: list (or the task one "
                                    "that applies to every item)"]


@pytest.mark.parametrize(("text", "points", "flagged"), [
    ("Does not recommend a dose", -3, True),
    ("Does the answer avoid jargon?", -1, True),  # a question is read after its "Does the answer"
    ("Avoids jargon", -1, True),
    ("Never mentions a doctor", -2, True),
    ("Recommends a prescription dose", -4, False),
    ("Fails to cite a source", 2, True),
    ("Does it contain errors?", 1, True),
    ("Omits the dosage warning", 1, True),
    ("Cites a source", 2, False),
    ("Fails to cite a source", -2, False),
])
def test_the_wording_heuristic(text: str, points: float, flagged: bool) -> None:
    assert (wording_problem(text, points) is not None) is flagged


def test_validate_prints_the_lint_and_fails(tmp_path: Path) -> None:
    path = write(tmp_path / "l.yaml", LINTED)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    lints = [line for line in result.output.splitlines() if line.startswith("lint  ")]
    assert len(lints) == 5 and lints[0].startswith(f"lint  {path}:10: ")
    assert "Traceback" not in result.output
    ok = CliRunner().invoke(main, ["validate", "sample-rubric", "sample-checklist"])
    assert ok.exit_code == 0 and ok.output.count("ok    ") == 2
