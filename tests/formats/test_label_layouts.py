"""Human label files in the published layouts (FastChat's MT-Bench human judgments, AlpacaEval's human
cross-annotations) read into our pairwise columns. The fixtures are tiny files written here in those layouts, not
copies of the data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from judgebench.errors import DataError
from judgebench.formats.identity import instruction_id
from judgebench.formats.labels import LAYOUTS, layout_of, output_name, read_labels


def _conversation(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


MT_BENCH_HUMAN = [
    {"question_id": 81, "model_a": "gpt-4", "model_b": "alpaca-13b", "winner": "model_a", "judge": "expert_0",
     "conversation_a": _conversation("q", "a"), "conversation_b": _conversation("q", "b"), "turn": 1},
    {"question_id": 81, "model_a": "gpt-4", "model_b": "alpaca-13b", "winner": "tie (bothbad)", "judge": "author_2",
     "conversation_a": _conversation("q", "a"), "conversation_b": _conversation("q", "b"), "turn": 2},
    {"question_id": 82, "model_a": "vicuna-13b-v1.2", "model_b": "gpt-4", "winner": "model_b", "judge": "expert_1",
     "conversation_a": _conversation("q", "a"), "conversation_b": _conversation("q", "b"), "turn": 1},
    {"question_id": 83, "model_a": "claude-v1", "model_b": "llama-13b", "winner": "tie", "judge": "expert_0",
     "conversation_a": _conversation("q", "a"), "conversation_b": _conversation("q", "b"), "turn": 1},
]

CROSS = [
    {"instruction": "Name a prime.", "output_1": "7", "output_2": "Nine.", "preference": 1, "annotator_index": 3,
     "dataset": "selfinstruct", "datasplit": "eval"},
    {"instruction": "Name a prime.", "output_1": "7", "output_2": "Nine.", "preference": 2, "annotator_index": 5,
     "dataset": "selfinstruct", "datasplit": "eval"},
    {"instruction": "Say hi.", "output_1": "Hi", "output_2": "Hello", "preference": 0, "annotator_index": 1,
     "dataset": "oasst", "datasplit": "eval"},
]


def test_mt_bench_human_judgments_as_json_and_parquet(tmp_path: Path) -> None:
    (tmp_path / "human.json").write_text(json.dumps(MT_BENCH_HUMAN))
    pd.DataFrame(MT_BENCH_HUMAN).to_parquet(tmp_path / "human.parquet")
    for name in ("human.json", "human.parquet"):
        labels = read_labels(tmp_path / name)
        assert list(labels["item_id"]) == ["81", "81", "82", "83"]  # FastChat's question_id, as our MT-Bench ids
        assert list(labels["winner"]) == [r["winner"] for r in MT_BENCH_HUMAN]
        assert list(labels["turn"]) == [1, 2, 1, 1] and list(labels["voter"])[:2] == ["expert_0", "author_2"]
        assert set(labels["benchmark"]) == {"mt-bench"}


def test_cross_annotations_by_instruction_and_output_text(tmp_path: Path) -> None:
    path = tmp_path / "alpaca_farm_human_crossannotations.json.gz"
    path.write_bytes(gzip.compress(json.dumps(CROSS).encode()))
    labels = read_labels(path)
    assert list(labels["item_id"]) == [instruction_id("Name a prime.")] * 2 + [instruction_id("Say hi.")]
    assert list(labels["winner"]) == ["model_a", "model_b", "tie"]  # 0 is AlpacaEval's draw
    # no generator columns: each side is named by its text, the same text the same name
    assert list(labels["model_a"])[:2] == [output_name("7")] * 2 and labels["model_b"][2] == output_name("Hello")
    assert list(labels["voter"]) == ["3", "5", "1"]


def test_cross_annotations_with_generators_name_the_models(tmp_path: Path) -> None:
    rows = [{**row, "generator_1": "text_davinci_003", "generator_2": "alpaca-7b"} for row in CROSS]
    (tmp_path / "cross.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    labels = read_labels(tmp_path / "cross.jsonl")
    assert set(labels["model_a"]) == {"text_davinci_003"} and set(labels["model_b"]) == {"alpaca-7b"}


def test_an_unknown_preference_names_the_file_and_row(tmp_path: Path) -> None:
    (tmp_path / "cross.json").write_text(json.dumps([*CROSS, {**CROSS[0], "preference": 3}]))
    with pytest.raises(DataError, match=r"cross\.json\[3\]: preference 3 is not 1, 2 or a draw"):
        read_labels(tmp_path / "cross.json")


def test_layouts_are_told_by_columns() -> None:
    assert [layout.name for layout in LAYOUTS] == ["pairwise", "mt-bench-human", "alpaca-eval-cross"]
    assert layout_of(pd.DataFrame(MT_BENCH_HUMAN)).name == "mt-bench-human"  # type: ignore[union-attr]
    assert layout_of(pd.DataFrame(CROSS)).name == "alpaca-eval-cross"  # type: ignore[union-attr]
    # An AlpacaEval judge's annotations name their annotator: a judge's verdicts, not human labels.
    assert layout_of(pd.DataFrame([{**CROSS[0], "annotator": "alpaca_eval_gpt4"}])) is None
    assert layout_of(pd.DataFrame([{"item_id": "1", "model": "m", "score": 3}])) is None  # score labels


def test_our_own_csv_labels_are_read_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("item_id,model_a,model_b,winner\n1,m1,m2,m1\n")
    labels = read_labels(tmp_path / "labels.csv")
    assert list(labels.columns) == ["item_id", "model_a", "model_b", "winner"] and labels["winner"][0] == "m1"


def test_a_json_that_is_not_a_list_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(DataError, match=r"labels\.json: expected a JSON list of objects"):
        read_labels(tmp_path / "labels.json")
