"""`judgebench agree --label-column`: the judge's ranking of the models against a model-level column, printed as
a table whose estimates lie inside their intervals."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from judgebench.cli import main

MODELS = ["m1", "m2", "m3", "m4", "m5"]


def _agreeing_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """AlpacaEval annotations where m1 < m2 < ... < m5 against one baseline, and labels that rank them alike."""
    rows = [{"instruction": f"question {i}", "output_1": "base answer", "output_2": f"{model} answer {i}",
             "generator_1": "base", "generator_2": model, "annotator": "judge", "dataset": "d",
             "preference": 2.0 if i < 3 + 3 * k else 1.0}
            for k, model in enumerate(MODELS) for i in range(20)]
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps(rows))
    labels = tmp_path / "labels.csv"
    labels.write_text("model,elo\n" + "".join(f"{m},{1000 + 50 * k}\n" for k, m in enumerate(MODELS)))
    return annotations, labels


def test_model_level_agree_prints_a_table_with_perfect_agreement_as_one(tmp_path: Path) -> None:
    annotations, labels = _agreeing_inputs(tmp_path)
    result = CliRunner().invoke(main, ["agree", str(annotations), "--labels", str(labels), "--label-column", "elo"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["models", "Spearman", "95%", "CI", "Kendall", "95%", "CI"]
    assert lines[3].split() == ["5", "1.00", "[1.00,", "1.00]", "1.00", "[1.00,", "1.00]"]
    assert lines[-1] == "models: m1, m2, m3, m4, m5"
    assert "{" not in result.stdout and "0.9999" not in result.stdout


def test_model_level_agree_json_estimates_lie_inside_their_intervals(tmp_path: Path) -> None:
    annotations, labels = _agreeing_inputs(tmp_path)
    result = CliRunner().invoke(main, ["agree", str(annotations), "--labels", str(labels), "--label-column", "elo",
                                       "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["models"] == MODELS and found["n"] == 5
    assert (found["spearman"], found["kendall"]) == (1.0, 1.0)
    assert found["spearman_ci"] == found["kendall_ci"] == [1.0, 1.0]
