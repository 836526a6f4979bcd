"""JudgeBench's (ScalerLab's) pair files as a pairwise task: each pair's question an item, response_A the reference
answer, response_B the candidate's answer (the pair file given as answers), judged in both orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgebench.formats import detect_answers_format, read_answers
from judgebench.formats.scalerlab import read_pairs
from judgebench.tasks.loader import load_task

TASK = """name: judgebench-pairs
benchmark: scalerlab-judgebench
kind: pairwise
judge:
  prompt: pairwise.jinja
  labels: [A, B, C]
source:
  format: scalerlab_judgebench
  path: {path}
{categories}reference:
  source:
    format: scalerlab_judgebench
    path: {path}
"""


@pytest.fixture(scope="module")
def pairs_file(shared_data: Path) -> Path:
    return shared_data / "judgebench" / "pairs" / "gpt-4o-2024-05-13.jsonl.gz"


def _task(tmp_path: Path, path: Path, categories: str = "") -> Path:
    task = tmp_path / "judgebench-pairs.yaml"
    task.write_text(TASK.format(path=path, categories=categories), encoding="utf-8")
    return task


def test_a_pair_file_is_a_pairwise_task_with_response_a_as_the_reference(tmp_path: Path, pairs_file: Path) -> None:
    task = load_task(str(_task(tmp_path, pairs_file)))
    pairs = {p.pair_id: p for p in read_pairs(pairs_file)}
    assert task.kind == "pairwise" and len(task.items) == 350
    assert task.reference_model == "gpt-4o-2024-05-13/A"
    assert {i.category for i in task.items} == {"Knowledge", "Reasoning", "Math", "Coding"}
    first = task.items[0]
    assert first.turns == (pairs[first.id].question,)
    assert task.reference_for(first.id) == (pairs[first.id].response_a,)
    assert detect_answers_format(pairs_file) == "scalerlab-judgebench"
    candidates = read_answers(pairs_file, task, list(task.items))
    assert {c.model for c in candidates} == {"gpt-4o-2024-05-13/B"}
    assert all(c.turns == (pairs[c.item_id].response_b,) for c in candidates)


def test_its_categories_are_the_source_groups(tmp_path: Path, pairs_file: Path) -> None:
    task = load_task(str(_task(tmp_path, pairs_file, "  categories: [Math]\n")))
    assert len(task.items) == 56 and {i.category for i in task.items} == {"Math"}
    assert len(task.reference_answers) == 56
