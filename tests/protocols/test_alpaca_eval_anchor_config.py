"""AlpacaEval 2.0's protocol against AlpacaEval's own files: its sampling parameters are the annotator config's (so
the kind and the replay reader cannot drift together), a task cannot pretend to change them, and a model's
annotation file serves as its answers (the answers that annotator judged)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from judgebench.errors import TaskError
from judgebench.formats.alpaca_eval import answers_by_instruction
from judgebench.formats.common import read_json
from judgebench.judging.protocols.alpaca_eval import PARAMS
from judgebench.tasks import load_task


def test_the_sampling_parameters_are_the_annotator_configs(shared_data: Path) -> None:
    config = yaml.safe_load((shared_data / "alpaca_eval/evaluators_configs/weighted_alpaca_eval_gpt4_turbo/"
                             "configs.yaml").read_text())["weighted_alpaca_eval_gpt4_turbo"]
    kwargs = {k: v for k, v in config["completions_kwargs"].items() if k != "model_name"}
    sent = dict(PARAMS)
    assert {k: sent[k] for k in kwargs} == kwargs  # max_tokens 1, temperature 1, logprobs, top_logprobs 5
    assert config["completion_parser_kwargs"] == {"numerator_token": "m", "denominator_tokens": ["m", "M"],
                                                  "is_binarize": False}


def test_a_task_cannot_claim_other_sampling_for_the_protocol(tmp_path: Path, shared_mirror: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    task = tmp_path / "t.yaml"
    task.write_text("include: alpaca-eval-2.yaml\nname: t\njudge:\n  max_tokens: 5\n")
    with pytest.raises(TaskError, match="max_tokens 1 and temperature 1"):
        load_task(str(task))


def test_an_annotation_file_gives_the_answers_its_annotator_judged(shared_data: Path) -> None:
    path = shared_data / "alpaca_eval/results/vicuna-13b/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
    generator, answers = answers_by_instruction(path)
    rows = read_json(path)
    assert generator == "vicuna-13b" and len(answers) == len({r["instruction"] for r in rows})
    assert all(answers[r["instruction"]] == r["output_2"] for r in rows)
