"""stats.ppi against the method's authors' package (ppi-python) and against statsmodels' logistic regression."""

from __future__ import annotations

import numpy as np
import pytest

from judgebench.stats.ppi import classical_logistic, classical_mean, ppi_logistic, ppi_mean

ppi_py = pytest.importorskip("ppi_py")
sm = pytest.importorskip("statsmodels.api")


def _judged(seed: int, n: int = 150, big_n: int = 1500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary labels on n items, a judge right 80% of the time and biased towards 1 elsewhere, on n + N items."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n + big_n) < 0.4).astype(float)
    yhat = np.where(rng.random(n + big_n) < 0.8, y, (rng.random(n + big_n) < 0.7).astype(float))
    return y[:n], yhat[:n], yhat[n:]


@pytest.mark.parametrize("lam", [None, 0.0, 1.0, 0.4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_mean_is_ppi_pythons(seed: int, lam: float | None) -> None:
    y, yhat, yhat_u = _judged(seed)
    ours = ppi_mean(y, yhat, yhat_u, lam=lam)
    assert ours.estimate == pytest.approx(float(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=lam)[0]), abs=1e-9)
    low, high = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.05, lam=lam)
    assert ours.ci() == pytest.approx((float(low[0]), float(high[0])), abs=1e-9)
    if lam is not None:
        assert ours.lam == lam


def test_lambda_zero_is_the_labels_mean_and_a_useless_judge_gets_no_weight() -> None:
    y, yhat, yhat_u = _judged(3)
    assert ppi_mean(y, yhat, yhat_u, lam=0.0).estimate == pytest.approx(y.mean())
    assert ppi_mean(y, yhat, yhat_u, lam=0.0).se == pytest.approx(classical_mean(y).se)
    rng = np.random.default_rng(4)
    noise = ppi_mean(y, rng.random(len(y)), rng.random(len(yhat_u)))
    assert noise.lam < 0.2  # unrelated to the labels: (almost) no weight, (almost) the classical interval


def _battles(seed: int, n: int, big_n: int) -> tuple[np.ndarray, ...]:
    """Bradley-Terry battles of four models (three coefficients, the fourth the reference), binary outcomes and a
    judge flipping 20% of them."""
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, 4, size=(n + big_n, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]][: n + big_n]
    x = np.zeros((len(pairs), 4))
    x[np.arange(len(pairs)), pairs[:, 0]] += 1
    x[np.arange(len(pairs)), pairs[:, 1]] -= 1
    x = x[:, 1:]
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-x @ np.array([0.5, -0.4, 1.0])))).astype(float)
    yhat = np.where(rng.random(len(x)) < 0.8, y, 1 - y)
    n = min(n, len(x) - 2)
    return x[:n], y[:n], yhat[:n], x[n:], yhat[n:]


def test_the_logistic_glm_is_ppi_pythons_on_labels_without_ties() -> None:
    # One test, not one per lambda: ppi_py's logistic code is compiled by numba (seconds) in each process that runs it.
    x, y, yhat, x_u, yhat_u = _battles(5, 300, 2000)
    for lam in (None, 0.0, 1.0, 0.3):
        ours = ppi_logistic(x, y, yhat, x_u, yhat_u, lam=lam)
        low, high = ppi_py.ppi_logistic_ci(x, y, yhat, x_u, yhat_u, alpha=0.05, lam=lam)
        assert ours.coef == pytest.approx((low + high) / 2, abs=1e-6), lam
        assert 2 * 1.959963984540054 * ours.se == pytest.approx(high - low, abs=1e-6), lam


def test_lambda_zero_is_statsmodels_logit_on_the_labelled_battles() -> None:
    x, y, yhat, x_u, yhat_u = _battles(6, 400, 1000)
    ours = ppi_logistic(x, y, yhat, x_u, yhat_u, lam=0.0)
    fit = sm.Logit(y, x).fit(disp=0, cov_type="HC0")
    n = len(y)
    assert ours.coef == pytest.approx(fit.params, abs=1e-6)
    # PPI's sandwich estimates the gradients' covariance with 1/(n-1), HC0 with 1/n
    assert ours.se == pytest.approx(fit.bse * np.sqrt(n / (n - 1)), rel=1e-6)
    assert classical_logistic(x, y).coef == pytest.approx(fit.params, abs=1e-6)


def test_lambda_one_with_a_judge_right_on_every_label_is_the_judges_fit_on_the_unlabelled() -> None:
    x, y, _, x_u, yhat_u = _battles(7, 200, 1500)
    ours = ppi_logistic(x, y, y, x_u, yhat_u, lam=1.0)
    assert ours.coef == pytest.approx(sm.Logit(yhat_u, x_u).fit(disp=0).params, abs=1e-6)


def test_a_tie_is_half_a_win_and_half_a_loss() -> None:
    """A label of 1/2 fits as a win and a loss of weight 1/2 each (Chatbot Arena's convention)."""
    x, y, *_ = _battles(8, 300, 10)
    y = np.where(np.arange(len(y)) % 5 == 0, 0.5, y)
    doubled_x = np.concatenate([x, x])
    doubled_y = np.concatenate([np.ceil(y), np.floor(y)])
    weights = np.concatenate([np.where(y == 0.5, 0.5, 1.0), np.where(y == 0.5, 0.5, 0.0)])
    fit = sm.GLM(doubled_y, doubled_x, family=sm.families.Binomial(), freq_weights=weights).fit()
    assert classical_logistic(x, y).coef == pytest.approx(fit.params, abs=1e-6)


def test_separated_labels_have_no_finite_strength() -> None:
    """A model that wins every labelled battle: the likelihood grows without bound, and the fit says so."""
    x = np.array([[1.0], [1.0], [-1.0], [1.0]])
    with pytest.raises(np.linalg.LinAlgError):
        classical_logistic(x, np.array([1.0, 1.0, 0.0, 1.0]))
