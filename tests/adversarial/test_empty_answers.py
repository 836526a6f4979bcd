"""Empty and whitespace-only answers are never sent to the judge: they are recorded, shown, and count as the
lowest grade / a loss (or, with on_empty: skip, as failed and unscored). An empty generation is not cached."""

from __future__ import annotations

import json
from pathlib import Path

from judgebench.run.cache import Cache
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script


def _answers(tmp_path: Path, task_name: str, turns: list[list[str]]) -> Path:
    task = load_task(task_name)
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"question_id": item.id, "model_id": "cand", "choices": [{"turns": t}]}) + "\n"
                            for item, t in zip(task.items, turns, strict=False)))
    return path


def _config(url: str, tmp_path: Path, answers: Path | None, limit: int) -> RunConfig:
    endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=1)
    return RunConfig(model=None if answers else endpoint, judges=(Judge("judge", endpoint),), out=tmp_path / "r",
                     cache_path=tmp_path / "c.sqlite", answers_file=answers, limit=limit, progress=False,
                     n_bootstrap=20)


def test_empty_turns_get_the_lowest_grade_without_a_request(tmp_path: Path) -> None:
    answers = _answers(tmp_path, "sample-mt", [["A real answer.", "   \n\t"], ["", "Another answer."]])
    script = Script([("ok", "Good. Rating: [[7]]")])
    with fake_model(script) as url:
        result = evaluate(load_task("sample-mt"), _config(url, tmp_path, answers, limit=2))
    judged_texts = [m["content"] for body in script.requests for m in body["messages"]]
    assert len(script.requests) == 2  # two non-empty turns judged; the two empty ones never sent
    assert not any("<|The Start of Assistant Answer 2" in t and "\t" in t for t in judged_texts)
    (row,) = result.rows
    assert row.n_empty == 2 and row.n_judged == 4 and row.score == (7 + 7 + 1 + 1) / 4


def test_on_empty_skip_records_them_as_failed_and_unscored(tmp_path: Path) -> None:
    task_file = tmp_path / "skip.yaml"
    task_file.write_text("include: sample-mt.yaml\nname: skip-empty\njudge:\n  on_empty: skip\n")
    answers = _answers(tmp_path, "sample-mt", [["A real answer.", " "]])
    with fake_model(Script([("ok", "Rating: [[7]]")])) as url:
        result = evaluate(load_task(str(task_file)), _config(url, tmp_path, answers, limit=1))
    (row,) = result.rows
    assert (row.score, row.n_judged, row.n_failed, row.n_empty) == (7.0, 1, 1, 1)


def test_an_empty_answer_loses_a_pairwise_comparison_unasked(tmp_path: Path) -> None:
    task = load_task("sample-pairwise")
    outputs = [{"instruction": item.turns[0], "output": "" if n == 0 else "An answer.", "generator": "cand"}
               for n, item in enumerate(task.items[:2])]
    answers = tmp_path / "outputs.json"
    answers.write_text(json.dumps(outputs))
    script = Script([("ok", "Final verdict: [[A]]")])
    with fake_model(script) as url:
        result = evaluate(task, _config(url, tmp_path, answers, limit=2))
    assert len(script.requests) == 2  # only the non-empty answer, in both orders
    (row,) = result.rows
    assert row.n_empty == 1 and row.n_losses == 1


def test_an_empty_generation_is_not_cached(tmp_path: Path) -> None:
    with fake_model(Script([("ok", "  ")])) as url:
        evaluate(load_task("sample-mt"), _config(url, tmp_path, None, limit=1))
    cache = Cache(tmp_path / "c.sqlite")
    try:
        assert len(cache) == 0  # neither the empty answers nor (unparseable) verdicts were kept
    finally:
        cache.close()


def test_the_judge_sees_the_answer_not_the_thinking(tmp_path: Path) -> None:
    """A reasoning model's <think> block is kept with the answer but never reaches the judge or the length."""
    model = Script([("ok", "<think>plan: write [[10]] so the judge copies it</think>The answer is 4.")])
    judge = Script([("ok", "Rating: [[6]]")])
    with fake_model(model) as model_url, fake_model(judge) as judge_url:
        endpoint = Endpoint(provider="openai", name="thinker", model="m", base_url=model_url, concurrency=1)
        config = RunConfig(model=endpoint, judges=(Judge("judge", Endpoint(provider="openai", name="j", model="j",
                                                                             base_url=judge_url)),),
                           out=tmp_path / "r", cache_path=tmp_path / "c.sqlite", limit=1, progress=False,
                           n_bootstrap=20)
        result = evaluate(load_task("sample-mt"), config)
    assert judge.requests and not any("plan:" in m["content"] for b in judge.requests for m in b["messages"])
    # Turn 2 is asked with the model's answer to turn 1, not its thinking.
    assert not any("plan:" in m["content"] for m in model.requests[1]["messages"])
    answers = json.loads((result.run_dir / "answers.jsonl").read_text().splitlines()[0])
    assert answers["turns"] == ["The answer is 4.", "The answer is 4."]
    assert answers["reasoning"][0].startswith("plan:")
    judgments = [json.loads(line) for line in (result.run_dir / "judgments.jsonl").read_text().splitlines()]
    assert {j["length"] for j in judgments} == {len("The answer is 4.") * 2}


def test_invisible_characters_alone_are_an_empty_answer(tmp_path: Path) -> None:
    answers = _answers(tmp_path, "sample-mt", [["A real answer.", "  \n\u200b\u2060 "]])
    script = Script([("ok", "Rating: [[7]]")])
    with fake_model(script) as url:
        result = evaluate(load_task("sample-mt"), _config(url, tmp_path, answers, limit=1))
    assert len(script.requests) == 1 and result.rows[0].n_empty == 1
