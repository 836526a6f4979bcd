"""`judgebench run --items FILE`: only the items a list names (the escalated items `judgebench escalate --write-items`
writes, or ids one per line), in the task's order, recorded in the run's config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgebench.errors import ConfigError, DataError
from judgebench.formats.item_lists import read_item_ids
from judgebench.run.evaluate import RunConfig, evaluate, select_items
from judgebench.run.runner import RetryPolicy
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script


def test_a_list_keeps_the_tasks_order_and_ignores_other_tasks_ids() -> None:
    task = load_task("sample-pairwise")
    assert [i.id for i in select_items(task, None, frozenset({"p4", "p2", "elsewhere-7"}))] == ["p2", "p4"]
    assert [i.id for i in select_items(task, 1, frozenset({"p4", "p2"}))] == ["p2"]
    assert len(select_items(task, None)) == len(task.items)
    with pytest.raises(ConfigError, match="none of the 1 listed item ids is an item of task 'sample-pairwise'"):
        select_items(task, None, frozenset({"q9"}))


def test_the_escalated_items_file_and_a_plain_list_are_read(tmp_path: Path) -> None:
    escalated = tmp_path / "escalated.jsonl"
    escalated.write_text("".join(json.dumps({"benchmark": "b", "item_id": i, "confidence": 0.0}) + "\n"
                                 for i in ("p1", "p3")))
    plain = tmp_path / "ids.txt"
    plain.write_text("p1\n\np3\n")
    assert read_item_ids(escalated) == read_item_ids(plain) == frozenset({"p1", "p3"})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "p1"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: each line needs an item_id"):
        read_item_ids(bad)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match="no item ids"):
        read_item_ids(tmp_path / "empty.txt")


def test_a_run_judges_only_the_listed_items(tmp_path: Path) -> None:
    with fake_model(Script([("ok", "A is better. [[A]]")])) as url:
        endpoint = Endpoint(provider="openai", name="strong", model="strong", base_url=url)
        config = RunConfig(model=Endpoint(provider="openai", name="cand", model="cand", base_url=url),
                           judges=(Judge("strong", endpoint),), out=tmp_path / "r", cache_path=tmp_path / "c.sqlite",
                           item_ids=frozenset({"p2", "p5"}), retry=RetryPolicy(max_attempts=1), progress=False,
                           n_bootstrap=0)
        result = evaluate(load_task("sample-pairwise"), config)
    judged = [json.loads(line)["item_id"] for line in (result.run_dir / "judgments.jsonl").read_text().splitlines()]
    assert sorted(judged) == ["p2", "p5"]
    recorded = json.loads((result.run_dir / "config.json").read_text())["task"]
    assert (recorded["item_ids"], recorded["n_items"]) == (["p2", "p5"], 2)


def test_the_arena_puts_only_the_listed_items_before_voters(shared_data: Path, tmp_path: Path) -> None:
    """`arena serve --items`: the pool battles are drawn from holds the listed items only, e.g. the escalated ones."""
    from judgebench.arena.pool import load_pool

    from ..arena.conftest import subset_answers

    data = shared_data / "mt_bench"
    task_file = tmp_path / "mt.yaml"
    task_file.write_text(f"include: mt-bench.yaml\nsource:\n  path: {data}/question.jsonl\n"
                         f"  references: {{path: {data}/reference_answer/gpt-4.jsonl}}\n")
    answers = subset_answers(shared_data, tmp_path / "answers", ["gpt-4", "claude-v1"], ["81", "82", "83"])
    pool = load_pool(load_task(str(task_file)), answers, frozenset({"82", "83", "999"}))
    assert sorted(pool.items) == ["82", "83"]
    assert pool.shared_items(("claude-v1", "gpt-4")) == ["82", "83"]
    assert len(load_pool(load_task(str(task_file)), answers).items) == 80
