"""Raw and style-controlled Bradley-Terry (stats.battle_ranking, stats.style_control) against independent fits:
statsmodels' GLM for the raw strengths, scikit-learn's logistic regression on a design matrix built here for the
style-controlled ones, a seeded simulation whose truth is known, and weighted games against repeated ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from judgebench.formats.table import judgments_frame
from judgebench.stats.battle_ranking import STRONG_WEIGHT, games_frame, rank_battles
from judgebench.stats.style_control import STYLE_COLUMNS, STYLE_FEATURES
from judgebench.types import Judgment
from tests.judgments import flat


def _simulated_games(seed: int, truth: dict[str, float], n_games: int, length_effect: float = 0.0,
                     verbose: str | None = None, ties: float = 0.1) -> pd.DataFrame:
    """All-pairs games with ties (a share ``ties`` of them) and five-level weights; answers around 1000 characters
    (three times that for ``verbose``), markdown counts that the judge ignores; the judge's logit is the strength
    difference plus ``length_effect`` times the normalized length difference."""
    rng = np.random.default_rng(seed)
    names = list(truth)
    pairs = np.array([rng.choice(len(names), 2, replace=False) for _ in range(n_games)])
    a, b = np.array(names)[pairs[:, 0]], np.array(names)[pairs[:, 1]]
    scale = {m: 3000.0 if m == verbose else 1000.0 for m in names}
    length_a = rng.normal([scale[m] for m in a], 200).clip(50)
    length_b = rng.normal([scale[m] for m in b], 200).clip(50)
    diff = (length_a - length_b) / (length_a + length_b)
    p = 1 / (1 + np.exp(-(np.array([truth[m] for m in a]) - np.array([truth[m] for m in b]) + length_effect * diff)))
    u = rng.random(n_games)
    decided = 1 - ties
    outcome = np.where(u < decided * p, 1.0, np.where(u < decided * p + ties, 0.5, 0.0))
    games = pd.DataFrame({"model_a": a, "model_b": b, "outcome": outcome,
                          "weight": np.where(rng.random(n_games) < 0.2, STRONG_WEIGHT, 1.0), "category": "c",
                          "item_id": [f"q{i}" for i in range(n_games)], "length_a": length_a, "length_b": length_b})
    for name in ("headers", "lists", "bold"):
        games[f"{name}_a"] = rng.poisson(2, n_games)
        games[f"{name}_b"] = rng.poisson(2, n_games)
    return games


def _difference_matrix(games: pd.DataFrame, anchor: str) -> tuple[np.ndarray, list[str]]:
    """+1 for model_a, -1 for model_b, the anchor's column left out (it is the origin): built here, not by us."""
    models = sorted((set(games["model_a"]) | set(games["model_b"])) - {anchor})
    matrix = np.zeros((len(games), len(models)))
    for j, m in enumerate(models):
        matrix[:, j] = (games["model_a"] == m).to_numpy(float) - (games["model_b"] == m).to_numpy(float)
    return matrix, models


TRUTH = {"base": 0.0, "m1": 0.8, "m2": -0.5, "m3": 1.5, "m4": 0.3}


def test_raw_strengths_are_statsmodels_binomial_glm() -> None:
    games = _simulated_games(1, TRUTH, 4000)
    ranking = rank_battles(games, "base", n_bootstrap=0)
    design, models = _difference_matrix(games, "base")
    glm = sm.GLM(games["outcome"].to_numpy(), design, family=sm.families.Binomial(),
                 freq_weights=games["weight"].to_numpy()).fit()
    ours = {r.model: r.strength for r in ranking.raw}
    assert ours["base"] == 0.0
    for j, m in enumerate(models):
        assert ours[m] == pytest.approx(glm.params[j], abs=1e-5)
    scores = {r.model: r.score for r in ranking.raw}
    for j, m in enumerate(models):
        assert scores[m] == pytest.approx(100 / (1 + np.exp(-glm.params[j])), abs=1e-4)


def _sklearn_style_fit(games: pd.DataFrame, anchor: str) -> tuple[dict[str, float], np.ndarray]:
    """Unpenalized logistic regression on [model differences | style differences / their weighted RMS]; a tie is
    a win and a loss of half the weight each, since scikit-learn takes only 0/1 labels."""
    design, models = _difference_matrix(games, anchor)
    weight = games["weight"].to_numpy(float)
    style = []
    for name in STYLE_FEATURES:
        x, y = games[f"{name}_a"].to_numpy(float), games[f"{name}_b"].to_numpy(float)
        d = np.array([(p - q) / (p + q) if p + q else 0.0 for p, q in zip(x, y, strict=True)])
        style.append(d / np.sqrt((weight * d * d).sum() / weight.sum()))
    full = np.hstack([design, np.column_stack(style)])
    outcome = games["outcome"].to_numpy(float)
    rows = np.vstack([full, full])
    labels = np.concatenate([np.ones(len(full)), np.zeros(len(full))])
    sample_weight = np.concatenate([weight * outcome, weight * (1 - outcome)])
    kept = sample_weight > 0
    model = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10000)
    model.fit(rows[kept], labels[kept], sample_weight=sample_weight[kept])
    coefficients = model.coef_[0]
    return dict(zip(models, coefficients[:len(models)], strict=True)), coefficients[len(models):]


def test_style_controlled_fit_is_sklearn_logistic_regression_on_the_same_design() -> None:
    games = _simulated_games(2, TRUTH, 4000, length_effect=1.5, verbose="m2")
    ranking = rank_battles(games, "base", n_bootstrap=0)
    strengths, coefficients = _sklearn_style_fit(games, "base")
    ours = {r.model: r.strength for r in ranking.styled}
    for m, value in strengths.items():
        assert ours[m] == pytest.approx(value, abs=1e-4)
    assert [c.name for c in ranking.coefficients] == list(STYLE_FEATURES)
    assert [c.value for c in ranking.coefficients] == pytest.approx(coefficients, abs=1e-4)
    assert ranking.style_note is None


def test_a_model_that_wins_only_by_its_length_drops_when_style_is_controlled() -> None:
    """'verbose' is as strong as 'base' but writes three times as much, and the judge likes length: raw, it beats
    everyone; at equal style it sits with 'base', below the truly stronger m1 and m3."""
    truth = {"base": 0.0, "verbose": 0.0, "m1": 0.6, "m2": -0.5, "m3": 1.0}
    # No ties: they would pull every outcome towards a half, and the fitted effect below the true one.
    games = _simulated_games(3, truth, 12000, length_effect=4.0, verbose="verbose", ties=0.0)
    ranking = rank_battles(games, "base", n_bootstrap=40, seed=1)
    raw_order = [r.model for r in ranking.raw]
    styled_order = [r.model for r in ranking.styled]
    assert raw_order[0] == "verbose"
    assert styled_order[:2] == ["m3", "m1"] and styled_order.index("verbose") > 1
    styled = {r.model: r for r in ranking.styled}
    assert styled["verbose"].ci_low < 50 < styled["verbose"].ci_high  # as strong as the anchor, at equal style
    coefficients = {c.name: c for c in ranking.coefficients}
    length = coefficients["length"]
    assert length.ci_low > 1.0 and length.ci_low < length.value < length.ci_high
    for name in ("headers", "lists", "bold"):  # the judge ignores markdown here: next to nothing
        assert abs(coefficients[name].value) < 0.1 * length.value
    # The fitted length coefficient is the true effect in the scaled units.
    diff = (games["length_a"] - games["length_b"]) / (games["length_a"] + games["length_b"])
    rms = np.sqrt(np.average(diff ** 2, weights=games["weight"]))
    assert length.value == pytest.approx(4.0 * rms, rel=0.1)


def test_a_weighted_game_is_that_game_repeated() -> None:
    games = _simulated_games(4, TRUTH, 1500, length_effect=1.0, verbose="m4")
    repeated = games.loc[games.index.repeat(games["weight"].astype(int))].assign(weight=1.0)
    weighted, copies = rank_battles(games, "base", n_bootstrap=0), rank_battles(repeated, "base", n_bootstrap=0)
    for ours, theirs in ((weighted.raw, copies.raw), (weighted.styled, copies.styled)):
        assert [r.model for r in ours] == [r.model for r in theirs]
        assert [r.strength for r in ours] == pytest.approx([r.strength for r in theirs], abs=1e-6)
    assert [c.value for c in weighted.coefficients] == pytest.approx([c.value for c in copies.coefficients],
                                                                     abs=1e-6)


def test_bootstrap_intervals_cover_the_estimates_and_repeat_with_the_seed() -> None:
    games = _simulated_games(5, TRUTH, 3000, length_effect=1.0, verbose="m1")
    first, again = rank_battles(games, "base", n_bootstrap=30, seed=7), rank_battles(games, "base", 30, seed=7)
    assert first == again
    for r in (*first.raw, *first.styled):
        assert r.ci_low is not None and r.ci_high is not None
        assert r.ci_low <= r.score <= r.ci_high
    assert all(c.ci_low is not None and c.ci_low < c.value < c.ci_high for c in first.coefficients)
    base = next(r for r in first.styled if r.model == "base")
    assert (base.score, base.ci_low, base.ci_high) == (50.0, 50.0, 50.0)


def _judgment(model: str, opponent: str, **fields: object) -> Judgment:
    return flat(benchmark="b", item_id=str(fields.pop("item_id", "q")), category="c", model=model, judge="j",
                    turn=1, kind="pairwise", opponent=opponent, **fields)  # type: ignore[arg-type]


def test_games_carry_each_side_s_style_and_five_level_weights() -> None:
    frame = judgments_frame([
        _judgment("m", "base", verdict_ab="win", verdict_ba="tie", margin_ab=2, length=300, opponent_length=100,
                  headers=1, lists=4, bold=0, opponent_headers=0, opponent_lists=2, opponent_bold=3),
        _judgment("m", "base", item_id="q2", preference=1.25, length=10, opponent_length=20, headers=0, lists=0,
                  bold=1, opponent_headers=0, opponent_lists=0, opponent_bold=0),
        _judgment("m", "base", item_id="q3", verdict_ab="win", verdict_ba="win", error="AB: no verdict"),
        _judgment("m", "base", item_id="q4", preference=7.0),  # no outcome: it would make the likelihood unbounded
    ])
    games = games_frame(frame)
    assert list(games["outcome"]) == [1.0, 0.5, 0.25]
    assert list(games["weight"]) == [STRONG_WEIGHT, 1.0, 1.0]
    first = games.iloc[0]
    assert [first[c] for c in STYLE_COLUMNS] == [300, 100, 1, 0, 4, 2, 0, 3]
    assert [games.iloc[2][c] for c in STYLE_COLUMNS] == [10, 20, 0, 0, 0, 0, 1, 0]


def test_without_style_covariates_only_the_raw_ranking_is_given_and_the_note_says_why() -> None:
    games = _simulated_games(6, TRUTH, 600)
    without = rank_battles(games.drop(columns=STYLE_COLUMNS), "base", n_bootstrap=5)
    assert without.styled == () and without.coefficients == ()
    assert "no style columns" in (without.style_note or "")
    assert without.raw == rank_battles(games, "base", n_bootstrap=5).raw
    partly = games.copy()
    partly.loc[:9, "length_b"] = np.nan
    ranking = rank_battles(partly, "base", n_bootstrap=5)
    assert ranking.styled == () and ranking.style_note is not None
    assert ranking.style_note.startswith(f"10 of {len(games)} games lack")
    flat = games.assign(headers_a=0, headers_b=0)  # no answer has a header: nothing to fit
    ranking = rank_battles(flat, "base", n_bootstrap=5)
    assert [c.name for c in ranking.coefficients] == ["length", "lists", "bold"]
    assert ranking.style_note is not None and ranking.style_note.endswith("headers")
