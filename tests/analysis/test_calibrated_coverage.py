"""PPI++ by seeded simulation: a judge biased in a known way, labels on a random tenth of the items. Over 200
replicates the PPI++ 95% interval covers the truth about 95% of the time (asserted >= 90%: the binomial standard
deviation of 200 replicates at 95% is 1.5 points), where the judge-only interval almost never does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from judgebench.analysis.calibrated import Estimate, calibrated_mean
from judgebench.stats.ppi import classical_logistic, ppi_logistic

pytest.importorskip("ppi_py")

REPLICATES = 200
N_ITEMS, N_LABELLED = 1000, 100


def _covers(e: Estimate, truth: float) -> bool:
    return e.low <= truth <= e.high


Simulation = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _coverage(simulate: Simulation, truth: float) -> tuple[float, float, float]:
    """Shares of replicates whose PPI++ and judge-only intervals cover the truth, and the mean effective labels."""
    ppi = judge = 0
    effective = []
    for seed in range(REPLICATES):
        rng = np.random.default_rng(seed)
        y, yhat = simulate(rng)
        labelled = rng.permutation(N_ITEMS) < N_LABELLED  # a random subset of the items is labelled
        c = calibrated_mean("judge", "q", "a", y[labelled], yhat[labelled], yhat[~labelled])
        ppi += _covers(c.ppi, truth)
        judge += _covers(c.judge_only, truth)
        effective.append(c.effective_labels)
    return ppi / REPLICATES, judge / REPLICATES, float(np.mean(effective))


def _win_rate_judge(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Model A truly wins 55% of its battles; the judge agrees with the human 85% of the time and otherwise
    picks A, except that it turns a third of A's true losses into wins: it prefers A 15 points too often."""
    y = (rng.random(N_ITEMS) < 0.55).astype(float)
    yhat = np.where((y == 0) & (rng.random(N_ITEMS) < 1 / 3), 1.0, y)
    noisy = rng.random(N_ITEMS) < 0.15
    yhat = np.where(noisy, (rng.random(N_ITEMS) < 0.5).astype(float), yhat)
    return y, yhat


def test_the_win_rate_interval_covers_the_truth_where_the_judges_does_not() -> None:
    ppi, judge, effective = _coverage(_win_rate_judge, 0.55)
    assert ppi >= 0.90
    assert judge < 0.5
    assert effective > N_LABELLED  # the judge is worth labels: more than the 100 given


def _grade_judge(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Human grades uniform on 3..9 (mean 6); a lenient judge: a point and a half higher on average, with noise."""
    y = rng.integers(3, 10, size=N_ITEMS).astype(float)
    yhat = np.clip(y + 1.5 + rng.normal(0, 1.0, size=N_ITEMS), 1, 10)
    return y, yhat


def test_the_mean_grade_interval_covers_the_truth_where_the_judges_does_not() -> None:
    ppi, judge, effective = _coverage(_grade_judge, 6.0)
    assert ppi >= 0.90
    assert judge < 0.5
    assert effective > 2 * N_LABELLED  # a judge that tracks the grades closely is worth many labels


STRENGTHS = np.array([0.6, -0.3, 0.0])  # three models against the reference (strength 0)


def _bt_battles(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Battles of four models (Bradley-Terry design without the reference's column). The judge over-rates the
    first model: in a quarter of its battles it gives it the win whatever happened; elsewhere it is right."""
    pairs = np.array([(i, j) for i in range(4) for j in range(4) if i < j])[rng.integers(0, 6, size=N_ITEMS)]
    x = np.zeros((N_ITEMS, 4))
    x[np.arange(N_ITEMS), pairs[:, 0]] = 1.0
    x[np.arange(N_ITEMS), pairs[:, 1]] = -1.0
    x = x[:, 1:]
    y = (rng.random(N_ITEMS) < 1 / (1 + np.exp(-x @ STRENGTHS))).astype(float)
    favoured = np.where(x[:, 0] != 0, (x[:, 0] > 0).astype(float), y)
    return x, y, np.where(rng.random(N_ITEMS) < 0.75, y, favoured)


def test_the_strengths_intervals_cover_the_truth_where_the_judges_do_not() -> None:
    ppi = judge = 0
    for seed in range(REPLICATES):
        rng = np.random.default_rng(seed)
        x, y, yhat = _bt_battles(rng)
        labelled = rng.permutation(N_ITEMS) < 2 * N_LABELLED
        fit = ppi_logistic(x[labelled], y[labelled], yhat[labelled], x[~labelled], yhat[~labelled])
        ppi += abs(fit.coef[0] - STRENGTHS[0]) <= 1.959963984540054 * fit.se[0]
        alone = classical_logistic(x, yhat)
        judge += abs(alone.coef[0] - STRENGTHS[0]) <= 1.959963984540054 * alone.se[0]
    assert ppi / REPLICATES >= 0.90
    assert judge / REPLICATES < 0.5


PAIR_REPLICATES = 40  # through the whole calibrate() path, frames and all: few replicates, kept fast


def test_a_pairs_win_rate_interval_covers_the_truth_where_the_judges_does_not() -> None:
    """Three models, battles of each pair; the judge hands model a a third of its true losses against b. Over
    PAIR_REPLICATES seeded replicates of calibrate() with a fifth of the battles labelled (80 per pair), the PPI++
    interval of the a-b win rate covers the truth (0.55) about 95% of the time (35 of 40 here, 92.5% over 200
    replicates; asserted >= 85%), the judge-only one rarely (1 of 40; 0.5% over 200)."""
    import pandas as pd

    from judgebench.analysis.calibrated import calibrate
    from judgebench.formats.table import judgments_frame
    from tests.judgments import flat

    pairs, truth = [("a", "b"), ("a", "c"), ("b", "c")], {("a", "b"): 0.55, ("a", "c"): 0.5, ("b", "c"): 0.5}
    n = 1200
    ppi = judge = 0
    for seed in range(PAIR_REPLICATES):
        rng = np.random.default_rng(seed)
        which = [pairs[i % 3] for i in range(n)]
        y = np.array([float(rng.random() < truth[p]) for p in which])
        favour = np.array([p == ("a", "b") for p in which]) & (y == 0) & (rng.random(n) < 1 / 3)
        yhat = np.where(favour, 1.0, y)
        yhat = np.where(rng.random(n) < 0.15, (rng.random(n) < 0.5).astype(float), yhat)
        frame = judgments_frame([flat("b", f"q{i}", "x", m, "j", 1, "pairwise", opponent=o, preference=1.0 + v)
                                 for i, ((m, o), v) in enumerate(zip(which, yhat, strict=True))])
        labelled = rng.permutation(n) < n // 5
        labels = pd.DataFrame({"item_id": [f"q{i}" for i in np.flatnonzero(labelled)],
                               "model_a": [which[i][0] for i in np.flatnonzero(labelled)],
                               "model_b": [which[i][1] for i in np.flatnonzero(labelled)],
                               "winner": ["model_a" if y[i] else "model_b" for i in np.flatnonzero(labelled)]})
        found = next(c for c in calibrate(frame, labels).estimates
                     if c.quantity == "pair win rate" and (c.model, c.opponent) == ("a", "b"))
        ppi += _covers(found.ppi, 0.55)
        judge += _covers(found.judge_only, 0.55)
    assert ppi / PAIR_REPLICATES >= 0.85
    assert judge / PAIR_REPLICATES < 0.5
