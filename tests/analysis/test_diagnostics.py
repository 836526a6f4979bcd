"""Judge diagnostics against independent computations and the published figures."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from judgebench.analysis.diagnostics import FlagKind, diagnose, panel_agreement
from judgebench.analysis.records import COLUMNS, judgments_frame
from judgebench.analysis.thresholds import SHARE_AT_MAX
from judgebench.cli import main
from judgebench.formats.fastchat import pair_judgments as fastchat_pair
from judgebench.formats.fastchat import single_judgments as fastchat_single
from judgebench.stats.agreement import agreement_s1_s2, cohen_kappa, fleiss_kappa
from judgebench.stats.correlation import rank_correlation
from judgebench.stats.position_bias import classify, position_bias
from judgebench.stats.self_preference import _PanelArrays, family_of, self_preference
from judgebench.types import Failure, Judgment
from tests.judgments import flat

SKYCAMP = "mt_bench_extras/lmsys_skycamp_branch/model_judgment/gpt-4_pair.jsonl"
ALVAROBARTT = "mt_bench_extras/third_party_alvarobartt/model_judgment/gpt-4_single.jsonl.gz"


def test_position_bias_classes_follow_the_mt_bench_definitions() -> None:
    assert classify("win", "win") == "consistent"     # the candidate wins in both orders
    assert classify("tie", "tie") == "consistent"
    assert classify("win", "loss") == "biased_first"  # whoever is shown first wins
    assert classify("loss", "win") == "biased_second"
    assert classify("win", "tie") == "biased_first"
    assert classify("tie", "win") == "biased_second"
    assert classify(None, "win") == "error"


def test_position_bias_on_real_gpt4_judgments_in_both_orders(shared_data: Path) -> None:
    """Counted independently from FastChat's own g1/g2 winners: g1 shows model_1 first, g2 model_2 first."""
    path = shared_data / SKYCAMP
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    expected = {"consistent": 0, "biased_first": 0, "biased_second": 0, "error": 0}
    for row in raw:
        first_g1 = {"model_1": 1, "model_2": -1, "tie": 0}[row["g1_winner"]]  # did position A win game 1?
        first_g2 = {"model_2": 1, "model_1": -1, "tie": 0}[row["g2_winner"]]
        if row["g1_winner"] == row["g2_winner"]:
            expected["consistent"] += 1
        else:
            expected["biased_first" if first_g1 + first_g2 > 0 else "biased_second"] += 1
    (row,) = position_bias(judgments_frame(fastchat_pair(path)), ["judge"])
    assert row.n == len(raw)
    for name, count in expected.items():
        assert getattr(row, name) == pytest.approx(count / len(raw))
    assert sum(getattr(row, c) for c in expected) == pytest.approx(1.0)


def test_cohen_and_fleiss_kappa_match_sklearn_and_statsmodels() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(1, 11, 300)
    b = np.clip(a + rng.integers(-2, 3, 300), 1, 10)
    assert cohen_kappa(list(a), list(b)) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa(list(a), list(b), weights="quadratic") == pytest.approx(
        cohen_kappa_score(a, b, weights="quadratic"))
    verdicts = rng.choice(["win", "tie", "loss"], size=(200, 3))
    verdicts[:, 1] = np.where(rng.random(200) < 0.6, verdicts[:, 0], verdicts[:, 1])
    table = np.array([[sum(row == c) for c in ("win", "tie", "loss")] for row in verdicts])
    assert fleiss_kappa(table) == pytest.approx(statsmodels_fleiss(table))


def test_s1_and_s2_agreement() -> None:
    a = ["x", "y", "tie", "x", "y"]
    b = ["x", "x", "tie", "tie", "y"]
    result = agreement_s1_s2(a, b)
    assert result["s1"] == pytest.approx(3 / 5) and result["n_s1"] == 5
    assert result["s2"] == pytest.approx(2 / 3) and result["n_s2"] == 3


def _panel(bias: float, seed: int = 0) -> pd.DataFrame:
    """Two judges grade three models on 200 items; judge gpt-judge adds ``bias`` to the gpt model only."""
    rng = np.random.default_rng(seed)
    rows = []
    quality = {"gpt-4o": 7.0, "claude-3": 6.5, "llama-3": 5.0}
    for item in range(200):
        difficulty = rng.normal(0, 1)
        for model, q in quality.items():
            for judge in ("gpt-judge", "claude-judge"):
                score = q - difficulty + rng.normal(0, 1) + (bias if judge == "gpt-judge" and model == "gpt-4o" else 0)
                rows.append({"benchmark": "t", "item_id": str(item), "category": "c", "model": model,
                             "judge": judge, "turn": 1, "kind": "single", "scale_low": 1, "scale_high": 10,
                             "score": float(np.clip(np.round(score), 1, 10))})
    return frame_of(rows)


def frame_of(rows: list[dict]) -> pd.DataFrame:
    """A judgments frame with every column a loaded one has (those not given are empty)."""
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    return frame.assign(value=frame["score"])


def test_self_preference_detects_an_injected_bias_and_only_then() -> None:
    biased = {(r.judge, r.model): r for r in self_preference(_panel(bias=1.5), n_bootstrap=100)}
    row = biased[("gpt-judge", "gpt-4o")]
    # Independent difference in differences, straight from the means.
    frame = _panel(bias=1.5)
    means = frame.groupby(["judge", "model"])["score"].mean()
    expected = ((means["gpt-judge"]["gpt-4o"] - means["gpt-judge"].mean())
                - (means["claude-judge"]["gpt-4o"] - means["claude-judge"].mean()))
    assert row.value == pytest.approx(expected)
    assert row.value > 0.7 and row.ci_low > 0
    unbiased = {(r.judge, r.model): r for r in self_preference(_panel(bias=0.0), n_bootstrap=100)}
    assert unbiased[("gpt-judge", "gpt-4o")].ci_low < 0 < unbiased[("gpt-judge", "gpt-4o")].ci_high
    assert ("claude-judge", "claude-3") in unbiased


def test_families_default_and_user_map() -> None:
    assert family_of("gpt-4o") == family_of("gpt4_1106_preview") == "gpt"
    assert family_of("Qwen/Qwen2.5-7B-Instruct") == "qwen"
    assert family_of("smollm2-135m-instruct#json,t=0.7") == "smollm"
    assert family_of("Mixtral-8x7B", {"mistral": ["mistral", "mixtral"]}) == "mistral"


def test_one_judge_sharing_a_family_is_said_plainly() -> None:
    frame = _panel(bias=0.0)
    rows = self_preference(frame[frame["judge"] == "gpt-judge"], n_bootstrap=10)
    (row,) = rows
    assert row.value is None and "share the family 'gpt'" in row.note


def test_saturation_flags_the_published_arena_bench_shares() -> None:
    """gpt-4-turbo on arena-bench-v1: 10 on 55% of prompts and at least 9 on 78% (published_numbers.md's
    source; the judgment file itself is not in ../shared/data). The same shares must raise the flag."""
    n = 300
    grades = [10] * 165 + [9] * 69 + [8] * 40 + [6] * 26
    assert len(grades) == n and sum(g == 10 for g in grades) / n == 0.55 and sum(g >= 9 for g in grades) / n == 0.78
    other = [7] * 150 + [5] * 150
    frame = frame_of(
        [{"model": "gpt-4-turbo", "score": float(g), "item_id": str(i)} for i, g in enumerate(grades)]
        + [{"model": "other", "score": float(g), "item_id": str(i)} for i, g in enumerate(other)]
    ).assign(benchmark="arena-bench", judge="gpt-4", kind="single", category="hard", turn=1, scale_low=1,
             scale_high=10)
    report = diagnose(frame, n_bootstrap=200)
    (saturation,) = report.saturation
    shares = {s.model: s for s in saturation.overall.per_model}
    assert (shares["gpt-4-turbo"].share_max, shares["gpt-4-turbo"].share_top2, shares["gpt-4-turbo"].n) == (
        0.55, 0.78, 300)
    flagged = [f for f in report.flags if f.kind is FlagKind.SATURATED and f.category is None]
    assert [f.model for f in flagged] == ["gpt-4-turbo"] and "top grade 10 on 55%" in flagged[0].message


def test_saturation_reads_each_judgments_own_scale() -> None:
    """A task graded 1-5: a model at 5 on most grades is saturated; 10 is never assumed."""
    grades = [5] * 14 + [4] * 4 + [3] * 2
    frame = frame_of([{"model": "m", "score": float(g), "item_id": str(i)} for i, g in enumerate(grades)]).assign(
        benchmark="five-point", judge="j", kind="single", category="c", turn=1, scale_low=1, scale_high=5)
    report = diagnose(frame, n_bootstrap=50)
    assert report.saturation[0].overall.high == 5
    (flag,) = [f for f in report.flags if f.kind is FlagKind.SATURATED and f.category is None]
    assert flag.model == "m" and SHARE_AT_MAX <= 14 / 20 and "top grade 5 on 70%" in flag.message
    # The same grades on a 1-10 scale are far from its top.
    relaxed = diagnose(frame.assign(scale_high=10), n_bootstrap=50)
    assert not [f for f in relaxed.flags if f.kind is FlagKind.SATURATED]


def test_saturation_per_category_on_real_gpt4_grades(shared_data: Path) -> None:
    """The 800 real GPT-4 grades: each category's shares equal pandas' count on the raw file."""
    questions = {json.loads(line)["question_id"]: json.loads(line)["category"]
                 for line in (shared_data / "mt_bench/question.jsonl").read_text().splitlines()}
    frame = judgments_frame(fastchat_single(shared_data / ALVAROBARTT, {str(k): v for k, v in questions.items()}))
    report = diagnose(frame, n_bootstrap=50)
    with gzip.open(shared_data / ALVAROBARTT, "rt", encoding="utf-8") as fh:
        raw = pd.DataFrame([json.loads(line) for line in fh])
    raw = raw[raw["score"] != -1].assign(category=lambda d: d["question_id"].map(questions))
    (saturation,) = report.saturation
    by_category = {section.category: {s.model: s for s in section.per_model} for section in saturation.per_category}
    for category, part in raw.groupby("category"):
        for model, grades in part.groupby("model")["score"]:
            shares = by_category[category][model]
            assert shares.share_max == pytest.approx((grades == 10).mean())
            assert shares.share_top2 == pytest.approx((grades >= 9).mean())
    assert any(f.kind is FlagKind.SATURATED and f.category == "humanities" and f.model == "mistral-orpo-trl"
               for f in report.flags)


def test_panel_agreement_matches_sklearn_on_a_synthetic_panel() -> None:
    frame = _panel(bias=0.0)
    agreement = panel_agreement("t", frame)
    assert agreement is not None
    (pair,) = agreement.pairs
    wide = frame.pivot_table(index=["item_id", "model"], columns="judge", values="score")
    assert pair.cohen_kappa == pytest.approx(
        cohen_kappa_score(wide["claude-judge"].astype(int), wide["gpt-judge"].astype(int), weights="quadratic"))
    assert dict(agreement.aggregate)["gpt-4o"] == pytest.approx(frame[frame["model"] == "gpt-4o"]["score"].mean())


def test_diagnose_json_contract(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["diagnose", str(shared_data / SKYCAMP), "--json", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"position_bias", "self_preference", "saturation", "panel_agreement", "flags"} <= set(report)
    assert report["position_bias"][0]["judge"] == "gpt-4" and report["position_bias"][0]["benchmark"] == "mt-bench"


def test_mt_bench_against_arena_elo_in_the_blog_table(shared_data: Path) -> None:
    table = pd.read_csv(shared_data / "arena/lmsys_blog_2023-06-22_mtbench_arena_elo.csv")
    result = rank_correlation(table["mt_bench_score"].to_numpy(), table["arena_elo_2023-04-24_to_06-19"].to_numpy(),
                              n_bootstrap=300)
    assert result.n == 20
    assert result.spearman == pytest.approx(0.97, abs=0.005)
    both = table.dropna(subset=["mt_bench_score", "arena_elo_2023-04-24_to_06-19"])
    tau = kendalltau(both["mt_bench_score"], both["arena_elo_2023-04-24_to_06-19"]).statistic
    assert result.kendall == pytest.approx(tau)


def test_agree_model_level_alpaca_eval_against_arena_elo(shared_data: Path) -> None:
    paths = sorted(shared_data.glob("alpaca_eval/results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"))
    elo = "Arena Elo\n[Feb 2, 2024]"
    result = CliRunner().invoke(main, ["agree", *map(str, paths), "--labels",
                                       str(shared_data / "alpaca_eval/notebooks/benchmarks.csv"),
                                       "--label-column", elo, "--model-column", "Model", "--json"])
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)
    table = pd.read_csv(shared_data / "alpaca_eval/notebooks/benchmarks.csv").set_index("Model")
    matched = table.loc[ours["models"]]
    # Independent check: the published LC column on the same models ranks like our recomputed LC.
    published = spearmanr(matched["LC AlpacaEval 2.0"], matched[elo]).statistic
    assert ours["n"] >= 8
    assert ours["spearman"] == pytest.approx(published, abs=0.08)
    assert ours["spearman_ci"][0] <= ours["spearman"] <= ours["spearman_ci"][1]


def test_agree_item_level_pairwise_labels(shared_data: Path, tmp_path: Path) -> None:
    """Labels: the single-order (g1) winners; judgments: both orders combined. Checked by hand."""
    path = shared_data / SKYCAMP
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps({"item_id": str(r["question_id"]), "model_a": r["model_1"],
                                            "model_b": r["model_2"], "winner": r["g1_winner"],
                                            "turn": r["turn"]}) for r in raw))
    result = CliRunner().invoke(main, ["agree", str(path), "--labels", str(labels), "--json"])
    assert result.exit_code == 0, result.output
    (ours,) = json.loads(result.stdout)["items"]
    assert ours["judge"] == "gpt-4"
    # The file records some judgments twice: a judgment (question, model_1, model_2, turn) is one verdict, its last
    # record, and each label is compared with the judge's verdicts on its key; orders that disagree are a tie.
    last = {(j["question_id"], j["model_1"], j["model_2"], j["turn"]): j for j in raw}
    comparisons = [("tie" if j["g1_winner"] != j["g2_winner"] else j["g1_winner"], label["g1_winner"])
                   for label in raw for j in last.values()
                   if (j["question_id"], j["turn"]) == (label["question_id"], label["turn"])
                   and {j["model_1"], j["model_2"]} == {label["model_1"], label["model_2"]}]
    assert len(last) < len(raw)  # the file does repeat records
    assert ours["n_s1"] == len(comparisons)
    assert ours["s1"] == pytest.approx(np.mean([c == h for c, h in comparisons]))
    strict = [(c, h) for c, h in comparisons if "tie" not in (c, h)]
    assert ours["n_s2"] == len(strict)
    assert ours["s2"] == pytest.approx(np.mean([c == h for c, h in strict]))
    assert ours["cohen_kappa"] == pytest.approx(cohen_kappa_score([c for c, _ in comparisons],
                                                                  [h for _, h in comparisons]))
    per_category = dict(ours["per_category"])
    assert sum(c["n_s1"] for c in per_category.values()) == len(comparisons)


def test_diagnose_over_a_whole_frame_is_strict_json(shared_data: Path) -> None:
    report = diagnose(judgments_frame(fastchat_single(shared_data / ALVAROBARTT)), n_bootstrap=50)
    as_json = report.to_json()
    json.dumps(as_json, allow_nan=False)
    assert as_json["saturation"][0]["judge"] == "gpt-4" and as_json["saturation"][0]["overall"]["per_model"]


def _battle(judge: str, item: str, model: str, opponent: str, ab: str, ba: str) -> Judgment:
    points = {"win": 1.0, "tie": 0.5, "loss": 0.0}
    return flat(benchmark="b", item_id=item, category="c", model=model, judge=judge, turn=1, kind="battles",
                    opponent=opponent, verdict_ab=ab, verdict_ba=ba, preference=1 + (points[ab] + points[ba]) / 2)


def test_battle_diagnostics_cover_the_model_that_is_only_ever_an_opponent() -> None:
    """In a battles run the model whose name sorts last is never ``model``: the panel's aggregate and the
    leave-one-judge-out rankings must still rank it, from its opponents' judgments."""
    judgments = []
    for judge in ("j1", "j2"):
        for i in range(6):
            judgments += [_battle(judge, str(i), "a", "b", "win", "win"),
                          _battle(judge, str(i), "a", "z", "loss", "loss"),
                          _battle(judge, str(i), "b", "z", "loss", "tie")]
    report = diagnose(judgments_frame(judgments), n_bootstrap=20)
    (panel,) = report.panel_agreement
    aggregate = dict(panel.aggregate)
    # By hand: z beat a in both orders, and b's loss-and-tie against z is a preference of 1.25, a loss for b, so a
    # win for z: z wins all 12 of its battles; a wins its 6 against b and loses its 6 against z.
    assert set(aggregate) == {"a", "b", "z"}
    assert aggregate["z"] == pytest.approx(100.0)
    assert aggregate["a"] == pytest.approx(50.0)
    assert aggregate["b"] == pytest.approx(0.0)
    for row in report.leave_one_judge_out:
        assert set(row.ranking) == {"a", "b", "z"} and row.ranking[0] == "z"
    # Human votes come in one order: they say nothing about position bias (not 100% "error").
    vote = flat(benchmark="b", item_id="0", category="c", model="a", judge="human", turn=1, kind="battles",
                    opponent="b", verdict_ab="win", preference=2.0)
    assert position_bias(judgments_frame([vote])) == []


def test_battle_scores_are_the_same_in_run_stats_and_stats_battles() -> None:
    """`run` and `stats` (the kind's aggregate) and `stats --battles` (battle_groups) print one ranking: the same
    anchor, scores and intervals, whatever --bootstrap says, for each judge of a panel; a judge whose judgments
    partly failed keeps the panel's anchor."""
    from judgebench.analysis.battles import battle_groups
    from judgebench.analysis.scores import score_rows

    rng = np.random.default_rng(3)
    judgments = []
    for judge in ("j1", "j2"):
        for i in range(12):
            for model, opponent in (("a", "b"), ("a", "c"), ("b", "c")):
                ab, ba = rng.choice(["win", "tie", "loss"], 2)
                judgments.append(_battle(judge, str(i), model, opponent, str(ab), str(ba)))
    # Two of j2's battles of a failed to parse: a then has fewer games under j2 than b and c, but the same battles.
    failed = [replace(j, verdict=None, failure=Failure("parse", "AB: no verdict"))
              if j.judge == "j2" and j.model == "a" and j.item_id in ("0", "1") else j for j in judgments]
    frame = judgments_frame(failed)
    groups = {g.judge: g for g in battle_groups(frame)}
    for n_bootstrap in (1000, 50):
        rows = score_rows(frame, n_bootstrap=n_bootstrap)
        for row in rows:
            (bt,) = [r for r in groups[row.judge].rows if r.model == row.model]
            assert (row.opponent, row.score, row.ci_low, row.ci_high) == (bt.baseline, bt.bt_score, bt.ci_low,
                                                                          bt.ci_high)
    assert {g.baseline for g in groups.values()} == {"a"}


def _pandas_self_preference(frame: pd.DataFrame, judge: str, model: str) -> float:
    """The difference in differences straight from pandas means, as the module's docstring defines it."""
    means = frame.dropna(subset=["value"]).groupby(["judge", "model"])["value"].mean().unstack("model")
    relative = means.sub(means.mean(axis=1), axis=0)
    if judge not in relative.index or model not in relative.columns:
        return float("nan")
    others = relative.drop(index=judge)[model].dropna()
    return float(relative.loc[judge, model] - others.mean()) if not others.empty else float("nan")


def test_self_preference_resamples_are_the_pandas_means_of_the_drawn_items() -> None:
    """The bootstrap weights items by how often they were drawn instead of concatenating DataFrames: each sample,
    and the interval, equal what pandas gives on the resampled frame (missing values and thin samples too)."""
    frame = _panel(bias=1.0, seed=3)
    frame = frame[frame["item_id"].astype(int) < 30].copy()
    frame.loc[frame.sample(frac=0.2, random_state=1).index, "value"] = np.nan  # judgments without a value
    panel = _PanelArrays.of(frame, "gpt-judge", "gpt-4o")
    assert panel.value() == pytest.approx(_pandas_self_preference(frame, "gpt-judge", "gpt-4o"), abs=1e-12)
    items = frame["item_id"].unique()
    by_item = {item: group for item, group in frame.groupby("item_id")}
    rng = np.random.default_rng(5)
    for size in (len(items), len(items), 2, 1):
        pick = rng.choice(len(items), size=size, replace=True)
        drawn = pd.concat([by_item[items[i]] for i in pick], ignore_index=True)
        expected = _pandas_self_preference(drawn, "gpt-judge", "gpt-4o")
        found = panel.value(np.bincount(pick, minlength=len(items)))
        assert (np.isnan(found) and np.isnan(expected)) or found == pytest.approx(expected, abs=1e-12)
    (row,) = [r for r in self_preference(frame, n_bootstrap=50) if (r.judge, r.model) == ("gpt-judge", "gpt-4o")]
    rng = np.random.default_rng(0)
    samples = [_pandas_self_preference(pd.concat([by_item[i] for i in rng.choice(items, size=len(items))],
                                                 ignore_index=True), "gpt-judge", "gpt-4o") for _ in range(50)]
    low, high = np.quantile([s for s in samples if np.isfinite(s)], [0.025, 0.975])
    assert (row.ci_low, row.ci_high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
