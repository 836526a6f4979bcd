"""The rank correlation of two sets of battles (an LLM judge's and human votes), against an independent fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from judgebench.stats.correlation import ranking_correlation

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
