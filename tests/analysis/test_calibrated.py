"""analysis.calibrated: judgments and labels matched as `judgebench agree` matches them, each model's arrays handed
to PPI++, and the whole path on real AlpacaEval annotations (a GPT-4 Turbo judge's as the labels)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from judgebench.analysis.calibrated import calibrate, calibrated_mean
from judgebench.cli import main
from judgebench.errors import ConfigError, DataError
from judgebench.formats.table import judgments_frame
from judgebench.stats.ppi import classical_mean, ppi_mean
from tests.judgments import flat

pytest.importorskip("ppi_py")


def _battles(n: int = 60) -> tuple[pd.DataFrame, list[float]]:
    """Model "b" against "a" on n items, judged in both orders (verdicts, no combined preference) on even items
    and with AlpacaEval's preference on odd ones; returns the frame and b's outcome per item."""
    rng = np.random.default_rng(0)
    judgments, outcomes = [], []
    for i in range(n):
        if i % 2:
            preference = float(rng.choice([1.0, 1.25, 1.5, 2.0]))
            judgments.append(flat("alpaca-eval", f"q{i}", "c", "b", "j", 1, "pairwise", opponent="a",
                                  preference=preference))
            outcomes.append(preference - 1)
        else:
            ab, ba = rng.choice(["win", "loss", "tie"], size=2)
            judgments.append(flat("alpaca-eval", f"q{i}", "c", "b", "j", 1, "pairwise", opponent="a",
                                  verdict_ab=str(ab), verdict_ba=str(ba)))
            outcomes.append((("loss", "tie", "win").index(ab) + ("loss", "tie", "win").index(ba)) / 4)
    return judgments_frame(judgments), outcomes


def test_each_models_win_rate_is_ppi_of_its_battles() -> None:
    frame, yhat = _battles()
    labelled = list(range(0, 60, 3))  # items q0, q3, ...: label b the winner on multiples of 6, else a tie or a
    winners = ["b" if i % 6 == 0 else "tie" if i % 9 == 0 else "model_a" for i in labelled]
    labels = pd.DataFrame({"item_id": [f"q{i}" for i in labelled], "model_a": ["a"] * len(labelled),
                           "model_b": ["b"] * len(labelled), "winner": winners})
    labels.loc[len(labels)] = ["q999", "a", "b", "tie"]  # no judgment of it
    result = calibrate(frame, labels)
    b = next(c for c in result.estimates if c.model == "b" and c.quantity == "win rate")
    y = np.array([1.0 if w == "b" else 0.5 if w == "tie" else 0.0 for w in winners])
    unlabelled = [v for i, v in enumerate(yhat) if i not in labelled]
    expected = ppi_mean(y, np.array([yhat[i] for i in labelled]), np.array(unlabelled))
    assert b.ppi.value == pytest.approx(expected.estimate, abs=1e-9)
    assert (b.ppi.low, b.ppi.high) == pytest.approx(expected.ci(), abs=1e-9)
    assert b.lam == pytest.approx(expected.lam)
    assert b.judge_only.value == pytest.approx(np.mean(yhat))
    assert b.labels_only is not None and b.labels_only.value == pytest.approx(y.mean())
    assert b.effective_labels == pytest.approx(len(y) * (classical_mean(y).se / expected.se) ** 2)
    assert (b.n_labelled, b.n_items) == (20, 60)
    a = next(c for c in result.estimates if c.model == "a" and c.quantity == "win rate")
    assert a.ppi.value == pytest.approx(1 - b.ppi.value, abs=1e-9)  # the same battles from the other side
    strength = next(c for c in result.estimates if c.quantity == "strength")
    assert strength.reference in {"a", "b"}
    assert dict(result.n_unmatched) == {"j": 1}


def test_labels_with_the_models_the_other_way_round_match_the_same_battles() -> None:
    frame, _ = _battles()
    labels = pd.DataFrame({"item_id": ["q0", "q1", "q2", "q3"], "model_a": ["a", "b", "a", "b"],
                           "model_b": ["b", "a", "b", "a"], "winner": ["model_a", "model_a", "b", "tie"]})
    swapped = labels.assign(model_a=labels["model_b"], model_b=labels["model_a"],
                            winner=labels["winner"].replace({"model_a": "model_b"}))
    ours, theirs = calibrate(frame, labels).estimates, calibrate(frame, swapped).estimates
    assert [c.ppi for c in ours] == [c.ppi for c in theirs]


def test_grades_are_matched_by_item_model_and_turn() -> None:
    rng = np.random.default_rng(1)
    grades = rng.integers(1, 11, size=40).astype(float)
    frame = judgments_frame([flat("mt-bench", str(i), "c", "m", "j", 1 + i % 2, "single", score=float(g))
                             for i, g in enumerate(grades)])
    labels = pd.DataFrame({"item_id": [str(i) for i in range(0, 40, 4)], "model": "m",
                           "turn": [1] * 10, "score": grades[::4] - 1})
    labels.loc[len(labels)] = ["0", "m", 2, 5.0]  # item 0 was judged on turn 1 only
    [c] = calibrate(frame, labels).estimates
    expected = calibrated_mean("j", "mean grade", "m", grades[::4] - 1, grades[::4],
                               np.delete(grades, np.arange(0, 40, 4)))
    assert (c.ppi.value, c.ppi.low, c.ppi.high) == pytest.approx((expected.ppi.value, expected.ppi.low,
                                                                   expected.ppi.high), abs=1e-12)
    assert c.quantity == "mean grade" and (c.n_labelled, c.n_items) == (10, 40)
    assert calibrate(frame, labels).n_unmatched == (("j", 1),)


def test_bad_labels_and_a_missing_package_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    frame, _ = _battles()
    with pytest.raises(DataError, match="labels need"):
        calibrate(frame, pd.DataFrame({"item_id": ["q0"], "verdict": ["a"]}))
    with pytest.raises(DataError, match="no model has two labelled"):
        calibrate(frame, pd.DataFrame({"item_id": ["x"], "model_a": ["a"], "model_b": ["b"], "winner": ["a"]}))
    monkeypatch.setitem(sys.modules, "ppi_py", None)
    with pytest.raises(ConfigError, match=r"judgebench\[ppi\]"):
        calibrated_mean("j", "q", "m", np.ones(3), np.ones(3), np.ones(3))


MODELS = ("alpaca-7b", "claude-2.1", "gpt-3.5-turbo-0301")


def _alpaca_eval(shared_data: Path, tmp_path: Path) -> tuple[list[Path], Path, dict[str, float]]:
    """The CoT GPT-4 Turbo judge's annotations (the judge) and the weighted GPT-4 Turbo judge's on the same
    outputs as labels, with each model's win rate over all 805 labels (the truth): a stand-in for human labels
    (shared data holds no human votes on these outputs)."""
    from judgebench.analysis.records import read_judgments

    results = shared_data / "alpaca_eval" / "results"
    judge = [results / m / "alpaca_eval_cot_gpt4_turbo_fn" / "annotations.json.gz" for m in MODELS]
    ref = read_judgments(tuple(results / m / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.gz"
                               for m in MODELS), "auto").frame
    winner = np.where(ref["preference"] > 1.5, ref["model"], np.where(ref["preference"] < 1.5, ref["opponent"], "tie"))
    labels = pd.DataFrame({"item_id": ref["item_id"], "model_a": ref["model"], "model_b": ref["opponent"],
                           "winner": winner})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    outcome = np.where(winner == ref["model"], 1.0, np.where(winner == "tie", 0.5, 0.0))
    truth = pd.Series(outcome).groupby(ref["model"].to_numpy()).mean()
    return judge, tmp_path / "labels.csv", {m: float(truth[m]) for m in MODELS}


def test_real_annotations_ppi_covers_the_full_label_win_rate(shared_data: Path, tmp_path: Path) -> None:
    judge, labels, truth = _alpaca_eval(shared_data, tmp_path)
    covered = total = 0
    gained = []
    for seed in range(10):
        out = CliRunner().invoke(main, ["calibrate", *map(str, judge), "--labels", str(labels), "--sample", "300",
                                        "--seed", str(seed), "--json"])
        assert out.exit_code == 0, out.output
        rows = [r for r in json.loads(out.stdout) if r["quantity"] == "win rate" and r["model"] in truth]
        assert len(rows) == len(MODELS)
        for r in rows:
            total += 1
            covered += r["ppi"]["low"] <= truth[r["model"]] <= r["ppi"]["high"]
            if r["effective_labels"] is not None:  # None: the labels all agree (no variance to compare)
                gained.append(r["effective_labels"] / r["n_labelled"])
            # narrower: by the standard errors (the intervals are clipped to [0, 1], which can hide it)
            assert r["ppi"]["se"] <= r["labels_only"]["se"] + 1e-12
    assert covered / total >= 0.8  # 30 intervals at 95%
    assert np.mean(gained) > 1.2  # the judge is worth more labels than were given
    text = CliRunner().invoke(main, ["calibrate", *map(str, judge), "--labels", str(labels), "--sample", "300"])
    assert text.exit_code == 0 and "PPI++" in text.stdout and "effective labels" in text.stdout


def test_a_model_in_no_labelled_battle_has_a_ppi_strength_but_no_labels_only_one() -> None:
    """Labels on a-b battles only: the labels alone cannot place c, PPI++ places it through the judge."""
    rng = np.random.default_rng(2)
    pairs = [("a", "b"), ("b", "c"), ("a", "c")]
    judgments = [flat("alpaca-eval", f"q{i}", "x", *pairs[i % 3][:1], "j", 1, "pairwise", opponent=pairs[i % 3][1],
                      preference=float(rng.choice([1.0, 1.5, 2.0]))) for i in range(90)]
    labelled = [i for i in range(90) if i % 3 == 0][:20]
    labels = pd.DataFrame({"item_id": [f"q{i}" for i in labelled], "model_a": "a", "model_b": "b",
                           "winner": rng.choice(["model_a", "model_b", "tie"], size=len(labelled))})
    strengths = {c.model: c for c in calibrate(judgments_frame(judgments), labels).estimates
                 if c.quantity == "strength"}
    assert set(strengths) == {"b", "c"} and strengths["c"].reference == "a"
    assert strengths["c"].labels_only is None and np.isfinite(strengths["c"].ppi.value)
    assert strengths["c"].ppi.high - strengths["c"].ppi.low > 0


def test_labels_matching_nothing_are_one_line_naming_the_file(shared_data: Path, tmp_path: Path) -> None:
    judged = shared_data / "alpaca_eval" / "results" / "alpaca-7b" / "alpaca_eval_cot_gpt4_turbo_fn"
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,model_a,model_b,winner\nnot-an-item,alpaca-7b,gpt4_1106_preview,model_a\n")
    out = CliRunner().invoke(main, ["calibrate", str(judged / "annotations.json.gz"), "--labels", str(labels)])
    assert out.exit_code == 1
    [line] = [x for x in out.output.splitlines() if x.startswith("Error")]
    assert str(labels) in line and "no model has two labelled" in line


def _three_models(n: int, seed: int) -> tuple[pd.DataFrame, list[tuple[str, str, float]]]:
    """Battles of a, b and c on n items (one pair each, in turn), the judge's preference 1 or 2 (or 1.5); returns
    the frame and each battle's (model, opponent, the judge's outcome for the model)."""
    rng = np.random.default_rng(seed)
    pairs = [("a", "b"), ("b", "c"), ("a", "c")]
    battles = [(*pairs[i % 3], float(rng.choice([1.0, 1.5, 2.0]))) for i in range(n)]
    judgments = [flat("alpaca-eval", f"q{i}", "x", model, "j", 1, "pairwise", opponent=opponent, preference=p)
                 for i, (model, opponent, p) in enumerate(battles)]
    return judgments_frame(judgments), [(m, o, p - 1) for m, o, p in battles]


def test_each_pairs_win_rate_is_ppi_of_that_pairs_battles() -> None:
    frame, battles = _three_models(120, 4)
    rng = np.random.default_rng(5)
    labelled = sorted(rng.choice(120, size=45, replace=False))
    winners = rng.choice(["model_a", "model_b", "tie"], size=len(labelled))
    labels = pd.DataFrame({"item_id": [f"q{i}" for i in labelled], "model_a": [battles[i][0] for i in labelled],
                           "model_b": [battles[i][1] for i in labelled], "winner": winners})
    pairs = {(c.model, c.opponent): c for c in calibrate(frame, labels).estimates if c.quantity == "pair win rate"}
    assert set(pairs) == {("a", "b"), ("a", "c"), ("b", "c")}
    points = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}
    for (first, second), found in pairs.items():
        mine = [i for i, (m, o, _) in enumerate(battles) if (m, o) == (first, second)]
        y = np.array([points[w] for i, w in zip(labelled, winners, strict=True) if i in mine])
        yhat = np.array([battles[i][2] for i in mine if i in labelled])
        rest = np.array([battles[i][2] for i in mine if i not in labelled])
        expected = ppi_mean(y, yhat, rest)
        assert found.ppi.value == pytest.approx(expected.estimate, abs=1e-9)
        assert (found.ppi.low, found.ppi.high) == pytest.approx(
            (max(expected.ci()[0], 0.0), min(expected.ci()[1], 1.0)), abs=1e-9)
        assert found.n_labelled == len(y) and found.n_items == len(mine)
    text = CliRunner().invoke(main, ["calibrate", "--help"])
    assert text.exit_code == 0


def test_strengths_come_from_ppi_python_where_the_labels_have_no_tie() -> None:
    """ppi-python's logistic PPI++ (labels 0 or 1) gives the strengths, checked against the direct computation
    (stats.ppi's Newton fit at the same lambda); labels with a tie fall to stats.ppi, said so."""
    from judgebench.analysis.calibrated import KEYS, _design, _judge_battles, _label_battles
    from judgebench.stats.ppi import ppi_logistic

    frame, battles = _three_models(150, 6)
    rng = np.random.default_rng(7)
    labelled = sorted(rng.choice(150, size=60, replace=False))
    labels = pd.DataFrame({"item_id": [f"q{i}" for i in labelled], "model_a": [battles[i][0] for i in labelled],
                           "model_b": [battles[i][1] for i in labelled],
                           "winner": rng.choice(["model_a", "model_b"], size=len(labelled))})
    strengths = [c for c in calibrate(frame, labels).estimates if c.quantity == "strength"]
    assert [c.model for c in strengths] == ["b", "c"] and {c.method for c in strengths} == {"ppi-python"}
    table = _judge_battles(frame).merge(_label_battles(labels), on=KEYS, how="left")
    x, known = _design(table, ["a", "b", "c"]), table["y"].notna().to_numpy()
    y, yhat = table["y"].to_numpy(dtype=float), table["yhat"].to_numpy(dtype=float)
    direct = ppi_logistic(x[known], y[known], yhat[known], x[~known], yhat[~known], lam=strengths[0].lam)
    for i, found in enumerate(strengths):
        assert found.ppi.value == pytest.approx(direct.coef[i], abs=1e-5)
        assert found.ppi.se == pytest.approx(direct.se[i], rel=1e-3)
    tied = labels.assign(winner=["tie", *labels["winner"][1:]])
    assert {c.method for c in calibrate(frame, tied).estimates if c.quantity == "strength"} == {"stats.ppi"}
