"""Rank agreement between two scorings of the same models (e.g. a benchmark against Arena Elo, or an LLM judge's
battles against human votes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use
from .bradley_terry import fit_strengths

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

# Rank correlations are rounded to this many decimals: scipy's tau-b of a perfect agreement is 0.9999999999999998,
# which, printed beside the interval (1.0, 1.0) of resamples that came out exactly 1.0, reads as outside it.
DECIMALS = 12


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman and Kendall (tau-b) with 95% percentile bootstrap intervals over models; each interval contains its
    estimate (see ``_interval``), and every value lies in [-1, 1]."""

    n: int
    spearman: float
    spearman_ci: tuple[float, float]
    kendall: float
    kendall_ci: tuple[float, float]


def rank_statistics(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Spearman, Kendall tau-b) of two scorings of the same models; NaN where either is constant."""
    from scipy.stats import kendalltau, spearmanr

    if len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan"), float("nan")
    return _bounded(spearmanr(x, y).statistic), _bounded(kendalltau(x, y).statistic)


def _bounded(value: float) -> float:
    """A correlation without floating-point noise, in [-1, 1] (NaN stays NaN)."""
    return float(np.clip(round(float(value), DECIMALS), -1.0, 1.0)) if not np.isnan(value) else float("nan")


def rank_correlation(x: np.ndarray, y: np.ndarray, n_bootstrap: int = 1000, seed: int = 0) -> RankCorrelation:
    """Pairs where either value is missing are dropped."""
    from scipy.stats import kendalltau, spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    rng = np.random.default_rng(seed)
    rho, tau = [], []
    for _ in range(n_bootstrap):
        pick = rng.integers(0, len(x), len(x))
        if len(set(x[pick])) > 1 and len(set(y[pick])) > 1:
            r, t = rank_statistics(x[pick], y[pick])
            rho.append(r)
            tau.append(t)
    spearman = _bounded(spearmanr(x, y).statistic)
    kendall = _bounded(kendalltau(x, y).statistic)
    return RankCorrelation(len(x), spearman, _interval(rho, spearman), kendall, _interval(tau, kendall))


def _interval(values: list[float], estimate: float) -> tuple[float, float]:
    """The 95% percentile interval of the resamples, widened to the estimate where it falls outside: near a bound of
    [-1, 1] the resamples pile up on one side (all agree, or tie), and an interval that leaves out the number
    printed beside it reads as an error, not as a skewed distribution."""
    if not values:
        return (float("nan"), float("nan"))
    low, high = (float(v) for v in np.quantile(values, [0.025, 0.975]))
    if np.isnan(estimate):
        return low, high
    return min(low, estimate), max(high, estimate)


def ranking_correlation(games_x: pd.DataFrame, games_y: pd.DataFrame, n_bootstrap: int = 500,
                        seed: int = 0) -> tuple[tuple[str, ...], RankCorrelation]:
    """How alike two sets of games rank the models both have played (e.g. an LLM judge's battles and human
    votes): Spearman and Kendall between the two Bradley-Terry fits over the models in common, with 95% percentile
    intervals from resampling each set's games with replacement (the uncertainty of both rankings, not of a sample
    of models). Each set is fitted on all its games: a model's place rests on every game it played, also those
    against a model the other set never saw (two judges of AlpacaEval, each against its own baseline)."""
    common = sorted(_played(games_x) & _played(games_y))
    if len(common) < 3:
        raise ValueError(f"the two sets of games share {len(common)} model(s); a rank correlation needs 3")
    x, y = _GameArrays.of(_weighted(games_x), common), _GameArrays.of(_weighted(games_y), common)
    point = rank_statistics(x.common_strengths(), y.common_strengths())
    rng = np.random.default_rng(seed)
    rho, tau = [], []
    for _ in range(n_bootstrap):
        fx = x.common_strengths(rng.integers(0, x.n_games, x.n_games))
        fy = y.common_strengths(rng.integers(0, y.n_games, y.n_games))
        if np.isnan(fx).any() or np.isnan(fy).any():
            continue  # a model in common drew no game
        r, t = rank_statistics(fx, fy)
        if not (np.isnan(r) or np.isnan(t)):
            rho.append(r)
            tau.append(t)
    return tuple(common), RankCorrelation(len(common), point[0], _interval(rho, point[0]), point[1],
                                          _interval(tau, point[1]))


@dataclass(frozen=True)
class _GameArrays:
    """One set of games as arrays (models as indices into their sorted names), so that each bootstrap sample is
    fitted without building a DataFrame: the same games, in the same order, as ``bradley_terry`` would fit."""

    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    common: np.ndarray  # the indices of the models in common

    @classmethod
    def of(cls, games: pd.DataFrame, common: list[str]) -> _GameArrays:
        names = sorted(_played(games))
        index = {m: i for i, m in enumerate(names)}
        return cls(games["model_a"].map(index).to_numpy(dtype=np.int64),
                   games["model_b"].map(index).to_numpy(dtype=np.int64),
                   games["outcome"].to_numpy(dtype=float), np.array([index[m] for m in common], dtype=np.int64))

    @property
    def n_games(self) -> int:
        return len(self.a)

    def common_strengths(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The Bradley-Terry strengths of the models in common, fitted on ``rows`` of the games (all of them by
        default) over the models those rows play, against the first of them by name (any anchor gives the same
        ranks); NaN for a model in common that drew no game."""
        a, b, outcome = (self.a, self.b, self.outcome) if rows is None else \
            (self.a[rows], self.b[rows], self.outcome[rows])
        played, compact = np.unique(np.concatenate([a, b]), return_inverse=True)
        strengths = fit_strengths(compact[:len(a)], compact[len(a):], outcome, len(played))
        strengths = strengths - strengths[0]
        where = np.minimum(np.searchsorted(played, self.common), len(played) - 1)
        return np.where(played[where] == self.common, strengths[where], np.nan)


def _played(games: pd.DataFrame) -> set[str]:
    return set(games["model_a"]) | set(games["model_b"])


def _weighted(games: pd.DataFrame) -> pd.DataFrame:
    """A game of weight k as k games (the weights are whole numbers: 1, or STRONG_WEIGHT), in one order whatever
    order they came in (the bootstrap draws by position: the same games must give the same intervals, whether
    they are read from a run, an arena's judgments or its labels)."""
    key = ["model_a", "model_b", "outcome", "weight", "item_id"]
    games = games[[c for c in key if c in games.columns]].astype({"item_id": str} if "item_id" in games else {})
    games = games.sort_values([c for c in key if c in games.columns], kind="stable")
    return games.loc[games.index.repeat(games["weight"].round().astype(int).clip(lower=1))].reset_index(drop=True)


