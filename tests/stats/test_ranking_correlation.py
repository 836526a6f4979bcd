"""The rank correlation of two sets of battles (an LLM judge's and human votes), against an independent fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from judgebench.stats.correlation import rank_correlation, ranking_correlation

MODELS = ["m0", "m1", "m2", "m3", "m4"]


def _games(strengths: dict[str, float], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        a, b = rng.choice(MODELS, 2, replace=False)
        p = 1 / (1 + np.exp(strengths[b] - strengths[a]))
        draw = rng.random()
        rows.append((a, b, 1.0 if draw < p * 0.9 else 0.5 if draw < p * 0.9 + 0.1 else 0.0))
    return pd.DataFrame(rows, columns=["model_a", "model_b", "outcome"]).assign(weight=1.0)


def _zermelo(games: pd.DataFrame) -> dict[str, float]:
    """Bradley-Terry by Zermelo's / Hunter's MM iteration, ties as half a win each: independent of scipy's fit."""
    index = {m: i for i, m in enumerate(MODELS)}
    a = games["model_a"].map(index).to_numpy()
    b = games["model_b"].map(index).to_numpy()
    o = games["outcome"].to_numpy()
    wins = np.bincount(a, o, len(MODELS)) + np.bincount(b, 1 - o, len(MODELS))
    p = np.ones(len(MODELS))
    for _ in range(3000):
        inverse = 1 / (p[a] + p[b])
        p = wins / (np.bincount(a, inverse, len(MODELS)) + np.bincount(b, inverse, len(MODELS)))
        p /= p.sum()
    return {m: float(np.log(p[i])) for m, i in index.items()}


def test_point_estimate_matches_an_independent_bradley_terry_fit() -> None:
    judge = _games({"m0": 0.0, "m1": 0.4, "m2": 0.8, "m3": 1.2, "m4": 1.6}, 600, seed=1)
    human = _games({"m0": 0.0, "m1": 0.9, "m2": 0.5, "m3": 1.3, "m4": 1.7}, 400, seed=2)
    models, result = ranking_correlation(judge, human, n_bootstrap=200)
    assert models == tuple(MODELS)
    x, y = _zermelo(judge), _zermelo(human)
    xs, ys = [x[m] for m in MODELS], [y[m] for m in MODELS]
    assert result.spearman == pytest.approx(spearmanr(xs, ys).statistic)
    assert result.kendall == pytest.approx(kendalltau(xs, ys).statistic)
    low, high = result.spearman_ci
    assert -1 <= low <= result.spearman <= high <= 1
    assert result.n == 5


def test_interval_narrows_with_more_battles() -> None:
    truth = {"m0": 0.0, "m1": 0.3, "m2": 0.6, "m3": 0.9, "m4": 1.2}
    few = ranking_correlation(_games(truth, 60, 3), _games(truth, 60, 4), n_bootstrap=200)[1]
    many = ranking_correlation(_games(truth, 3000, 5), _games(truth, 3000, 6), n_bootstrap=200)[1]
    assert many.spearman_ci[1] - many.spearman_ci[0] < few.spearman_ci[1] - few.spearman_ci[0]
    assert many.spearman == pytest.approx(1.0)


def test_fewer_than_three_models_in_common_is_an_error() -> None:
    a = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "z"], "outcome": [1.0, 0.0], "weight": 1.0})
    b = pd.DataFrame({"model_a": ["x", "q"], "model_b": ["y", "r"], "outcome": [1.0, 0.0], "weight": 1.0})
    with pytest.raises(ValueError, match="share 2 model"):
        ranking_correlation(a, b)


@pytest.mark.parametrize("direction", [1, -1], ids=["all-agree", "all-reversed"])
def test_perfect_rank_agreement_is_exactly_one_inside_its_interval(direction: int) -> None:
    # scipy's tau-b of seven concordant pairs of values is 0.9999999999999998; we print it as 1 inside [1, 1].
    x = np.array([1.0, 2.0, 3.5, 4.0, 7.0, 8.5, 9.0])
    y = direction * np.array([10.0, 20.0, 25.0, 40.0, 41.0, 60.0, 90.0])
    result = rank_correlation(x, y, n_bootstrap=200)
    assert (result.spearman, result.kendall) == (float(direction), float(direction))
    assert result.spearman_ci == result.kendall_ci == (float(direction), float(direction))


@pytest.mark.parametrize("seed", range(6))
def test_every_interval_contains_its_estimate_and_lies_in_minus_one_to_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=6)
    y = x + rng.normal(scale=0.3 + seed / 3, size=6)
    result = rank_correlation(x, y, n_bootstrap=100)
    for estimate, (low, high) in ((result.spearman, result.spearman_ci), (result.kendall, result.kendall_ci)):
        assert -1.0 <= low <= estimate <= high <= 1.0
    assert result.spearman == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert result.kendall == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


def test_each_resample_is_fitted_as_bradley_terry_fits_that_resample_as_a_dataframe() -> None:
    """The bootstrap fits arrays, not DataFrames (the site's judge-agreement section refits 500 times per pair of
    judges): every resample, including one that leaves a model out, gives exactly bradley_terry's strengths."""
    from judgebench.stats.bradley_terry import bradley_terry
    from judgebench.stats.correlation import _GameArrays, _weighted

    truth = dict(zip(MODELS, [0.0, 0.4, 0.8, 1.2, 1.6], strict=True))
    games = _weighted(_games(truth, 40, 7))
    common = MODELS[:4]
    arrays = _GameArrays.of(games, common)
    rng = np.random.default_rng(3)
    samples = [None, *(rng.integers(0, len(games), size) for size in (len(games), len(games), 6))]
    for rows in samples:
        picked = games if rows is None else games.iloc[rows]
        played = set(picked["model_a"]) | set(picked["model_b"])
        fitted = bradley_terry(picked, min(played))
        expected = np.array([fitted.get(m, np.nan) for m in common])
        np.testing.assert_array_equal(arrays.common_strengths(rows), expected)
    assert np.isnan(arrays.common_strengths(np.array([0]))).sum() >= 2  # one game: the others drew none
