"""`judgebench judges` on our own runs of a JudgeBench task (a pair file as task source), labelled by the pair file;
and JudgeBench's output files read as judgments give the same table as read directly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.analysis.judge_accuracy import judge_accuracy, judges, labelled_outputs
from judgebench.cli import main
from judgebench.formats import read_sources
from judgebench.formats.scalerlab import read_outputs, read_pairs
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script

_FIRST = re.compile(r"Assistant A's Answer 1 [0-9a-f]+\|>\n(\S+)")


def _pairs(tmp_path: Path) -> Path:
    rows = []
    for i, (source, label) in enumerate([("livebench-math", "A>B"), ("livebench-math", "B>A"),
                                         ("mmlu-pro-law", "B>A"), ("livecodebench", "A>B")]):
        # the right response is the longer one in half the pairs
        right, wrong = (f"RIGHT-{i} at length", f"WRONG-{i}") if i % 2 else (f"RIGHT-{i}", f"WRONG-{i} at length")
        a, b = (right, wrong) if label == "A>B" else (wrong, right)
        rows.append({"pair_id": f"p{i}", "original_id": i, "source": source, "question": f"Question {i}?",
                     "response_model": "m", "response_A": a, "response_B": b, "label": label})
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(tmp_path: Path, pairs: Path, judge: Any, labels: str = "[A, B, C]") -> Path:
    task_path = tmp_path / "jb.yaml"
    task_path.write_text(f"name: jb\nkind: pairwise\njudge:\n  prompt: pairwise.jinja\n  labels: {labels}\n"
                         f"source:\n  format: scalerlab_judgebench\n  path: {pairs}\n"
                         f"reference:\n  source:\n    format: scalerlab_judgebench\n    path: {pairs}\n")
    task = load_task(str(task_path))
    with fake_model(Script([("fn", judge)])) as url:
        endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=2)
        result = evaluate(task, RunConfig(model=None, judges=(Judge("fake-judge", endpoint),), out=tmp_path / "r",
                                          cache_path=tmp_path / "c.sqlite", progress=False, n_bootstrap=0,
                                          answers_file=pairs))
    return result.run_dir


def _first_shown(body: dict[str, Any]) -> str:
    return _FIRST.findall(body["messages"][-1]["content"])[0]


@pytest.mark.parametrize(("labels", "first", "second"), [("[A, B, C]", "[[A]]", "[[B]]"),
                                                    ("[A>>B, A>B, A=B, B>A, B>>A]", "[[A>>B]]", "[[B>A]]")])
def test_a_judge_that_finds_the_right_answer_scores_100(tmp_path: Path, labels: str, first: str, second: str) -> None:
    pairs = _pairs(tmp_path)
    run = _run(tmp_path, pairs, lambda body: first if _first_shown(body).startswith("RIGHT") else second, labels)
    frame = judges([run], n_bootstrap=0, pairs=[pairs])
    row = frame.iloc[0]
    assert (row["judge"], row["n_pairs"], row["orders"]) == ("fake-judge", 4, 2)
    assert row["accuracy"] == 100.0 and row["math"] == 100.0 and row["math_n"] == 2
    assert row["consistency"] == 1.0
    assert row["prefers_longer"] == row["labels_longer"] == 0.5


def test_a_judge_that_always_picks_the_first_answer_is_never_right(tmp_path: Path) -> None:
    pairs = _pairs(tmp_path)
    run = _run(tmp_path, pairs, lambda body: "[[A]]")
    result = CliRunner().invoke(main, ["judges", str(run), "--pairs", str(pairs), "--json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["accuracy"] == 0.0 and row["consistency"] == 0.0  # its two orders always disagree: each pair sums 0
    # Without the pair file: the judge's profile (no labels), and a hint that --pairs gives its accuracy.
    unlabelled = CliRunner().invoke(main, ["judges", str(run), "--json"])
    assert unlabelled.exit_code == 0 and "--pairs" in unlabelled.stderr and "Traceback" not in unlabelled.output
    (profile,) = json.loads(unlabelled.stdout)
    assert profile["judge"] == "fake-judge" and profile["consistency"] == 0.0 and profile["n_judgments"] == 4


@pytest.mark.parametrize("name", ["claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz",
                                  "gpt-pairs.reward_model.internlm2-7b-reward.jsonl.gz"])
def test_output_files_read_as_judgments_give_the_same_table(shared_data: Path, name: str) -> None:
    path = shared_data / "judgebench" / "outputs" / name
    judgments = [j for source in read_sources(path) for j in source.judgments]
    (through_records,) = labelled_outputs(judgments, read_pairs(path), str(path))
    direct = judge_accuracy(read_outputs(path), n_bootstrap=100)
    assert judge_accuracy(through_records, n_bootstrap=100) == direct  # intervals too: the same seed
