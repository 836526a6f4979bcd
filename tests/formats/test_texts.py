"""formats.texts: the question, the answers and the judge's replies behind each judgment, from the real files and
from a judgebench run directory; hostile files give one-line errors."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from judgebench.analysis.records import read_judgments
from judgebench.errors import DataError
from judgebench.formats import read_texts
from judgebench.formats.identity import instruction_id
from judgebench.formats.texts import MAX_CHARS, cap
from judgebench.tasks import load_task

from ..publish.runs import HOSTILE, fake_run

AE2 = "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
AE1 = "alpaca_eval/results/claude-2/alpaca_eval_gpt4/annotations.json.gz"
MT = "mt_bench_extras/third_party_alvarobartt"


def _identity(frame_row: dict[str, object]) -> tuple[object, ...]:
    return (frame_row["benchmark"], frame_row["judge"], frame_row["model"], frame_row["opponent"] or "",
            frame_row["item_id"], frame_row["turn"])


def test_alpaca_eval_texts_are_the_annotation_fields(shared_data: Path) -> None:
    path = shared_data / AE2
    with gzip.open(path, "rt") as fh:
        raw = json.load(fh)
    texts = read_texts(path, "alpaca-eval")
    assert len(texts) == len(raw)
    for text, row in zip(texts, raw, strict=True):
        assert text.question == (row["instruction"],) and text.item_id == instruction_id(row["instruction"])
        assert text.answer == (cap(row["output_2"]),) and text.opponent_answer == (cap(row["output_1"]),)
        completion = row.get("raw_completion")
        assert text.replies == ((completion["message"]["content"],) if completion else ())
        assert (text.model, text.opponent, text.judge) == (row["generator_2"], row["generator_1"], row["annotator"])
    assert sum(bool(t.replies) for t in texts) > len(texts) / 2
    # Every judgment of the file finds its texts under its identity.
    keys = {t.key for t in texts}
    assert all(_identity(r) in keys for r in read_judgments([path]).frame.to_dict("records"))
    # AlpacaEval 1.0's annotations kept no completion: no reply, and the rest is there.
    older = read_texts(shared_data / AE1, "alpaca-eval")
    assert older[0].replies == () and older[0].answer and older[0].question


def test_fastchat_texts_find_the_questions_and_answers_beside_the_file(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / MT / "model_judgment/gpt-4_single.jsonl.gz"
    alone = read_texts(source, "fastchat")  # no question.jsonl there: the judge's prompt stands in for it
    assert alone[0].question == () and alone[0].prompt is not None and "[Question]" in alone[0].prompt
    (tmp_path / "model_judgment").mkdir()
    shutil.copy(source, tmp_path / "model_judgment")
    (tmp_path / "question.jsonl").symlink_to(shared_data / "mt_bench/question.jsonl")
    (tmp_path / "model_answer").symlink_to(shared_data / MT / "model_answer")
    texts = read_texts(tmp_path / "model_judgment/gpt-4_single.jsonl.gz", "fastchat")
    questions = {str(json.loads(line)["question_id"]): json.loads(line)["turns"]
                 for line in (shared_data / "mt_bench/question.jsonl").read_text().splitlines()}
    with gzip.open(source, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(texts) == len(rows)
    for text, row in zip(texts, rows, strict=True):
        assert text.question == tuple(questions[str(row["question_id"])]) and text.prompt is None
        assert text.replies == (row["judgment"],) and text.turn == row["turn"]
    answers = {}
    for line in (shared_data / MT / "model_answer/mistral-orpo-mix.jsonl").read_text().splitlines():
        record = json.loads(line)
        answers[str(record["question_id"])] = tuple(record["choices"][0]["turns"])
    mine = [t for t in texts if t.model == "mistral-orpo-mix"]
    assert mine and all(t.answer == answers[t.item_id] for t in mine)


def test_run_directory_texts_come_from_the_task_answers_and_replies(tmp_path: Path) -> None:
    run_dir = fake_run(tmp_path)
    task = load_task("sample-pairwise")
    texts = {t.item_id: t for t in read_texts(run_dir.parent, "judgebench")}
    assert sorted(texts) == [item.id for item in task.items]
    for item in task.items:
        text = texts[item.id]
        assert text.question == item.turns and text.answer == (HOSTILE,)
        assert text.opponent_answer == task.reference_for(item.id)
        assert text.opponent_label == f"reference: {task.reference_model}"
        assert text.replies == (HOSTILE, HOSTILE)  # both orders
    # A task file that changed since the run (its sha256 differs): its questions are not shown as the run's.
    config = json.loads((run_dir / "config.json").read_text())
    changed = tmp_path / "changed.yaml"
    changed.write_text(Path(task.path).read_text() + "\n# edited\n")
    edited = {**config["task"], "path": str(changed), "name": str(changed)}
    (run_dir / "config.json").write_text(json.dumps({**config, "task": edited}))
    assert all(t.question == () for t in read_texts(run_dir, "judgebench"))
    # The same file found by its name instead (the path moved): its questions are the run's.
    moved = {**config["task"], "path": str(tmp_path / "moved.yaml")}
    (run_dir / "config.json").write_text(json.dumps({**config, "task": moved}))
    assert {t.question for t in read_texts(run_dir, "judgebench")} == {item.turns for item in task.items}
    # A task that cannot be found any more: the item ids stay, the questions go.
    config["task"].update(path="/nowhere/task.yaml", name="no-such-task")
    (run_dir / "config.json").write_text(json.dumps(config))
    orphans = read_texts(run_dir, "judgebench")
    assert len(orphans) == len(task.items)
    assert all(t.question == () and t.answer == (HOSTILE,) and t.item_id in texts for t in orphans)


def test_texts_are_capped_and_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    long = "x" * (MAX_CHARS + 10)
    assert cap(long).startswith("x" * MAX_CHARS) and "10 more characters not shown" in cap(long)
    assert cap({"a": 1}) == '{"a": 1}'
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([{"instruction": 5, "generator_1": "a", "generator_2": "b"}]))
    with pytest.raises(DataError, match=r"annotations.json: not AlpacaEval annotations") as info:
        read_texts(path, "alpaca-eval")
    assert "\n" not in str(info.value)
    bad = tmp_path / "x_single.jsonl"
    bad.write_text(json.dumps({"model": "m", "judgment": "ok"}) + "\n")
    with pytest.raises(DataError, match=r"x_single.jsonl:1: not a FastChat judgment"):
        read_texts(bad, "fastchat")
