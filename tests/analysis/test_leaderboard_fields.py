"""The leaderboard's new fields (per-category win rates, interval ranks, the ranking value) and the judges'
side-by-side rankings, each against an independent computation on the real files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from judgebench.analysis.judge_rankings import compare_judges
from judgebench.analysis.leaderboard import leaderboard, to_csv, to_json, to_markdown
from judgebench.analysis.records import read_judgments
from judgebench.publish import plots
from judgebench.stats.length_control import MIN_MODELS, DifficultyTable, ModelAnnotations, fit_difficulty

AE2 = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
AE1 = "alpaca_eval/results/{}/alpaca_eval_gpt4/annotations.json.gz"
MODELS = ["claude-2", "gpt-3.5-turbo-0301", "gpt4_0613_concise", "alpaca-7b", "vicuna-13b", "phi-2", "text_davinci_001"]


def _annotations(path: Path) -> pd.DataFrame:
    """The annotations as AlpacaEval reads them: preference a number, 0 a draw (1.5)."""
    with gzip.open(path, "rt") as fh:
        frame = pd.DataFrame(json.load(fh))
    preference = pd.to_numeric(frame["preference"], errors="coerce").replace(0.0, 1.5)
    return frame.assign(preference=preference)


@pytest.fixture(scope="module")
def ae2_files(shared_data: Path) -> list[Path]:
    return [shared_data / AE2.format(m) for m in MODELS]


def test_pairwise_rows_carry_the_win_rate_of_each_category(ae2_files: list[Path]) -> None:
    board = leaderboard(read_judgments(ae2_files).frame, n_bootstrap=50)
    assert len(board.rows) == len(MODELS)
    for row in board.rows:
        raw = _annotations(ae2_files[MODELS.index(row.model)]).dropna(subset=["preference"])
        expected = ((raw["preference"] - 1) * 100).groupby(raw["dataset"]).mean()
        assert [c for c, _ in row.per_category] == sorted(expected.index)
        for category, value in row.per_category:
            assert value == pytest.approx(expected[category], abs=1e-9), (row.model, category)
        assert row.per_turn == ((1, pytest.approx(row.score, abs=1e-9)),)  # one turn: the score itself


@pytest.fixture(scope="module")
def pool_table(shared_data: Path) -> DifficultyTable:
    """Instruction difficulty fitted on every AlpacaEval 2.0 model here (over MIN_MODELS): an LC that ranks."""
    frame = read_judgments(sorted(shared_data.glob(AE2.format("*")))).frame
    models = {str(m): ModelAnnotations.from_frame(g) for m, g in frame.groupby("model")
              if not (g["opponent"] == m).all()}
    assert len(models) >= MIN_MODELS
    return fit_difficulty(models)


def test_ranks_respect_the_intervals_of_the_ranking_value(ae2_files: list[Path], pool_table: DifficultyTable) -> None:
    board = leaderboard(read_judgments(ae2_files).frame, n_bootstrap=200, difficulty=pool_table)
    rows = board.rows
    assert all(r.ranking_value == r.length_controlled_winrate is not None for r in rows)
    assert all(r.ranked_by == "length_controlled_winrate" and not r.lc_weak for r in rows)
    # The ranking value orders the rows, best first.
    assert [r.ranking_value for r in rows] == sorted((r.ranking_value for r in rows), reverse=True)
    # The rank compares the LC's own intervals, which hold the LC (not the score's interval, moved).
    lows = [r.lc_ci_low for r in rows]
    highs = [r.lc_ci_high for r in rows]
    for r in rows:
        assert r.lc_ci_low is not None and r.lc_ci_high is not None
        assert r.lc_ci_low < r.length_controlled_winrate < r.lc_ci_high  # type: ignore[operator]
        assert (r.lc_ci_low, r.lc_ci_high) == board.scores[rows.index(r)].ranking_interval
    for n, r in enumerate(rows):
        better = [m for m in range(len(rows)) if lows[m] > highs[n]]  # type: ignore[operator]
        assert r.rank == 1 + len(better)
        assert r.tied == (sum(other.rank == r.rank for other in rows) > 1)


def test_a_weak_lc_is_flagged_and_never_ranks(ae2_files: list[Path]) -> None:
    """Seven models fit a difficulty table too thin for a headline LC: every surface flags it, the win rate ranks."""
    board = leaderboard(read_judgments(ae2_files).frame, n_bootstrap=100)
    rows = board.rows
    assert all(r.lc_weak and r.lc_table_models == len(MODELS) < MIN_MODELS for r in rows)
    assert all(r.ranked_by == "score" and r.ranking_value == r.score for r in rows)
    assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)  # type: ignore[misc]
    for r in rows:
        assert board.scores[rows.index(r)].ranking_interval == (r.ci_low, r.ci_high)
        assert "weak LC" in r.badges
    markdown = to_markdown(rows)
    assert markdown.count("(weak)") >= 2 * len(rows)  # beside each number, and in each note
    assert f"fitted on {len(MODELS)} model(s)" in markdown and "ranked by the win rate instead" in markdown


def test_table_downloads_and_plot_share_one_order(ae2_files: list[Path], pool_table: DifficultyTable) -> None:
    rows = leaderboard(read_judgments(ae2_files).frame, n_bootstrap=50, difficulty=pool_table).rows
    order = [r.model for r in rows]
    # The raw win rate would order them otherwise: the LC win rate is what ranks.
    assert order != [r.model for r in sorted(rows, key=lambda r: -(r.score or 0))]
    assert [line.split(",")[5] for line in to_csv(rows).splitlines()[1:]] == order
    assert [r["model"] for r in json.loads(to_json(rows))] == order
    table_lines = [line for line in to_markdown(rows).splitlines()[2:] if line.startswith("|")]
    assert [line.split(" | ")[1] for line in table_lines] == order
    table = pd.DataFrame([{"model": r.model, "score": r.score, "ci_low": r.ci_low, "ci_high": r.ci_high,
                           "length_controlled_winrate": r.length_controlled_winrate,
                           "ranking_value": r.ranking_value} for r in rows])
    shuffled = table.sample(frac=1, random_state=3)
    figure = plots.winrate_figure(shuffled, "t")
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert list(reversed(labels)) == order  # barh draws bottom-up: the best is at the top


def test_judges_side_by_side_against_independent_win_rates(shared_data: Path) -> None:
    files = [shared_data / pattern.format(m) for m in MODELS for pattern in (AE2, AE1)
             if (shared_data / pattern.format(m)).exists()]
    (comparison,) = compare_judges(read_judgments(files).frame, n_bootstrap=50)
    assert comparison.benchmark == "alpaca-eval"
    judges = {j.judge: j for j in comparison.judges}
    assert set(judges) == {"weighted_alpaca_eval_gpt4_turbo", "alpaca_eval_gpt4"}
    # Every battle of a judge is against its one baseline, so each model's Bradley-Terry score against that
    # baseline is its win rate: the mean of preference - 1 over its annotations.
    win_rates: dict[str, dict[str, float]] = {}
    for path in files:
        raw = _annotations(path).dropna(subset=["preference"])
        raw = raw[raw["generator_1"] != raw["generator_2"]]
        for (judge, model), part in raw.groupby(["annotator", "generator_2"]):
            win_rates.setdefault(str(judge), {})[str(model)] = float((part["preference"] - 1).mean() * 100)
    for judge, ranking in judges.items():
        scores = {m.model: m.score for m in ranking.ranking.raw if m.model != ranking.ranking.anchor}
        assert scores == pytest.approx(win_rates[judge], abs=0.05)
    reference, other = comparison.reference, next(j for j in judges if j != comparison.reference)
    assert reference == max(judges, key=lambda j: judges[j].n_games)
    common = sorted(set(win_rates[reference]) & set(win_rates[other]))
    x = np.array([win_rates[reference][m] for m in common])
    y = np.array([win_rates[other][m] for m in common])
    agreement = judges[other].agreement
    # The two anchors (gpt4_1106_preview, text_davinci_003) are each ranked by one judge only.
    assert agreement is not None and judges[other].n_common == len(common) >= 3
    assert agreement.spearman == pytest.approx(spearmanr(x, y).statistic)
    assert agreement.kendall == pytest.approx(kendalltau(x, y).statistic)
    assert judges[reference].agreement is None
