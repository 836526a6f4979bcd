"""Prediction-powered inference, power-tuned (PPI++: Angelopoulos, Duchi and Zrnic 2023, arXiv:2311.01453). Pure
numpy/scipy.

A judge's verdict ``yhat`` on every item, a human label ``y`` on a random subset of ``n`` of them (the other ``N``
are unlabelled): the estimate uses the judge everywhere and the labels to remove its bias. ``lam`` (in [0, 1])
weighs the judge: 0 is the classical estimate from the labels alone, 1 plain PPI; ``None`` picks the value that
minimises the estimate's variance, as the authors' ``ppi-python`` does. The intervals are normal (CLT) intervals.

``ppi_mean`` is the mean (a win rate, a mean grade), checked in the tests against ``ppi_py`` to 1e-9.
``ppi_logistic`` is a logistic GLM without intercept (Bradley-Terry strengths). ``ppi_py`` has one too, but it
initialises with scikit-learn's classifier, which refuses a fractional label, and a tie is a label of 0.5 here;
ours takes any label in [0, 1] and is checked against ``ppi_py`` on labels without ties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from scipy.stats import norm


@dataclass(frozen=True)
class PPIMean:
    """A PPI++ estimate of a mean: ``se`` its standard error, ``lam`` the judge's weight, ``n`` labelled and
    ``n_unlabelled`` items."""

    estimate: float
    se: float
    lam: float
    n: int
    n_unlabelled: int

    def ci(self, alpha: float = 0.05) -> tuple[float, float]:
        half = float(norm.ppf(1 - alpha / 2)) * self.se
        return self.estimate - half, self.estimate + half


def mean_lambda(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray) -> float:
    """The variance-minimising weight of the judge for a mean, clipped to [0, 1]: cov(y, yhat) over (1 + n/N)
    times the judge's variance on all items (the labelled ones' covariance with 1/n, the variance with 1/(n+N-1),
    as ppi-python estimates them)."""
    n, big_n = len(y), len(yhat_unlabelled)
    cov = float(np.mean((y - y.mean()) * (yhat - yhat.mean())))
    var = float(np.var(np.concatenate([yhat, yhat_unlabelled]), ddof=1))
    if var == 0:
        return 0.0  # a judge that says the same thing everywhere carries no information
    return float(np.clip(cov / ((1 + n / big_n) * var), 0.0, 1.0))


def ppi_mean(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray, lam: float | None = None) -> PPIMean:
    """The PPI++ mean: lam times the judge's mean on the unlabelled items plus the labelled items' mean of
    ``y - lam * yhat`` (the judge's bias, measured where there are labels)."""
    y, yhat, yhat_u = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabelled))
    if lam is None:
        lam = mean_lambda(y, yhat, yhat_u)
    n, big_n = len(y), len(yhat_u)
    estimate = lam * yhat_u.mean() + np.mean(y - lam * yhat)
    variance = lam**2 * np.var(yhat_u) / big_n + np.var(y - lam * yhat) / n
    return PPIMean(float(estimate), float(np.sqrt(variance)), float(lam), n, big_n)


@dataclass(frozen=True)
class PPIGLM:
    """A PPI++ estimate of a GLM's coefficients, with their standard errors and the judge's weight ``lam``."""

    coef: np.ndarray
    se: np.ndarray
    lam: float
    n: int
    n_unlabelled: int


def _log1pexp(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _rectified_fit(x: np.ndarray, y: np.ndarray, yhat: np.ndarray, x_u: np.ndarray, yhat_u: np.ndarray,
                   lam: float, start: np.ndarray) -> np.ndarray:
    """argmin of lam * (judge's loss on the unlabelled) - lam * (judge's loss on the labelled) + (labels' loss):
    convex for lam in [0, 1], since the labelled items' log-partition terms keep weight 1 - lam >= 0. Newton's
    method with step halving (a few iterations for the handful of coefficients of a ranking)."""
    n, share = len(y), lam / max(len(yhat_u), 1)
    target = y - lam * yhat

    def loss(theta: np.ndarray) -> float:
        z, z_u = x @ theta, x_u @ theta
        return float(share * np.sum(_log1pexp(z_u) - yhat_u * z_u)
                     + np.sum((1 - lam) * _log1pexp(z) - target * z) / n)

    theta, value = start.copy(), loss(start)
    for _ in range(100):
        mu, mu_u = expit(x @ theta), expit(x_u @ theta)
        grad = share * x_u.T @ (mu_u - yhat_u) + x.T @ ((1 - lam) * mu - target) / n
        hessian = share * (x_u.T * (mu_u * (1 - mu_u))) @ x_u + (1 - lam) / n * (x.T * (mu * (1 - mu))) @ x
        step = np.linalg.solve(hessian, grad)
        for _ in range(50):  # halve the step until the loss does not grow
            candidate = theta - step
            new = loss(candidate)
            if new <= value + 1e-15:
                break
            step = step / 2
        theta, value = candidate, new
        if np.max(np.abs(step)) < 1e-12:
            return theta
    # Still moving after 100 Newton steps: the data are separated (a model that wins every battle has an infinite
    # strength), so there is no finite estimate.
    raise np.linalg.LinAlgError("the logistic fit does not converge: no finite estimate")


def _glm_stats(theta: np.ndarray, x: np.ndarray, y: np.ndarray, yhat: np.ndarray, x_u: np.ndarray,
               yhat_u: np.ndarray, use_unlabelled: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-item gradients of the loss (labels, judge on labelled, judge on unlabelled) and the inverse Hessian."""
    mu, mu_u = expit(x @ theta), expit(x_u @ theta)
    grads, grads_hat, grads_hat_u = x * (mu - y)[:, None], x * (mu - yhat)[:, None], x_u * (mu_u - yhat_u)[:, None]
    hessian = (x.T * (mu * (1 - mu))) @ x
    if use_unlabelled:
        hessian = (hessian + (x_u.T * (mu_u * (1 - mu_u))) @ x_u) / (len(y) + len(yhat_u))
    else:
        hessian = hessian / len(y)
    return grads, grads_hat, grads_hat_u, np.linalg.inv(hessian)


def glm_lambda(grads: np.ndarray, grads_hat: np.ndarray, grads_hat_u: np.ndarray, inv_hessian: np.ndarray) -> float:
    """The weight minimising the total variance of the coefficients (the trace of their covariance)."""
    n, big_n = len(grads), len(grads_hat_u)
    gc, hc = grads - grads.mean(axis=0), grads_hat - grads_hat.mean(axis=0)
    cov = (gc.T @ hc + hc.T @ gc) / n
    var = np.atleast_2d(np.cov(np.concatenate([grads_hat, grads_hat_u]).T))
    denominator = 2 * (1 + n / big_n) * np.trace(inv_hessian @ var @ inv_hessian)
    if denominator == 0:
        return 0.0
    return float(np.clip(np.trace(inv_hessian @ cov @ inv_hessian) / denominator, 0.0, 1.0))


def ppi_logistic(x: np.ndarray, y: np.ndarray, yhat: np.ndarray, x_unlabelled: np.ndarray,
                 yhat_unlabelled: np.ndarray, lam: float | None = None) -> PPIGLM:
    """PPI++ logistic regression (no intercept) with labels and judge verdicts in [0, 1]. With ``lam=None`` the
    weight is tuned as ppi-python's interval tunes it: fit at lam=1, tune, refit, tune again at that fit, refit.
    Raises numpy's LinAlgError where there is no finite estimate (a coefficient the data do not determine)."""
    x, x_u = np.asarray(x, dtype=float), np.asarray(x_unlabelled, dtype=float)
    y, yhat, yhat_u = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabelled))
    # From zero, not from the labels' own fit as ppi-python starts: a model in no labelled battle has none.
    start = np.zeros(x.shape[1])
    if lam is None:
        weight = 1.0
        for _ in range(2):
            theta = _rectified_fit(x, y, yhat, x_u, yhat_u, weight, start)
            weight = glm_lambda(*_glm_stats(theta, x, y, yhat, x_u, yhat_u, True))
        lam = weight
    theta = _rectified_fit(x, y, yhat, x_u, yhat_u, lam, start)
    grads, grads_hat, grads_hat_u, inv_h = _glm_stats(theta, x, y, yhat, x_u, yhat_u, lam != 0)
    n, big_n = len(y), len(yhat_u)
    var = np.atleast_2d(np.cov((grads - lam * grads_hat).T))
    if lam:
        var = var + n / big_n * np.atleast_2d(np.cov((lam * grads_hat_u).T))
    sigma = inv_h @ var @ inv_h
    return PPIGLM(theta, np.sqrt(np.diag(sigma) / n), float(lam), n, big_n)


def classical_logistic(x: np.ndarray, y: np.ndarray) -> PPIGLM:
    """Logistic regression (no intercept) on labelled items alone, with sandwich standard errors: PPI++ at lam=0."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return ppi_logistic(x, y, y, x[:0], y[:0], lam=0.0)


def classical_mean(y: np.ndarray) -> PPIMean:
    """The mean of labelled items alone with its CLT standard error: PPI++ at lam=0."""
    y = np.asarray(y, dtype=float)
    return PPIMean(float(y.mean()), float(np.std(y) / np.sqrt(len(y))), 0.0, len(y), 0)
