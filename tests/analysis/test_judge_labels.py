"""`judgebench judges --labels`: judges against human labels and against a reference judge's verdicts. On real data
(AlpacaEval's published annotations: a cheaper GPT-4-turbo annotator against AlpacaEval 2.0's weighted one, on the
same answers), the agreement, kappa, Brier score and ECE equal a direct pandas merge with sklearn; on tiny
MT-Bench files written here, the numbers equal a count by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import brier_score_loss, cohen_kappa_score

from judgebench.analysis.judge_labels import LABEL_COLUMNS, judges_against_labels, read_label_sets
from judgebench.cli import main
from judgebench.errors import DataError

# The models whose answers both annotators judged against the same baseline (gpt4_1106_preview, itself included:
# a model against itself has no winner and is left out).
MODELS = ("alpaca-7b", "claude-2.1", "gpt-3.5-turbo-0301", "gpt4_1106_preview")
CHEAP, REFERENCE = "alpaca_eval_cot_gpt4_turbo_fn", "weighted_alpaca_eval_gpt4_turbo"


def _files(shared_data: Path, annotator: str) -> list[Path]:
    return [shared_data / "alpaca_eval" / "results" / m / annotator / "annotations.json.gz" for m in MODELS]


def _annotations(paths: list[Path]) -> pd.DataFrame:
    rows = [row for path in paths for row in json.loads(gzip.decompress(path.read_bytes()))]
    frame = pd.DataFrame(rows)[["instruction", "generator_1", "generator_2", "preference", "output_1", "output_2"]]
    # The model's answer (output_2) is the longer one: the side a judge or label picking the model picked.
    longer = np.where(frame["output_2"].str.len() > frame["output_1"].str.len(), 2.0,
                      np.where(frame["output_2"].str.len() < frame["output_1"].str.len(), 1.0, np.nan))
    return frame.drop(columns=["output_1", "output_2"]).assign(preference=frame["preference"].astype(float),
                                                               longer=longer)


def _direct(shared_data: Path, judge: str, labels: str) -> pd.DataFrame:
    """The two annotators' rows on the same (instruction, baseline, model), a model against itself left out."""
    keys = ["instruction", "generator_1", "generator_2"]
    merged = _annotations(_files(shared_data, judge)).merge(
        _annotations(_files(shared_data, labels)).drop(columns=["longer"]), on=keys, suffixes=("_judge", "_labels"))
    return merged[merged["generator_1"] != merged["generator_2"]]


def _winner(preference: pd.Series) -> np.ndarray:
    return np.where(preference > 1.5, "model", np.where(preference < 1.5, "baseline", "tie"))


def test_a_cheap_judge_against_gpt4_turbo_equals_a_direct_merge(shared_data: Path) -> None:
    frame = judges_against_labels(_files(shared_data, CHEAP), _files(shared_data, REFERENCE), n_bootstrap=200)
    assert list(frame.columns) == list(LABEL_COLUMNS) and len(frame) == 1
    row = frame.iloc[0]
    direct = _direct(shared_data, CHEAP, REFERENCE)
    ours, theirs = _winner(direct["preference_judge"]), _winner(direct["preference_labels"])
    assert row["judge"] == CHEAP and row["labels"] == REFERENCE and row["n"] == len(direct) == 3 * 805
    assert row["s1"] == pytest.approx(np.mean(ours == theirs), abs=1e-12)
    decisive = (ours != "tie") & (theirs != "tie")
    assert row["n_s2"] == decisive.sum()
    assert row["s2"] == pytest.approx(np.mean(ours[decisive] == theirs[decisive]), abs=1e-12)
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(ours, theirs), abs=1e-12)
    assert row["label_ties"] == pytest.approx(np.mean(theirs == "tie"), abs=1e-12)
    assert row["s1_low"] < row["s1"] < row["s1_high"] and row["s2_low"] < row["s2"] < row["s2_high"]
    assert np.isnan(row["brier"]) and np.isnan(row["ece"])  # its verdicts are 1, 1.5 or 2: no probability
    assert row["n_unmatched"] == 0
    # The length bias beside the labels' own, over the same decided pairs of different lengths.
    sided = decisive & direct["longer"].notna().to_numpy()
    longer = direct["longer"].to_numpy()[sided]
    assert row["n_longer"] == sided.sum() > 2000
    judge_side = np.where(ours[sided] == "model", 2.0, 1.0)
    label_side = np.where(theirs[sided] == "model", 2.0, 1.0)
    assert row["prefers_longer"] == pytest.approx(np.mean(judge_side == longer), abs=1e-12)
    assert row["labels_longer"] == pytest.approx(np.mean(label_side == longer), abs=1e-12)
    assert np.isnan(row["consistency"]) and row["n_both_orders"] == 0  # AlpacaEval asks in one order


def test_the_weighted_annotators_probability_is_calibrated_against_the_labels(shared_data: Path) -> None:
    frame = judges_against_labels(_files(shared_data, REFERENCE), _files(shared_data, CHEAP), n_bootstrap=0)
    row = frame.iloc[0]
    direct = _direct(shared_data, REFERENCE, CHEAP)
    decided = direct[direct["preference_labels"] != 1.5]
    p = decided["preference_judge"].to_numpy() - 1  # the probability that the model beats the baseline
    y = (decided["preference_labels"] > 1.5).to_numpy(dtype=float)
    assert row["n_calibration"] == len(decided)
    assert row["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    bins = pd.Series(np.clip(np.floor(p * 10), 0, 9))
    per_bin = pd.DataFrame({"p": p, "y": y, "bin": bins}).groupby("bin")
    ece = float((per_bin.size() / len(p) * (per_bin["y"].mean() - per_bin["p"].mean()).abs()).sum())
    assert row["ece"] == pytest.approx(ece, abs=1e-12)
    assert np.isnan(row["s1_low"])  # --bootstrap 0: no intervals


def _fastchat(path: Path, judge: str, verdicts: list[tuple[int, str, str, int, str, str]]) -> Path:
    """A FastChat pairwise judgment file: (question, model_1, model_2, turn, g1 verdict, g2 verdict); g2 shows
    model_2 first."""
    lines = [{"question_id": q, "model_1": m1, "model_2": m2, "turn": turn, "judge": [judge, "pair-v2"],
              "g1_winner": "", "g2_winner": "", "g1_judgment": f"... [[{g1}]]", "g2_judgment": f"... [[{g2}]]"}
             for q, m1, m2, turn, g1, g2 in verdicts]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


HUMAN = [  # question, model_a, model_b, winner, turn
    (81, "gpt-4", "alpaca-13b", "model_a", 1), (81, "gpt-4", "alpaca-13b", "tie (bothbad)", 2),
    (82, "vicuna-13b-v1.2", "gpt-4", "model_b", 1), (83, "claude-v1", "gpt-4", "tie", 1),
    (84, "claude-v1", "gpt-4", "model_a", 1)]  # nobody judged question 84


@pytest.fixture()
def mt_bench(tmp_path: Path) -> tuple[Path, Path]:
    human = tmp_path / "human_judgments.json"
    human.write_text(json.dumps([{"question_id": q, "model_a": a, "model_b": b, "winner": w, "judge": "expert_0",
                                  "turn": t, "conversation_a": [], "conversation_b": []} for q, a, b, w, t in HUMAN]))
    cheap = _fastchat(tmp_path / "cheap_pair.jsonl", "cheap", [
        (81, "alpaca-13b", "gpt-4", 1, "B", "A"),  # gpt-4 both orders: agrees with model_a
        (81, "alpaca-13b", "gpt-4", 2, "A", "A"),  # the orders disagree: a tie, agrees with tie (bothbad)
        (82, "gpt-4", "vicuna-13b-v1.2", 1, "B", "A"),  # vicuna both orders: disagrees with model_b (gpt-4)
        (83, "claude-v1", "gpt-4", 1, "C", "C")])  # a tie: agrees with tie
    return human, cheap


def test_mt_bench_human_judgments_against_a_fastchat_judge(mt_bench: tuple[Path, Path]) -> None:
    human, cheap = mt_bench
    row = judges_against_labels([cheap], [human], n_bootstrap=100).iloc[0]
    assert row["labels"] == "human_judgments.json" and row["n"] == 4 and row["n_unmatched"] == 1
    assert row["s1"] == pytest.approx(3 / 4)
    assert row["n_s2"] == 2 and row["s2"] == pytest.approx(1 / 2)  # 81 turn 1 agrees, 82 does not
    assert row["label_ties"] == pytest.approx(2 / 4) and row["judge_ties"] == pytest.approx(2 / 4)
    ours, theirs = ["gpt-4", "tie", "vicuna", "tie"], ["gpt-4", "tie", "gpt-4", "tie"]
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(ours, theirs), abs=1e-12)
    # 81 turn 2 is the one matched verdict whose two orders disagree
    assert row["n_both_orders"] == 4 and row["consistency"] == pytest.approx(3 / 4)


def test_another_judges_file_is_a_reference_and_never_its_own(mt_bench: tuple[Path, Path], tmp_path: Path) -> None:
    human, cheap = mt_bench
    gpt4 = _fastchat(tmp_path / "gpt-4_pair.jsonl", "gpt-4", [
        (81, "gpt-4", "alpaca-13b", 1, "A", "B"), (82, "vicuna-13b-v1.2", "gpt-4", 1, "B", "A")])
    sets = read_label_sets(gpt4)
    assert [s.name for s in sets] == ["gpt-4"] and list(sets[0].labels["winner"]) == ["model_a", "model_b"]
    frame = judges_against_labels([cheap, gpt4], [gpt4, human], n_bootstrap=0)
    # cheap against gpt-4 (2 labels: agrees on 81, not on 82), cheap and gpt-4 against the human labels
    assert list(zip(frame["judge"], frame["labels"], frame["n"], strict=True)) == [
        ("cheap", "gpt-4", 2), ("cheap", "human_judgments.json", 4), ("gpt-4", "human_judgments.json", 2)]
    assert frame["s1"].tolist()[0] == pytest.approx(1 / 2)
    with pytest.raises(DataError, match="no label matches a judgment"):
        judges_against_labels([gpt4], [gpt4])


def test_the_cli_prints_the_table_and_json(mt_bench: tuple[Path, Path]) -> None:
    human, cheap = mt_bench
    text = CliRunner().invoke(main, ["judges", str(cheap), "--labels", str(human), "--bootstrap", "50"])
    assert text.exit_code == 0, text.output
    assert "S1 with ties [95% CI]" in text.output and "75.0 [" in text.output
    result = CliRunner().invoke(main, ["judges", str(cheap), "--labels", str(human), "--json"])
    records = json.loads(result.output)
    assert records[0]["judge"] == "cheap" and records[0]["s1"] == pytest.approx(0.75) and records[0]["brier"] is None
    both = CliRunner().invoke(main, ["judges", str(cheap), "--labels", str(human), "--pairs", str(human)])
    assert both.exit_code == 1 and "give one of them" in both.output and "Traceback" not in both.output


def test_cross_annotations_find_the_judged_models_by_their_answers(tmp_path: Path) -> None:
    """AlpacaEval's human cross-annotations carry no generator: each side is matched to the judged file's model
    by the answer's text, in either order."""
    annotations = [  # the judge under test: baseline's answer first, the model's second
        {"instruction": "Name a prime.", "output_1": "7", "output_2": "Nine.", "generator_1": "base",
         "generator_2": "model", "annotator": "cheap", "preference": 1.0},
        {"instruction": "Say hi.", "output_1": "Hi", "output_2": "Hello", "generator_1": "base",
         "generator_2": "model", "annotator": "cheap", "preference": 2.0},
        {"instruction": "Count.", "output_1": "1 2", "output_2": "1 2 3", "generator_1": "base",
         "generator_2": "model", "annotator": "cheap", "preference": 1.0}]
    cross = [  # four humans on the first item (its sides in the other order for two), one on the second
        {"instruction": "Name a prime.", "output_1": "7", "output_2": "Nine.", "preference": 1, "annotator_index": 0},
        {"instruction": "Name a prime.", "output_1": "Nine.", "output_2": "7", "preference": 2, "annotator_index": 1},
        {"instruction": "Name a prime.", "output_1": "Nine.", "output_2": "7", "preference": 1, "annotator_index": 2},
        {"instruction": "Name a prime.", "output_1": "7", "output_2": "Nine.", "preference": 0, "annotator_index": 3},
        {"instruction": "Say hi.", "output_1": "Hi", "output_2": "Howdy", "preference": 2, "annotator_index": 0}]
    judged = tmp_path / "annotations.json"
    judged.write_text(json.dumps(annotations))
    (tmp_path / "cross.json").write_text(json.dumps(cross))
    row = judges_against_labels([judged], [tmp_path / "cross.json"], n_bootstrap=0).iloc[0]
    # the judge prefers "7" (base): humans 0 and 1 agree, 2 prefers "Nine.", 3 a tie; "Howdy" was never judged
    assert row["n"] == 4 and row["n_unmatched"] == 1
    assert row["s1"] == pytest.approx(2 / 4) and row["n_s2"] == 3 and row["s2"] == pytest.approx(2 / 3)


def test_a_table_that_is_neither_labels_nor_judgments_is_one_line(mt_bench: tuple[Path, Path], tmp_path: Path) -> None:
    _, cheap = mt_bench
    (tmp_path / "scores.csv").write_text("item_id,model,score\n81,gpt-4,9\n")
    result = CliRunner().invoke(main, ["judges", str(cheap), "--labels", str(tmp_path / "scores.csv")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "scores.csv: neither pairwise labels (its columns: item_id, model, score" in result.output


def test_agree_and_judges_give_the_same_agreement(mt_bench: tuple[Path, Path]) -> None:
    """One matching, one computation: `agree` reads the same layouts and prints the same S1, S2 and kappa."""
    human, cheap = mt_bench
    agree = CliRunner().invoke(main, ["agree", str(cheap), "--labels", str(human), "--json"])
    assert agree.exit_code == 0, agree.output
    (item,) = json.loads(agree.stdout)["items"]
    row = judges_against_labels([cheap], [human], n_bootstrap=0).iloc[0]
    assert (item["n_s1"], item["n_s2"]) == (row["n"], row["n_s2"]) and item["n_unmatched"] == row["n_unmatched"]
    assert (item["s1"], item["s2"], item["cohen_kappa"]) == (row["s1"], row["s2"], row["cohen_kappa"])


def test_cli_site_and_load_show_the_same_label_table(mt_bench: tuple[Path, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`judges --labels --json`, `judgebench.load(...).judges(labels=...)` and the site's Judges page built with
    `leaderboard --labels`: the same rows and the same numbers, computed once (analysis.judge_labels.label_table)."""
    import judgebench
    from judgebench.publish.tables import LABEL_CELLS

    from ..publish.test_site_judges import _Cells

    human, cheap = mt_bench
    result = CliRunner().invoke(main, ["judges", str(cheap), "--labels", str(human), "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    loaded = judgebench.load(cheap).judges(labels=human)
    assert list(loaded.columns) == list(LABEL_COLUMNS)
    records = loaded.astype(object).where(loaded.notna(), None).to_dict(orient="records")
    assert records == cli and cli[0]["consistency"] == pytest.approx(3 / 4)
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "cache"))
    site = CliRunner().invoke(main, ["leaderboard", str(cheap), "--out", str(tmp_path / "site"), "--labels",
                                     str(human)])
    assert site.exit_code == 0, site.output
    page = (tmp_path / "site" / "judges.html").read_text(encoding="utf-8")
    table = page[page.index('<table class="judge-labels">'):]
    parser = _Cells()
    parser.feed(table[:table.index("</table>")])
    assert parser.order == [row["judge"] for row in cli]
    shown = parser.rows["cheap"]
    for _, column, show, _ in LABEL_CELLS:
        if show is str:
            continue
        value = cli[0][column]
        assert (shown[column] == "") if value is None else float(shown[column]) == pytest.approx(value), column
    assert "75.0 [" in table  # the S1 cell with its interval, as the CLI's text prints it
