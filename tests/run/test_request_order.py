"""The order requests reach the judge (judging.order through run.pipeline): an item's requests together, those
sharing the longest prompt prefix adjacent; and a rerun from the cache writes the same numbers."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from judgebench.formats import judgebench as store
from judgebench.run.evaluate import evaluate
from judgebench.tasks.builtin import prompts_dir
from judgebench.types import Judge

from ..fakemodel import fake_model
from ..fakeserver import Script
from .test_battles import config, simulated_judge_for_sample, task_file, three_files

_QUESTION = "<|User question 1|>\n"
_ANSWER_A = re.compile(r"<\|Assistant A, answer 1\|>\n(\S+)")


def _item_of(body: dict[str, object]) -> str:
    """The question a judge request shows (the item's)."""
    text = str(body["messages"][-1]["content"])  # type: ignore[index]
    return text[text.index(_QUESTION) + len(_QUESTION):].split("\n", 1)[0]


def test_an_items_requests_arrive_together_in_prefix_order(tmp_path: Path) -> None:
    # The built-in template names a code derived from both answers in its instructions, so its prompts differ from
    # there on; without it (a template beside the task file comes first), a prompt is the instructions, the
    # question, then answer A: the order makes the prompts that show one answer first adjacent.
    builtin = (prompts_dir() / "battle.jinja").read_text()
    (tmp_path / "battle.jinja").write_text(builtin.replace(" {{ frame }}", "").replace("{{ frame }}", ""))
    task = task_file(tmp_path, "  schedule: all-pairs", n_items=4)
    files = three_files(tmp_path, task)
    script = Script([("ok", "[[A=B]]")])
    with fake_model(script) as url:
        run = config(url, tmp_path, files)
        one_at_a_time = replace(run.judges[0], endpoint=replace(run.judges[0].endpoint, concurrency=1))
        evaluate(task, replace(run, judges=(one_at_a_time,), adaptive=False))
    items = [_item_of(body) for body in script.requests]
    assert len(items) == 4 * 3 * 2  # 4 items, 3 pairs, both orders
    # Each item's requests in one run of arrivals, never interleaved with another item's.
    runs = [item for k, item in enumerate(items) if k == 0 or items[k - 1] != item]
    assert len(runs) == len(set(runs)) == 4
    # Inside an item, sorted by prompt: the battles showing one model's answer first are adjacent.
    for item in set(items):
        prompts = [[(m["role"], m["content"]) for m in body["messages"]]  # type: ignore[index, union-attr]
                   for body in script.requests if _item_of(body) == item]
        assert prompts == sorted(prompts)
        first = [_ANSWER_A.findall(str(body["messages"][-1]["content"]))[0]  # type: ignore[index]
                 for body in script.requests if _item_of(body) == item]
        assert [model for k, model in enumerate(first) if k == 0 or first[k - 1] != model] == sorted(set(first))


def test_a_cached_rerun_writes_the_same_summary(tmp_path: Path) -> None:
    task = task_file(tmp_path, "  schedule: all-pairs", n_items=3)
    files = three_files(tmp_path, task)
    with fake_model(Script([("fn", simulated_judge_for_sample)])) as url:
        judges = (Judge("fake-judge", config(url, tmp_path, files).judges[0].endpoint),
                  Judge("fake-judge-2", replace(config(url, tmp_path, files).judges[0].endpoint, name="fake-2")))
        first = evaluate(task, replace(config(url, tmp_path, files), judges=judges))
        second = evaluate(task, replace(config(url, tmp_path, files), judges=judges))
    assert second.counters.requests == 0 and second.counters.cache_hits == first.counters.requests > 0
    summaries = [json.loads((r.run_dir / store.SUMMARY).read_text()) for r in (first, second)]
    for summary in summaries:  # what the run cost differs (sent, then served from the cache): nothing else may
        del summary["requests"], summary["usage"]
    assert summaries[0] == summaries[1]
