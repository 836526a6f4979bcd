"""Raters' agreement on criteria: percent agreement from its definition, kappa against sklearn's and statsmodels'
independent implementations, the items bootstrap against an explicit resample."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from judgebench.stats.rubric_agreement import rater_agreement
from judgebench.stats.winrate import resample_counts


def _pairwise_share(ratings: np.ndarray) -> float:
    """The definition: per unit, the share of rater pairs that agree; then the mean over units."""
    shares = [np.mean([row[i] == row[j] for i, j in combinations(range(len(row)), 2)]) for row in ratings]
    return float(np.mean(shares))


@pytest.fixture
def ratings() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, size=60)
    noisy = np.where(rng.random((60, 3)) < 0.2, 1 - truth[:, None], truth[:, None])
    items = [f"q{i // 4}" for i in range(60)]  # 15 items, 4 answers each
    return noisy, items


def test_two_raters_percent_agreement_and_cohen(ratings: tuple[np.ndarray, list[str]]) -> None:
    values, items = ratings
    two = values[:, :2]
    result = rater_agreement(two, items, n_bootstrap=0)
    assert result.statistic == "cohen" and result.n_units == 60 and result.n_items == 15
    assert result.agreement == pytest.approx(float(np.mean(two[:, 0] == two[:, 1])))
    assert result.kappa == pytest.approx(cohen_kappa_score(two[:, 0], two[:, 1]))
    assert result.agreement_low is None and result.kappa_low is None


def test_three_raters_fleiss(ratings: tuple[np.ndarray, list[str]]) -> None:
    values, items = ratings
    result = rater_agreement(values, items, n_bootstrap=0)
    table, _ = aggregate_raters(values)
    assert result.statistic == "fleiss"
    assert result.kappa == pytest.approx(fleiss_kappa(table, method="fleiss"))
    assert result.agreement == pytest.approx(_pairwise_share(values))


def test_three_categories_cohen() -> None:
    a = np.array([0, 1, 2, 2, 1, 0, 2, 1, 1, 0])
    b = np.array([0, 1, 2, 1, 1, 0, 2, 2, 1, 1])
    result = rater_agreement(np.column_stack([a, b]), list(range(10)), n_bootstrap=0)
    assert result.kappa == pytest.approx(cohen_kappa_score(a, b))


def test_no_variation_has_no_kappa() -> None:
    result = rater_agreement(np.ones((8, 2), dtype=int), list(range(8)), n_bootstrap=100)
    assert result.agreement == 1.0 and result.kappa is None and result.kappa_low is None
    assert result.agreement_low == 1.0 and result.agreement_high == 1.0
    one_item = rater_agreement(np.array([[0, 1], [1, 1]]), ["x", "x"], n_bootstrap=100)
    assert one_item.agreement == 0.5 and one_item.agreement_low is None and one_item.kappa_low is None


def test_bootstrap_resamples_items_together(ratings: tuple[np.ndarray, list[str]]) -> None:
    values, items = ratings
    result = rater_agreement(values[:, :2], items, n_bootstrap=200)
    assert result.agreement_low is not None and result.agreement_high is not None
    assert result.agreement_low <= result.agreement <= result.agreement_high
    assert result.kappa_low is not None and result.kappa_high is not None and result.kappa is not None
    assert result.kappa_low <= result.kappa <= result.kappa_high
    # Recompute the percentile interval from explicit resamples: item i drawn c times adds its four units c times.
    draws = resample_counts(15, 200, 0)
    names = sorted(set(items))
    kappas, shares = [], []
    for counts in draws:
        rows = [u for u, item in enumerate(items) for _ in range(int(counts[names.index(item)]))]
        picked = values[rows, :2]
        shares.append(np.mean(picked[:, 0] == picked[:, 1]))
        if len(set(picked[:, 0])) > 1 or len(set(picked[:, 1])) > 1 or picked[0, 0] != picked[0, 1]:
            kappas.append(cohen_kappa_score(picked[:, 0], picked[:, 1]))
    assert result.agreement_low == pytest.approx(np.quantile(shares, 0.025))
    assert result.agreement_high == pytest.approx(np.quantile(shares, 0.975))
    assert result.kappa_low == pytest.approx(np.quantile(kappas, 0.025))
    assert result.kappa_high == pytest.approx(np.quantile(kappas, 0.975))


def test_refuses_one_rater_and_misaligned_items() -> None:
    with pytest.raises(ValueError, match="two raters"):
        rater_agreement(np.zeros((3, 1), dtype=int), [1, 2, 3], 0)
    with pytest.raises(ValueError, match="one item per unit"):
        rater_agreement(np.zeros((3, 2), dtype=int), [1, 2], 0)
    empty = rater_agreement(np.zeros((0, 2), dtype=int), [], 100)
    assert empty.n_units == 0 and empty.agreement is None and empty.kappa is None
