"""Arena-Hard-Auto's aggregations, as its show_result.py computes them. Pure numpy.

Input is *games*: one per judge verdict, from the judged model's side (``points``: 1 win, 0.5 tie, 0 loss), each
against the model's baseline, with a ``weight`` (3 for a "much better" verdict, Arena-Hard's WEIGHT).

- v0.1 (show_result.py of July 2024, the published 2024-07 leaderboards): every game is ``weight`` battles of the
  baseline (model_a) against the model (model_b); a Bradley-Terry (Elo) fit by logistic regression over the
  battles duplicated, a tie counted as one win for each side; ratings anchored at baseline = 1000; 100 bootstrap
  rounds over the battles (all models' battles pooled, seed 42); the score is the predicted win rate against the
  baseline of the full-data rating, the interval the 2.5% and 97.5% percentiles of the bootstrap ratings, each
  turned into a win rate.
- v2.0 (show_result.py of 2025): every game is ``weight`` scores (1, 0.5, 0); 100 rounds resampling each model's
  scores; the score is the mean of the rounds' means, the interval their 5% and 95% quantiles.
- v2.0 style control: the same scores fitted by Bradley-Terry with four style features of both answers (length,
  and header, list and bold density), normalized; 100 bootstrap rounds over all scores; the score is the median
  of the rounds' predicted win rates against the baseline, the interval their 5% and 95% quantiles.

Scores and bounds are percentages. Arena-Hard's bootstrap draws from numpy's global generator, unseeded in v2.0;
here every round comes from ``np.random.RandomState(ARENA_HARD_SEED)``, so a rerun prints the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Arena-Hard's num_round (show_result.py, both versions): every surface bootstraps this many times.
ARENA_HARD_ROUNDS = 100
# show_result.py of July 2024 seeds numpy with 42 before its bootstrap; v2.0 does not seed (we do, with the same).
ARENA_HARD_SEED = 42
# A model that wins (or loses) every game has no finite rating; the fit stops at this log-odds, as a solver would.
_MAX_LOGIT = 30.0


@dataclass(frozen=True)
class ArenaHardScore:
    """A model's score (percent, the baseline at 50) with its interval, and the games it played."""

    model: str
    score: float
    ci_low: float | None
    ci_high: float | None
    n_games: int


@dataclass(frozen=True)
class StyleFeatures:
    """One answer's style as Arena-Hard v2.0's add_markdown_info.py records it: token_len and the three counts."""

    tokens: float
    headers: float
    lists: float
    bold: float


def _newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Maximum-likelihood logistic coefficients (no intercept) for soft labels ``y`` with weights ``w``."""
    from scipy.special import expit

    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = expit(x @ beta)
        gradient = x.T @ (w * (y - p))
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        beta = np.clip(beta + step, -_MAX_LOGIT, _MAX_LOGIT)
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def _strengths(models: np.ndarray, points: np.ndarray, weights: np.ndarray, names: list[str]) -> np.ndarray:
    """Each model's log-odds of beating the baseline (the baseline's own is 0): show_result.py's compute_mle_elo,
    whose battles all put the baseline against one model."""
    x = (models[:, None] == np.array(names)[None, :]).astype(float)
    return _newton(x, points, weights)


def _elo(strength: np.ndarray) -> np.ndarray:
    return 1000.0 + 400.0 * strength / math.log(10.0)


def _win_rate(elo: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + 10.0 ** ((1000.0 - elo) / 400.0))


def v01_scores(models: Sequence[str], points: Sequence[float], weights: Sequence[float],
               rounds: int = ARENA_HARD_ROUNDS, seed: int = ARENA_HARD_SEED) -> list[ArenaHardScore]:
    """Arena-Hard v0.1's leaderboard (see the module): one game per row, each ``weights[i]`` battles."""
    model_arr, point_arr = np.asarray(models, dtype=object), np.asarray(points, dtype=float)
    weight_arr = np.asarray(weights, dtype=float)
    names = sorted(set(model_arr))
    # The battles as show_result.py lists them: each game repeated ``weight`` times.
    battle_models = np.repeat(model_arr, weight_arr.astype(int))
    battle_points = np.repeat(point_arr, weight_arr.astype(int))
    ones = np.ones(len(battle_points))
    full = _elo(_strengths(battle_models, battle_points, ones, names))
    boot = np.full((rounds, len(names)), np.nan)
    state = np.random.RandomState(seed)
    for r in range(rounds):  # battles.sample(frac=1.0, replace=True): n draws of battle indices
        drawn = state.choice(len(battle_points), size=len(battle_points), replace=True)
        counts = np.bincount(drawn, minlength=len(battle_points)).astype(float)
        present = {m for m in battle_models[counts > 0]}
        fitted = _elo(_strengths(battle_models, battle_points, counts, names))
        boot[r] = [fitted[i] if name in present else np.nan for i, name in enumerate(names)]
    found = []
    for i, name in enumerate(names):
        column = boot[:, i][~np.isnan(boot[:, i])]
        low, high = (np.percentile(column, [2.5, 97.5]) if len(column) else (None, None))
        found.append(ArenaHardScore(str(name), float(_win_rate(full[i])),
                                    None if low is None else float(_win_rate(low)),
                                    None if high is None else float(_win_rate(high)),
                                    int((model_arr == name).sum())))
    return found


def exploded(models: Sequence[str], points: Sequence[float], weights: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Each game as ``weight`` rows, as show_result.py's battles frame lists them; returns (models, points, index
    of the game each row came from)."""
    repeat = np.asarray(weights, dtype=float).astype(int)
    index = np.repeat(np.arange(len(repeat)), repeat)
    return np.asarray(models, dtype=object)[index], np.asarray(points, dtype=float)[index], index


def v2_scores(models: Sequence[str], points: Sequence[float], weights: Sequence[float],
              rounds: int = ARENA_HARD_ROUNDS, seed: int = ARENA_HARD_SEED) -> list[ArenaHardScore]:
    """Arena-Hard v2.0's leaderboard (see the module): rows resampled within each model, in model order."""
    row_models, row_points, _ = exploded(models, points, weights)
    names = sorted(set(row_models))
    by_model = {name: row_points[row_models == name] for name in names}
    means = np.zeros((rounds, len(names)))
    state = np.random.RandomState(seed)
    for r in range(rounds):
        for i, name in enumerate(names):
            scores = by_model[name]
            means[r, i] = scores[state.choice(len(scores), size=len(scores), replace=True)].mean()
    found = []
    for i, name in enumerate(names):
        low, high = np.quantile(means[:, i], [0.05, 0.95]) if rounds else (None, None)
        score = means[:, i].mean() if rounds else by_model[name].mean()
        n_games = int((np.asarray(models) == name).sum())
        found.append(ArenaHardScore(str(name), float(score * 100), None if low is None else float(low * 100),
                                    None if high is None else float(high * 100), n_games))
    return found


def style_features(own: Sequence[StyleFeatures], baseline: Sequence[StyleFeatures]) -> np.ndarray:
    """show_result.py's style covariates of each game, before normalization: the length difference (m - b) / (m + b),
    and for headers, lists and bold the density difference (dm - db) / (dm + db + 1), density = count / (tokens + 1)."""
    m = np.array([[f.tokens, f.headers, f.lists, f.bold] for f in own], dtype=float).reshape(-1, 4)
    b = np.array([[f.tokens, f.headers, f.lists, f.bold] for f in baseline], dtype=float).reshape(-1, 4)
    final = np.zeros_like(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        final[:, 0] = (m[:, 0] - b[:, 0]) / (m[:, 0] + b[:, 0])
        m_density, b_density = m[:, 1:] / (m[:, :1] + 1), b[:, 1:] / (b[:, :1] + 1)
        final[:, 1:] = (m_density - b_density) / (m_density + b_density + 1)
    return final


def v2_style_scores(models: Sequence[str], points: Sequence[float], weights: Sequence[float],
                    features: np.ndarray, rounds: int = ARENA_HARD_ROUNDS,
                    seed: int = ARENA_HARD_SEED) -> tuple[list[ArenaHardScore], np.ndarray]:
    """Arena-Hard v2.0's style-controlled leaderboard: ``features`` has one row per game (``style_features``); the
    rows of the exploded games are normalized to mean 0 and sample standard deviation 1 per column, as
    show_result.py normalizes its battle rows. Returns the scores and the median style coefficients (length,
    headers, lists, bold)."""
    from scipy.special import expit

    row_models, row_points, index = exploded(models, points, weights)
    names = sorted(set(row_models))
    onehot = (row_models[:, None] == np.array(names)[None, :]).astype(float)
    rows = features[index]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = (rows - rows.mean(axis=0)) / rows.std(axis=0, ddof=1)
    design = np.hstack([onehot, np.nan_to_num(normalized)])
    n, k = len(row_points), len(names)
    state = np.random.RandomState(seed)
    drawn_all = state.randint(0, n, size=(rounds, n)) if rounds else np.zeros((0, n), dtype=int)
    probabilities = np.full((max(rounds, 1), k), np.nan)
    coefficients = np.zeros((max(rounds, 1), features.shape[1]))
    for r in range(max(rounds, 1)):
        counts = np.bincount(drawn_all[r], minlength=n).astype(float) if rounds else np.ones(n)
        beta = _newton(design, row_points, counts)
        present = set(row_models[counts > 0])
        probabilities[r] = [expit(beta[i]) if name in present else np.nan for i, name in enumerate(names)]
        coefficients[r] = beta[k:]
    found = []
    for i, name in enumerate(names):
        column = probabilities[:, i][~np.isnan(probabilities[:, i])]
        median, low, high = np.quantile(column, [0.5, 0.05, 0.95]) if len(column) else (np.nan,) * 3
        found.append(ArenaHardScore(str(name), float(median * 100), float(low * 100) if rounds else None,
                                    float(high * 100) if rounds else None, int((np.asarray(models) == name).sum())))
    return found, np.median(coefficients, axis=0)
