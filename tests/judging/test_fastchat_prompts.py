"""FastChat's own judge prompts, filled as FastChat fills them, for numbers comparable with published MT-Bench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgebench.errors import ConfigError, TaskError
from judgebench.judging.kinds import kind_of
from judgebench.tasks import load_task
from judgebench.types import Candidate, Endpoint, Judge

ENDPOINT = Endpoint(provider="openai", name="j", model="j", base_url="http://127.0.0.1:9/v1")


def _task(tmp_path: Path, shared_data: Path, prompts: Path | None = None) -> Path:
    path = tmp_path / "mt.yaml"
    prompts_path = prompts or shared_data / "mt_bench/judge_prompts.jsonl"
    path.write_text(f"include: mt-bench-fastchat.yaml\nsource:\n  path: {shared_data}/mt_bench/question.jsonl\n"
                    f"  references:\n    path: {shared_data}/mt_bench/reference_answer/gpt-4.jsonl\n"
                    f"judge:\n  fastchat_prompts:\n    path: {prompts_path}\n"
                    + ("    sha256: null\n" if prompts else ""))
    return path


def test_prompts_are_fastchats_filled_as_fastchat_does(tmp_path: Path, shared_data: Path) -> None:
    task = load_task(str(_task(tmp_path, shared_data)))
    lines = (shared_data / "mt_bench/judge_prompts.jsonl").read_text().splitlines()
    raw = {r["name"]: r for r in map(json.loads, lines)}
    judge = Judge("gpt-4", ENDPOINT, constrained=False)
    writing = next(i for i in task.items if i.category == "writing")
    math = next(i for i in task.items if i.category == "math")
    for item, name in ((writing, "single-v1"), (math, "single-math-v1")):
        candidate = Candidate(task.benchmark, item.id, "m", ("First answer.", "Second answer."))
        first, second = kind_of(task.kind).requests(task, candidate, item, judge)
        values = {"question": item.turns[0], "answer": "First answer.", "question_1": item.turns[0],
                  "answer_1": "First answer.", "question_2": item.turns[1], "answer_2": "Second answer.",
                  **{f"ref_answer_{k + 1}": r for k, r in enumerate(item.reference)}}
        assert first.chat.messages == (("system", raw[name]["system_prompt"]),
                                       ("user", raw[name]["prompt_template"].format(**values)))
        multi = raw[f"{name}-multi-turn"]
        assert second.chat.messages == (("system", multi["system_prompt"]),
                                        ("user", multi["prompt_template"].format(**values)))


def test_fastchat_prompts_need_a_text_judge(tmp_path: Path, shared_data: Path) -> None:
    task = load_task(str(_task(tmp_path, shared_data)))
    item = task.items[0]
    with pytest.raises(ConfigError, match="use a #text judge"):
        kind_of(task.kind).requests(task, Candidate(task.benchmark, item.id, "m", ("a", "b")), item,
                                    Judge("j", ENDPOINT, constrained=True))


def test_a_prompt_file_reaching_for_attributes_is_refused(tmp_path: Path, shared_data: Path) -> None:
    hostile = tmp_path / "judge_prompts.jsonl"
    hostile.write_text(json.dumps({"name": "single-v1", "type": "single", "system_prompt": "",
                                   "prompt_template": "{answer.__class__.__mro__}", "output_format": "[[rating]]"}))
    with pytest.raises(TaskError, match="refused"):
        load_task(str(_task(tmp_path, shared_data, hostile)))
