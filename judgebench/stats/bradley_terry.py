"""Bradley-Terry ratings from battles, shown as Arena-Hard shows them: each model's predicted win rate
against a baseline model, so the baseline sits at 50, with a 95% percentile bootstrap interval over battles.

A battle is (model_a, model_b, outcome) with outcome 1 = a wins, 0 = b wins, 0.5 = tie (half a win each).
The maximum-likelihood strengths come from a logistic model on the strength difference, fitted with
scipy (a tiny ridge keeps models that never lose finite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

RIDGE = 1e-6


@dataclass(frozen=True)
class BradleyTerry:
    """score: predicted win rate against ``baseline`` in percent (baseline = 50); strength: log-odds scale,
    baseline = 0; ci_low/ci_high: 95% percentile bootstrap interval of score (NaN without bootstrap)."""

    model: str
    score: float
    strength: float
    ci_low: float
    ci_high: float
    n_battles: int


def fit_logistic_strengths(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, n_models: int,
                           weight: np.ndarray | None = None, features: np.ndarray | None = None,
                           start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood (strengths, feature coefficients) of the logistic model
    P(a beats b) = expit(s[a] - s[b] + features . coefficients), each game weighted; an outcome of 0.5 is half a
    win and half a loss. Without ``features`` it is plain Bradley-Terry and the coefficients are empty. ``start``
    (strengths then coefficients) warm-starts the optimizer, as a bootstrap does from the full fit.

    The log-likelihood is concave with a Hessian of only (models + features)^2 entries, so Newton steps (scipy's
    exact trust-region method) converge in a few passes over the games where a quasi-Newton method needs dozens.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    w = np.ones(len(a)) if weight is None else np.asarray(weight, dtype=float)
    x = np.zeros((len(a), 0)) if features is None else np.asarray(features, dtype=float)
    n_params = n_models + x.shape[1]
    # The mean log-loss (not the sum) keeps the gradient's scale, and so the optimizer's tolerance, independent
    # of the number of games; the ridge is scaled with it, so the minimizer is that of the summed loss + RIDGE.
    total = max(float(w.sum()), 1e-12)
    wt = w / total
    ridge = RIDGE / total
    pair = a * n_models + b
    # einsum, not BLAS, for the products over games: BLAS threads on these tall, thin arrays cost more than they
    # save, several times more on a busy machine.

    def logits(theta: np.ndarray) -> np.ndarray:
        return theta[:n_models][a] - theta[:n_models][b] + np.einsum("gf,f->g", x, theta[n_models:])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = logits(theta)
        # -log-likelihood of a fractional outcome y: log(1 + e^z) - y z.
        nll = float(np.sum(wt * (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - outcome * z)))
        r = wt * (expit(z) - outcome)
        grad = np.empty(n_params)
        grad[:n_models] = np.bincount(a, r, n_models) - np.bincount(b, r, n_models)
        grad[n_models:] = np.einsum("gf,g->f", x, r)
        return nll + ridge * float(theta @ theta), grad + 2 * ridge * theta

    def hessian(theta: np.ndarray) -> np.ndarray:
        p = expit(logits(theta))
        v = wt * p * (1 - p)
        by_pair = np.bincount(pair, v, n_models * n_models).reshape(n_models, n_models)
        h = np.empty((n_params, n_params))
        h[:n_models, :n_models] = np.diag(by_pair.sum(0) + by_pair.sum(1)) - by_pair - by_pair.T
        vx = x * v[:, None]
        cross = np.stack([np.bincount(a, column, n_models) - np.bincount(b, column, n_models) for column in vx.T],
                         axis=1) if x.shape[1] else np.zeros((n_models, 0))
        h[:n_models, n_models:] = cross
        h[n_models:, :n_models] = cross.T
        h[n_models:, n_models:] = np.einsum("gf,gk->fk", vx, x)
        return h + 2 * ridge * np.eye(n_params)

    theta0 = np.zeros(n_params) if start is None else np.asarray(start, dtype=float)
    theta = minimize(objective, theta0, jac=True, hess=hessian, method="trust-exact", options={"gtol": 1e-9}).x
    return theta[:n_models], theta[n_models:]


def fit_strengths(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, n_models: int,
                   weight: np.ndarray | None = None) -> np.ndarray:
    return fit_logistic_strengths(a, b, outcome, n_models, weight)[0]


def bradley_terry(battles: pd.DataFrame, baseline: str) -> dict[str, float]:
    """Strengths (log-odds, baseline = 0) from a DataFrame with columns model_a, model_b, outcome."""
    models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
    if baseline not in models:
        raise ValueError(f"baseline {baseline!r} is in no battle")
    index = {m: i for i, m in enumerate(models)}
    a = battles["model_a"].map(index).to_numpy()
    b = battles["model_b"].map(index).to_numpy()
    s = fit_strengths(a, b, battles["outcome"].to_numpy(dtype=float), len(models))
    return {m: float(s[i] - s[index[baseline]]) for m, i in index.items()}


def bradley_terry_with_ci(battles: pd.DataFrame, baseline: str, n_bootstrap: int = 100,
                          seed: int = 0) -> list[BradleyTerry]:
    """Scores against the baseline with 95% percentile intervals from resampling battles with replacement."""
    from scipy.special import expit

    strengths = bradley_terry(battles, baseline)
    models = sorted(strengths)
    index = {m: i for i, m in enumerate(models)}
    a = battles["model_a"].map(index).to_numpy()
    b = battles["model_b"].map(index).to_numpy()
    outcome = battles["outcome"].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    samples = np.empty((n_bootstrap, len(models)))
    for k in range(n_bootstrap):
        # A multinomial weight per battle is the same resampling as drawing battles with replacement.
        weight = rng.multinomial(len(a), np.full(len(a), 1 / len(a))).astype(float)
        s = fit_strengths(a, b, outcome, len(models), weight)
        samples[k] = 100 * expit(s - s[index[baseline]])
    counts = pd.concat([battles["model_a"], battles["model_b"]]).value_counts()
    rows = []
    for m in models:
        low, high = (np.quantile(samples[:, index[m]], [0.025, 0.975]) if n_bootstrap else (np.nan, np.nan))
        rows.append(BradleyTerry(m, float(100 * expit(strengths[m])), strengths[m], float(low), float(high),
                                 int(counts.get(m, 0))))
    return sorted(rows, key=lambda r: -r.score)
