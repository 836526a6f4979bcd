"""Findings a review left open on the judge-measuring commands, each fixed: a judgment a file repeats is one verdict
in `agree` and `judges --labels`; `run --items` refuses a list naming another benchmark; `escalate` prices what it
can; every command reads AlpacaEval JSON holding NaN the same way; AlpacaEval's price and time per example reach
the judges' table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.analysis.judge_labels import judges_against_labels
from judgebench.cli import main


def _fastchat(path: Path, verdicts: list[tuple[int, str, str]]) -> Path:
    """A FastChat pair file of judge "cheap": (question, g1 verdict, g2 verdict) of gpt-4 (model_1) against
    alpaca-13b (model_2); g2 shows model_2 first."""
    lines = [{"question_id": q, "model_1": "gpt-4", "model_2": "alpaca-13b", "turn": 1, "judge": ["cheap", "pair-v2"],
              "g1_winner": "", "g2_winner": "", "g1_judgment": f"[[{g1}]]", "g2_judgment": f"[[{g2}]]"}
             for q, g1, g2 in verdicts]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_a_judgment_a_file_repeats_is_one_verdict_its_last(tmp_path: Path) -> None:
    """FastChat's GPT-4 pair file repeats records: each label is compared once, with the judgment's last record,
    in `judges --labels` and in `agree` alike."""
    judged = _fastchat(tmp_path / "cheap_pair.jsonl", [
        (81, "B", "A"),  # alpaca-13b wins in one record ...
        (81, "A", "B"),  # ... and gpt-4 in the repeated, last one
        (82, "A", "B")])
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,model_a,model_b,winner\n81,gpt-4,alpaca-13b,model_a\n82,gpt-4,alpaca-13b,model_a\n")
    row = judges_against_labels([judged], [labels], n_bootstrap=0).iloc[0]
    assert row["n"] == 2 and row["s1"] == pytest.approx(1.0)  # was 3 matched, one of them against the label
    agree = CliRunner().invoke(main, ["agree", str(judged), "--labels", str(labels), "--json"])
    (item,) = json.loads(agree.stdout)["items"]
    assert item["n_s1"] == 2 and item["s1"] == pytest.approx(1.0)


def test_an_item_lists_benchmark_is_honoured_and_another_refused_at_its_line(tmp_path: Path) -> None:
    """`run --items` with escalate's JSONL: an id names an item of its benchmark only; a line naming a benchmark no
    task of the run has is an error at its line (its id was taken for another benchmark's item of the same id)."""
    from judgebench.formats.item_lists import read_item_list
    from judgebench.tasks import load_task

    pairwise, mt = load_task("sample-pairwise").benchmark, load_task("sample-mt").benchmark
    listed = tmp_path / "escalated.jsonl"
    listed.write_text("".join(json.dumps(line) + "\n" for line in (
        {"benchmark": pairwise, "item_id": "p2"}, {"item_id": "p4"}, {"benchmark": mt, "item_id": "p3"})))
    found = read_item_list(listed)
    assert found.ids_for(pairwise) == {"p2", "p4"} and found.ids_for(mt) == {"p3", "p4"}
    result = CliRunner().invoke(main, ["run", "--task", "sample-pairwise", "--items", str(listed), "--dry-run",
                                       "--model", "m@http://127.0.0.1:9/v1", "--judge", "j@http://127.0.0.1:9/v1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{listed}:3: item 'p3' is of benchmark '{mt}'" in result.output
    both = CliRunner().invoke(main, ["run", "--task", "sample-pairwise", "--task", "sample-mt", "--items",
                                     str(listed), "--dry-run", "--model", "m@http://127.0.0.1:9/v1", "--judge",
                                     "j@http://127.0.0.1:9/v1"])
    assert both.exit_code == 1 and "none of the 2 listed item ids is an item of task 'sample-mt'" in both.output


def test_escalate_with_a_price_missing_reports_all_else_and_names_the_judge(shared_data: Path) -> None:
    """A price for the people but none for the cheap judge: the report stands, its cost is left out, and it says
    which judge has no price and how to give one (it was an error that printed no report)."""
    path = shared_data / "judgebench/outputs/claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz"
    args = ["escalate", str(path), "--labels", str(path), "--target", "0.8", "--cost-per-1000", "labels=300"]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "threshold:" in text.output and "held out:" in text.output
    assert ("cost:         not computed: no price for arena_hard:claude-3-haiku-20240307 (add --cost-per-1000 "
            "arena_hard:claude-3-haiku-20240307=USD") in text.output
    report = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert report["costs"] is None and report["unpriced"] == ["arena_hard:claude-3-haiku-20240307"]
    priced = json.loads(CliRunner().invoke(main, [*args, "--json", "--cost-per-1000",
                                                  "arena_hard:claude-3-haiku-20240307=1.53"]).stdout)
    assert priced["unpriced"] == [] and priced["costs"]["saving"] == pytest.approx(0.295, abs=5e-4)


def _annotations(path: Path, extra: str = "") -> Path:
    """An AlpacaEval annotations file of two answers, as AlpacaEval writes it: ``extra`` fields per row (its pandas
    writes NaN for a missing number)."""
    rows = [(f'{{"instruction": "{question}", "output_1": "Hi", "output_2": "Hello there", "generator_1": "base", '
             f'"generator_2": "model", "annotator": "cheap", "preference": {p}{extra}}}')
            for question, p in (("Say hello.", "2.0"), ("Say hi.", "1.0"))]
    path.write_text("[" + ",".join(rows) + "]")
    return path


def test_alpaca_eval_json_with_nan_is_read_by_export_as_by_judges(tmp_path: Path) -> None:
    """AlpacaEval's pandas writes NaN; `judges` and `stats` read such a file, and `export-preferences` refused it
    (its text reader was strict). One decoder for all: the same judgments, now exported."""
    path = _annotations(tmp_path / "annotations.json", ', "time_per_example": NaN')
    assert CliRunner().invoke(main, ["judges", str(path), "--json"]).exit_code == 0
    out = tmp_path / "prefs.jsonl"
    result = CliRunner().invoke(main, ["export-preferences", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["chosen_model"], r["rejected_model"]) for r in rows] == [("model", "base"), ("base", "model")]


def test_alpaca_evals_price_and_time_per_example_reach_the_judges_table(shared_data: Path) -> None:
    """The cost and time per 1,000 judgments of an AlpacaEval annotator are its files' price_per_example and
    time_per_example (a mean over the annotations that record them, x 1,000), priced_as "recorded"; the same in
    `judges --json` and load().judges()."""
    import gzip
    import math

    import judgebench

    path = shared_data / "alpaca_eval/results/alpaca-7b/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
    rows = json.loads(gzip.decompress(path.read_bytes()))
    prices = [r["price_per_example"] for r in rows if r.get("price_per_example") is not None
              and not math.isnan(r["price_per_example"])]
    times = [r["time_per_example"] for r in rows if r.get("time_per_example") is not None
             and not math.isnan(r["time_per_example"])]
    assert 0 < len(prices) < len(rows)  # three annotations record no price
    result = CliRunner().invoke(main, ["judges", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["priced_as"] == "recorded"
    assert row["cost_per_1000_usd"] == pytest.approx(1000 * sum(prices) / len(prices), rel=1e-12)
    assert row["seconds_per_1000"] == pytest.approx(1000 * sum(times) / len(times), rel=1e-12)
    assert row["prompt_tokens_per_1000"] is None  # AlpacaEval records no tokens
    loaded = judgebench.load(path).judges().iloc[0]
    assert (loaded["cost_per_1000_usd"], loaded["seconds_per_1000"]) == (row["cost_per_1000_usd"],
                                                                         row["seconds_per_1000"])


def test_the_table_renderer_is_public_and_no_module_borrows_a_private_one() -> None:
    """publish.calibrated drew its tables with publish.tables' private _render: the one table renderer is public
    (render_table), and no module of publish imports a private name of publish.tables."""
    import ast

    import judgebench.publish as publish
    from judgebench.publish.calibrated import render_table as used
    from judgebench.publish.tables import render_table

    assert used is render_table
    for path in Path(publish.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level and node.module == "tables":
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                assert not private, f"{path.name} imports {private} from {node.module}"
