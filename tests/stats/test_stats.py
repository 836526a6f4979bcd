"""Statistics against the published numbers in ../shared/data and against independent computations."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from judgebench.analysis.records import judgments_frame, read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.cli import main
from judgebench.formats.alpaca_eval import read_annotations as alpaca_eval_annotations
from judgebench.formats.arena_hard import judgments as arena_hard
from judgebench.formats.fastchat import pair_judgments as fastchat_pair
from judgebench.stats import bradley_terry, bradley_terry_with_ci, pairwise_winrate, rank_correlation


def score_frame(rows: list) -> pd.DataFrame:
    """Score rows as a frame, the pairwise score under AlpacaEval's name for it."""
    return pd.DataFrame([asdict(r) for r in rows]).rename(columns={"score": "win_rate"})


AE2 = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
LEADERBOARD = "alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"


@pytest.fixture(scope="module")
def alpaca_eval_2(shared_data: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every AlpacaEval 2.0 annotation file, the stats computed over all of them together, and each
    generator's leaderboard name (the results directory's name)."""
    paths = sorted(shared_data.glob(AE2.format("*")))
    judgments, names = [], {}
    for path in paths:
        rows = alpaca_eval_annotations(path)
        names[rows[0].model] = path.parent.parent.name
        judgments += rows
    stats = score_frame(score_rows(judgments_frame(judgments), n_bootstrap=200))
    stats["leaderboard_name"] = stats["model"].map(names)
    return stats, names


def test_win_rates_equal_the_leaderboard(alpaca_eval_2: tuple[pd.DataFrame, dict[str, str]],
                                         shared_data: Path) -> None:
    stats, _ = alpaca_eval_2
    board = pd.read_csv(shared_data / LEADERBOARD, index_col=0)
    merged = stats.merge(board, left_on="leaderboard_name", right_index=True, suffixes=("", "_published"))
    assert len(merged) >= 40
    for _, row in merged.iterrows():
        assert abs(row["win_rate"] - row["win_rate_published"]) < 1e-6, row["model"]
        assert row["n_wins"] == row["n_wins_published"], row["model"]
        assert row["n_draws"] == row["n_draws_published"], row["model"]
        assert abs(row["standard_error"] - row["standard_error_published"]) < 1e-6, row["model"]


def test_length_controlled_win_rate_is_close_to_the_leaderboard(alpaca_eval_2: tuple[pd.DataFrame, dict[str, str]],
                                                                shared_data: Path) -> None:
    stats, _ = alpaca_eval_2
    board = pd.read_csv(shared_data / LEADERBOARD, index_col=0)
    merged = stats.merge(board, left_on="leaderboard_name", right_index=True, suffixes=("", "_published"))
    merged = merged[merged["model"] != "gpt4_1106_preview"]  # the baseline: 50 by construction on both sides
    diff = merged["length_controlled_winrate"] - merged["length_controlled_winrate_published"]
    print(f"\nLC vs leaderboard over {len(diff)} models: mean {diff.mean():+.3f}, mean |d| {diff.abs().mean():.3f}, "
          f"max |d| {diff.abs().max():.3f}")
    assert len(diff) >= 39
    assert abs(diff.mean()) <= 0.5
    assert diff.abs().mean() <= 1.0
    assert diff.abs().max() <= 5.0
    # The ranking is what users read off a leaderboard: it must survive.
    rho = spearmanr(merged["length_controlled_winrate"], merged["length_controlled_winrate_published"]).statistic
    assert rho > 0.98


def test_bootstrap_interval_agrees_with_the_normal_approximation(shared_data: Path) -> None:
    rows = alpaca_eval_annotations(shared_data / AE2.format("claude-2"))
    prefs = np.array([r.preference for r in rows], dtype=float)
    result = pairwise_winrate(prefs, n_bootstrap=2000)
    assert result.ci_low < result.win_rate < result.ci_high
    assert result.ci_low == pytest.approx(result.win_rate - 1.96 * result.standard_error, abs=0.3)
    assert result.ci_high == pytest.approx(result.win_rate + 1.96 * result.standard_error, abs=0.3)


def test_mt_bench_scores_equal_the_mean_of_the_files_ratings(shared_data: Path) -> None:
    path = shared_data / "mt_bench_extras/third_party_alvarobartt/model_judgment/gpt-4_single.jsonl.gz"
    result = CliRunner().invoke(main, ["stats", str(path), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = pd.DataFrame([json.loads(line) for line in fh])
    valid = raw[raw["score"] != -1]
    assert set(rows) == set(raw["model"]) and len(rows) == 4
    for model, group in valid.groupby("model"):
        assert rows[model]["score"] == pytest.approx(group["score"].mean(), abs=1e-12)
        per_turn = dict(rows[model]["per_turn"])
        assert per_turn[1] == pytest.approx(group[group["turn"] == 1]["score"].mean(), abs=1e-12)
        assert per_turn[2] == pytest.approx(group[group["turn"] == 2]["score"].mean(), abs=1e-12)
        assert rows[model]["n_parse_failures"] == int((raw[raw["model"] == model]["score"] == -1).sum())
        assert rows[model]["scale"] == [1, 10] and rows[model]["benchmark"] == "mt-bench"
    keys = {"model", "score", "per_turn", "per_category", "n_parse_failures", "ci_low", "ci_high"}
    assert keys <= set(rows["mistral-orpo"])


def test_stats_json_contract_for_pairwise(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["stats", str(shared_data / AE2.format("claude-2")), "--json",
                                       "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    for key in ("benchmark", "model", "opponent", "n_judged", "score", "standard_error", "ci_low", "ci_high",
                "n_wins", "n_draws", "length_controlled_winrate", "lc_note", "avg_length"):
        assert key in row
    assert row["model"] == "claude-2" and row["n_judged"] == 805 and row["benchmark"] == "alpaca-eval"
    assert row["opponent"] == "gpt4_1106_preview"
    # One model alone: its LC leans on the priors, and the output says so.
    assert row["lc_note"]


def test_lc_alpaca_eval_ranks_like_arena_elo(shared_data: Path) -> None:
    table = pd.read_csv(shared_data / "alpaca_eval/notebooks/benchmarks.csv")
    elo = table.columns[1]
    result = rank_correlation(table["LC AlpacaEval 2.0"].to_numpy(), table[elo].to_numpy(), n_bootstrap=300)
    assert result.n == 37
    assert result.spearman == pytest.approx(0.975, abs=0.0005)
    assert result.spearman_ci[0] < result.spearman < result.spearman_ci[1]
    assert 0 < result.kendall < result.spearman


def _mm_bradley_terry(battles: pd.DataFrame) -> dict[str, float]:
    """Hunter's (2004) MM algorithm, written independently of judgebench's optimizer; ties count half."""
    models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
    wins = dict.fromkeys(models, 0.0)
    pairs: dict[tuple[str, str], float] = {}
    for a, b, outcome in battles[["model_a", "model_b", "outcome"]].itertuples(index=False):
        wins[a] += outcome
        wins[b] += 1 - outcome
        key = (min(a, b), max(a, b))
        pairs[key] = pairs.get(key, 0) + 1
    p = dict.fromkeys(models, 1.0)
    for _ in range(5000):
        new = {}
        for m in models:
            denominator = sum(n / (p[a] + p[b]) for (a, b), n in pairs.items() if m in (a, b))
            new[m] = wins[m] / denominator
        total = sum(new.values())
        p = {m: v / total for m, v in new.items()}
    return {m: float(np.log(v)) for m, v in p.items()}


def test_bradley_terry_matches_an_independent_mm_fit() -> None:
    rng = np.random.default_rng(1)
    true = {"base": 0.0, "m1": 0.8, "m2": -0.5, "m3": 1.5}
    rows = []
    names = list(true)
    for _ in range(3000):
        a, b = rng.choice(names, 2, replace=False)
        p = 1 / (1 + np.exp(-(true[a] - true[b])))
        u = rng.random()
        rows.append((a, b, 1.0 if u < p * 0.9 else (0.5 if u < p * 0.9 + 0.1 else 0.0)))
    battles = pd.DataFrame(rows, columns=["model_a", "model_b", "outcome"])
    ours = bradley_terry(battles, baseline="base")
    reference = _mm_bradley_terry(battles)
    for m in names:
        assert ours[m] == pytest.approx(reference[m] - reference["base"], abs=1e-3)


def test_bradley_terry_two_models_is_the_win_rate() -> None:
    battles = pd.DataFrame({"model_a": ["x"] * 10, "model_b": ["base"] * 10,
                            "outcome": [1, 1, 1, 1, 1, 1, 0, 0, 0.5, 0.5]})
    rows = {r.model: r for r in bradley_terry_with_ci(battles, baseline="base", n_bootstrap=200)}
    assert rows["base"].score == pytest.approx(50.0)
    assert rows["x"].score == pytest.approx(70.0, abs=1e-3)  # 7 of 10 wins, ties as half
    assert rows["x"].ci_low < 70 < rows["x"].ci_high


def test_fastchat_pairwise_import_on_real_gpt4_judgments(shared_data: Path) -> None:
    path = shared_data / "mt_bench_extras/lmsys_skycamp_branch/model_judgment/gpt-4_pair.jsonl"
    judgments = fastchat_pair(path)
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert len(judgments) == len(raw)
    for j, row in zip(judgments, raw, strict=True):
        expected = {"model_1": "win", "model_2": "loss", "tie": "tie"}
        assert j.verdict_ab == expected[row["g1_winner"]]
        assert j.verdict_ba == expected[row["g2_winner"]]


def test_arena_hard_games_import(tmp_path: Path) -> None:
    """Arena-Hard's layout: game 1 shows the baseline as A, game 2 the model as A."""
    path = tmp_path / "m.jsonl"
    games = [
        ({"score": "B>A"}, {"score": "A>>B"}),  # model wins both
        ({"score": "A>B"}, {"score": "A>B"}),   # position bias: inconsistent -> tie
        ({"score": "A=B"}, {"score": "B>A"}),   # tie, then loss -> inconsistent
        ({"score": "A>>B"}, {"score": None}),   # unparsed second game: failed
    ]
    path.write_text("\n".join(json.dumps({"question_id": f"q{i}", "model": "m", "judge": "gpt-4", "baseline": "b",
                                          "games": list(g)}) for i, g in enumerate(games)))
    rows = arena_hard(path)
    assert [r.preference for r in rows] == [2.0, 1.5, 1.5, None]
    assert rows[3].error is not None
    assert read_judgments([path]).frame["verdict_ab"].iloc[0] == "win"


def test_judgebench_runs_and_alpaca_files_give_the_same_statistics(shared_data: Path, tmp_path: Path) -> None:
    """The same annotations through judgebench's own results format give the same numbers."""
    from judgebench.formats import judgebench as store

    rows = alpaca_eval_annotations(shared_data / AE2.format("claude-2"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    store.write_json_atomic(run_dir / store.CONFIG, {"task": {"name": "alpaca-eval-2", "benchmark": "alpaca-eval"}})
    writer = store.JsonlWriter(run_dir / store.JUDGMENTS)
    for j in rows:
        writer.append(store.judgment_record(j))
    writer.close()
    direct = score_rows(judgments_frame(rows), n_bootstrap=100)
    via_run = score_rows(read_judgments([run_dir]).frame, n_bootstrap=100)
    assert direct == via_run


def test_spearman_helper_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=30), rng.normal(size=30)
    assert rank_correlation(x, y, n_bootstrap=10).spearman == pytest.approx(spearmanr(x, y).statistic)


def test_battles_against_one_baseline_give_the_published_win_rates(shared_data: Path) -> None:
    """With every battle against gpt4_1106_preview, Bradley-Terry's predicted win rate is the win rate itself:
    the leaderboard's numbers, computed by a different route."""
    models = ["claude-2", "alpaca-7b", "gpt-3.5-turbo-0301"]
    result = CliRunner().invoke(main, ["stats", "--battles", "--json", "--bootstrap", "20",
                                       *[str(shared_data / AE2.format(m)) for m in models]])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    board = pd.read_csv(shared_data / LEADERBOARD, index_col=0)
    assert rows["gpt4_1106_preview"]["bt_score"] == pytest.approx(50.0)
    for model in models:
        assert rows[model]["bt_score"] == pytest.approx(board.loc[model, "win_rate"], abs=0.01)
        assert rows[model]["ci_low"] < rows[model]["bt_score"] < rows[model]["ci_high"]


def test_bootstrap_intervals_of_many_items_are_drawn_in_blocks_with_the_same_draws(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past COUNTS_LIMIT the (resamples x items) counts matrix is not built; the blocks draw the same items from
    the same generator, so the interval is the one the matrix gives (to rounding)."""
    from judgebench.stats import winrate

    values = np.random.default_rng(3).normal(size=1500)
    whole = winrate.bootstrap_ci(values, n_samples=400, seed=5)
    monkeypatch.setattr(winrate, "COUNTS_LIMIT", 1000)
    monkeypatch.setattr(winrate, "COUNT_BLOCK_ENTRIES", 7000)  # blocks of 4 resamples, the last one shorter
    blocks = winrate.bootstrap_ci(values, n_samples=400, seed=5)
    assert blocks == pytest.approx(whole, abs=1e-12)


@pytest.mark.parametrize(("n", "n_samples"), [(8000, 500), (3, 50000), (7, 30001), (50001, 3), (1, 5), (15, 200),
                                              (10, 0)])
def test_resample_counts_counted_by_blocks_are_the_counts_of_all_the_draws_at_once(n: int, n_samples: int) -> None:
    """The counts are drawn and counted a block of resamples at a time (blocks of odd sizes included): the very
    counts of the draws ``rng.integers(0, n, size=(n_samples, n))`` made at once, so every interval is unchanged."""
    from judgebench.stats import winrate

    draws = np.random.default_rng(11).integers(0, n, size=(n_samples, n))
    expected = np.zeros((n_samples, n))
    for row, drawn in enumerate(draws):
        expected[row] = np.bincount(drawn, minlength=n)
    winrate._COUNTS.clear()
    found = winrate.resample_counts(n, n_samples, 11)
    assert found.shape == (n_samples, n) and found.dtype == np.float64 and not found.flags.writeable
    assert np.array_equal(found, expected)
    assert found.sum() == n * n_samples


@pytest.mark.parametrize(("n", "n_samples"), [(8000, 1000), (50001, 81), (3, 40000)])
def test_resample_means_are_the_same_whatever_the_block(monkeypatch: pytest.MonkeyPatch, n: int,
                                                        n_samples: int) -> None:
    """Past COUNTS_LIMIT the means are drawn a block at a time: the block's size changes no mean, bit for bit."""
    from judgebench.stats import winrate

    values = np.random.default_rng(4).normal(size=n)
    small = winrate._chunked_means(values, n_samples, 9)
    monkeypatch.setattr(winrate, "COUNT_BLOCK_ENTRIES", 4_000_000)  # one block, or a few large ones
    assert np.array_equal(winrate._chunked_means(values, n_samples, 9), small)


def test_the_kept_counts_stay_within_their_bytes_and_give_the_same_intervals() -> None:
    """Intervals over many slightly different numbers of items (models with a few failures each) keep at most
    COUNTS_MEMO_BYTES of counts (eight 32 MB matrices were kept before), and a matrix let go and drawn again gives
    the very same interval."""
    from judgebench.stats import winrate

    winrate._COUNTS.clear()
    rng = np.random.default_rng(3)
    samples = {n: rng.random(n) for n in range(3993, 4001)}
    first = {n: winrate.bootstrap_ci(values) for n, values in samples.items()}
    assert 0 < winrate._COUNTS.nbytes <= winrate.COUNTS_MEMO_BYTES
    again = winrate.resample_counts(4000, winrate.DEFAULT_BOOTSTRAP, winrate.DEFAULT_SEED)
    assert winrate.resample_counts(4000, winrate.DEFAULT_BOOTSTRAP, winrate.DEFAULT_SEED) is again  # kept: shared
    assert {n: winrate.bootstrap_ci(values) for n, values in samples.items()} == first  # drawn again: the same
    winrate._COUNTS.clear()
    assert winrate.bootstrap_ci(samples[3993]) == first[3993]
