"""Five-level verdicts (Arena-Hard's A>>B .. B>>A): parsing from text and JSON, margins, and the labels a task gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgebench.errors import TaskError
from judgebench.judging.verdicts import (
    label_meanings,
    pair_schema,
    parse_pair,
    parse_pair_json,
    parse_pair_text,
)
from judgebench.tasks import load_task

FIVE = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


@pytest.mark.parametrize(("label", "winner", "margin"), [
    ("A>>B", "A", 2), ("A>B", "A", 1), ("A=B", "tie", None), ("B>A", "B", 1), ("B>>A", "B", 2)])
def test_each_label_parses_with_its_margin(label: str, winner: str, margin: int | None) -> None:
    for verdict in (parse_pair_text(f"Reasons.\n[[{label}]]", FIVE),
                    parse_pair_json(json.dumps({"verdict": label, "explanation": "x"}), FIVE),
                    parse_pair(f"so [[{label}]] it is", FIVE)):
        assert verdict.ok and verdict.winner == winner and verdict.margin == margin


def test_five_level_failures_are_explicit() -> None:
    assert parse_pair_text("[[A>>B]] at first, then [[B>A]]", FIVE).error
    assert not parse_pair_text("I think A>>B", FIVE).ok
    assert "not one of" in str(parse_pair_json('{"verdict": "A>>>B", "explanation": ""}', FIVE).error)
    # A quoted verdict inside a longer one is not a verdict: "[[A>B]]" is not read out of "[[A>>B]]" or vice versa.
    assert parse_pair_text("[[A>>B]]", FIVE).margin == 2 and parse_pair_text("[[A>B]]", FIVE).margin == 1
    # The truncated JSON prefix rule holds for five levels too.
    assert parse_pair_json('{"verdict": "B>>A", "explanation": "cut he', FIVE, truncated=True).margin == 2


def test_three_levels_are_unchanged() -> None:
    verdict = parse_pair_text("[[B]]", ("A", "B", "C"))
    assert verdict.winner == "B" and verdict.margin is None
    assert label_meanings(("A", "B", "C"))["C"] == ("tie", None)
    assert pair_schema(FIVE)["properties"]["verdict"]["enum"] == list(FIVE)
    with pytest.raises(ValueError):
        label_meanings(("A", "B"))


def _task(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text("name: t\n" + body + "items:\n  - {id: q1, turns: [hi]}\n")
    return path


@pytest.mark.parametrize(("body", "message"), [
    ("kind: battles\njudge:\n  prompt: battle.jinja\n  labels: [A, B, C, D]\n", r"t\.yaml:5: labels must be three"),
    ("kind: battles\njudge:\n  prompt: battle.jinja\n  labels: [A, A, B, C, D]\n", r"t\.yaml:5: labels must be"),
    ("kind: battles\njudge: {prompt: battle.jinja}\nbattles: {schedule: round-robin}\n",
     r"t\.yaml:4: schedule must be one of all-pairs, baseline, sampled"),
    ("kind: battles\njudge: {prompt: battle.jinja}\nbattles: {schedule: baseline}\n",
     r"t\.yaml:4: the baseline schedule needs 'baseline: MODEL_NAME'"),
    ("kind: battles\njudge: {prompt: battle.jinja}\nbattles: {schedule: sampled, budget: 0}\n",
     r"t\.yaml:4: budget must be a whole number above 0"),
    ("kind: battles\njudge: {prompt: battle.jinja}\nbattles: {schedule: all-pairs, cover: 2}\n",
     r"t\.yaml:4: cover is for 'schedule: sampled'"),
    ("kind: battles\njudge: {prompt: battle.jinja}\nbattles: {schedule: sampled, budgett: 3}\n",
     r"t\.yaml:4: unknown field 'budgett' in battles; did you mean 'budget'\?"),
    ("kind: pairwise\njudge: {prompt: pairwise.jinja}\nbattles: {schedule: sampled}\n",
     r"t\.yaml:4: a 'battles' block belongs to a task of kind 'battles'"),
])
def test_bad_labels_and_battles_blocks_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TaskError, match=message) as error:
        load_task(str(_task(tmp_path, body)))
    assert "\n" not in str(error.value)


def test_battles_block_is_read(tmp_path: Path) -> None:
    task = load_task(str(_task(tmp_path, "kind: battles\njudge:\n  prompt: battle.jinja\n  labels: [A>>B, A>B, A=B, "
                                         "B>A, B>>A]\nbattles: {schedule: sampled, budget: 12, cover: 2, seed: 5}\n")))
    assert task.judge.labels == FIVE and task.battles is not None
    assert (task.battles.schedule, task.battles.budget, task.battles.cover, task.battles.seed) == ("sampled", 12, 2, 5)
    default = load_task(str(_task(tmp_path, "kind: battles\njudge: {prompt: battle.jinja}\n")))
    assert default.battles is not None and default.battles.schedule == "all-pairs" and default.judge.labels == (
        "A", "B", "C")
