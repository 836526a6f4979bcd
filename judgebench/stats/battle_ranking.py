"""Battles -> a Bradley-Terry ranking, as Arena-Hard and Chatbot Arena rank models, raw and style-controlled. Pure.

A *game* is one verdict between two models: (model_a, model_b, outcome for model_a: 1 win, 0.5 tie, 0 loss,
weight). A judgment asked in both orders is two games (Arena-Hard counts each order); a five-level verdict that
one answer is much better (A>>B) counts as ``STRONG_WEIGHT`` games, as Arena-Hard counts it; a human vote is one
game; a judgment that carries only a combined preference (AlpacaEval's weighted judge) is one game whose outcome
is that preference. A judgment with an error never enters a game. A game also carries both answers' length and
markdown counts (``STYLE_COLUMNS``), the covariates of style control (``stats.style_control``).

Scores are each model's predicted win rate against an anchor model (which sits at 50), with 95% percentile
bootstrap intervals over games (a game is drawn whole, with its weight). The style-controlled ranking is the same
model fitted jointly with the style coefficients; the same resamples give the intervals of both rankings and of
the coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use
from .bradley_terry import fit_logistic_strengths
from .style_control import STYLE_COLUMNS, StyleCoefficient, StyleDesign, missing_style, style_design

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

STRONG_WEIGHT = 3.0
_POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}
GAME_COLUMNS = ["model_a", "model_b", "outcome", "weight", "category", "item_id", *STYLE_COLUMNS]
# Judgment columns -> game columns: the judged model's answer is side a, its opponent's side b.
_STYLE_SOURCES = {"length_a": "length", "length_b": "opponent_length", "headers_a": "headers",
                  "headers_b": "opponent_headers", "lists_a": "lists", "lists_b": "opponent_lists", "bold_a": "bold",
                  "bold_b": "opponent_bold"}


@dataclass(frozen=True)
class RankedModel:
    """A model's Bradley-Terry score: predicted win rate (percent) against the anchor, with its 95% interval;
    ``strength``: log-odds, anchor = 0; ``n_games``: the games it played."""

    model: str
    score: float
    ci_low: float | None
    ci_high: float | None
    strength: float
    n_games: int


@dataclass(frozen=True)
class BattleRanking:
    """The ranking of one (benchmark, judge) group's games, best first. ``styled``: the style-controlled ranking
    (empty when it could not be fitted, ``style_note`` says why; a note beside a fitted one says what was left
    out); ``coefficients``: the fitted style coefficients with their intervals."""

    anchor: str
    raw: tuple[RankedModel, ...]
    styled: tuple[RankedModel, ...] = ()
    style_note: str | None = None
    coefficients: tuple[StyleCoefficient, ...] = ()


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _games(judged: pd.DataFrame, outcome: pd.Series, weight: object) -> pd.DataFrame:
    columns = {"model_a": judged["model"].astype(str), "model_b": judged["opponent"].astype(str),
               "outcome": outcome.astype(float), "weight": weight, "category": judged["category"],
               "item_id": judged["item_id"]}
    for column, source in _STYLE_SOURCES.items():
        columns[column] = (pd.to_numeric(judged[source], errors="coerce").astype(float) if source in judged
                           else np.nan)
    return pd.DataFrame(columns)


def games_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The games of a judgments frame's battles (rows with an opponent other than the model and no error)."""
    judged = frame[frame["opponent"].notna() & (frame["model"] != frame["opponent"]) & frame["error"].isna()]
    parts = []
    for verdict, margin in (("verdict_ab", "margin_ab"), ("verdict_ba", "margin_ba")):
        played = judged[judged[verdict].isin(list(_POINTS))]
        strong = pd.to_numeric(played[margin], errors="coerce").to_numpy(dtype=float) == 2
        parts.append(_games(played, played[verdict].map(_POINTS), np.where(strong, STRONG_WEIGHT, 1.0)))
    # Only a combined preference (no verdict per order): one game. A preference outside [1, 2] (a corrupt or
    # hostile file) is no outcome: it would make the likelihood unbounded.
    preference = pd.to_numeric(judged["preference"], errors="coerce")
    combined = judged[judged["verdict_ab"].isna() & judged["verdict_ba"].isna() & preference.between(1.0, 2.0)]
    parts.append(_games(combined, combined["preference"] - 1.0, 1.0))
    return pd.concat(parts, ignore_index=True)[GAME_COLUMNS]


# Bootstrap resamples of every Bradley-Terry ranking (`run` and `stats` of a battles task, `stats --battles`, the
# arena's ranking page, the site): one number, so they all print the same intervals for the same battles.
BATTLE_BOOTSTRAP = 200


def _battles(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["opponent"].notna() & (frame["model"] != frame["opponent"])]


def anchor_of(frame: pd.DataFrame) -> str | None:
    """The anchor of a judgments frame's battles: of the models that played a game (``games_frame``), the one in the
    most battles, failed ones included (so judges of the same battles, some of whose judgments failed, share it);
    ties: the first by name. A model whose every battle failed or was left out (an arena vote whose answer named
    its model) has no score, so it never anchors one. None without a game."""
    battles = _battles(frame)
    games = games_frame(battles) if not battles.empty else battles
    if games.empty:
        return None
    playing = set(games["model_a"]) | set(games["model_b"])
    counts = pd.concat([battles["model"], battles["opponent"]]).astype(str).value_counts()
    most = counts[counts.index.isin(playing)].max()
    return str(min(m for m, n in counts.items() if n == most and m in playing))


@dataclass(frozen=True)
class Unranked:
    """A model in battles none of which became a game: listed beside the ranking, with why it has no score."""

    model: str
    n_battles: int
    reason: str


def unranked(frame: pd.DataFrame) -> tuple[Unranked, ...]:
    """The models of a frame's battles that played no game (``games_frame``), by name, each with the reason: its
    battles were left out (``failure`` "excluded": an arena vote whose answer named its model) or failed."""
    battles = _battles(frame)
    if battles.empty:
        return ()
    games = games_frame(battles)
    playing = set(games["model_a"]) | set(games["model_b"])
    found = []
    for model in sorted((set(battles["model"].astype(str)) | set(battles["opponent"].astype(str))) - playing):
        mine = battles[(battles["model"].astype(str) == model) | (battles["opponent"].astype(str) == model)]
        left_out = int((mine["failure"] == "excluded").sum()) if "failure" in mine else 0
        errors = mine["error"].dropna().astype(str)
        parts = ([f"{left_out} left out"] if left_out else []) + (
            [f"{len(mine) - left_out} failed or without a verdict"] if len(mine) > left_out else [])
        common = f" (most often: {errors.value_counts().index[0]})" if len(errors) else ""
        found.append(Unranked(model, len(mine), f"no game to rank it by: of its {len(mine)} battle(s), "
                                                f"{' and '.join(parts)}{common}"))
    return tuple(found)


def reachable(games: pd.DataFrame, anchor: str) -> set[str]:
    """The models a chain of games links to ``anchor``: only their scores against it mean anything (two groups that
    never met have no common scale, and Bradley-Terry would put both on one)."""
    neighbours: dict[str, set[str]] = {}
    for a, b in zip(games["model_a"].astype(str), games["model_b"].astype(str), strict=True):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    found, todo = {anchor}, [anchor]
    while todo:
        for other in neighbours.get(todo.pop(), set()) - found:
            found.add(other)
            todo.append(other)
    return found


def unconnected(games: pd.DataFrame, anchor: str) -> tuple[Unranked, ...]:
    """The models of ``games`` no chain of games links to ``anchor``, each with the reason."""
    linked = reachable(games, anchor)
    found = []
    for model in sorted((set(games["model_a"].astype(str)) | set(games["model_b"].astype(str))) - linked):
        mine = games[(games["model_a"].astype(str) == model) | (games["model_b"].astype(str) == model)]
        met = sorted((set(mine["model_a"].astype(str)) | set(mine["model_b"].astype(str))) - {model})
        found.append(Unranked(model, len(mine), f"no chain of games links it to the anchor {anchor} (its "
                                                f"{len(mine)} game(s) are with {', '.join(met)}), so no score "
                                                "against it means anything; rank that group on its own"))
    return tuple(found)


def separated(games: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(models that won every game they played, models that lost every one). Their Bradley-Terry strength has no
    finite maximum-likelihood value: the fit stops at a tiny ridge's bound, so their score (near 100 or 0) and its
    interval say only that they are above (below) the others, not by how much."""
    mine = pd.concat([pd.DataFrame({"model": games["model_a"], "points": games["outcome"]}),
                      pd.DataFrame({"model": games["model_b"], "points": 1.0 - games["outcome"]})])
    by_model = mine.groupby("model")["points"]
    low, high = by_model.min(), by_model.max()
    return (tuple(sorted(str(m) for m in low.index[low == 1.0])),
            tuple(sorted(str(m) for m in high.index[high == 0.0])))


def separation_note(games: pd.DataFrame) -> str | None:
    """One sentence on the models ``separated`` finds, or None."""
    winners, losers = separated(games)
    parts = [f"{', '.join(models)} {verb} every game" for models, verb in ((winners, "won"), (losers, "lost"))
             if models]
    if not parts:
        return None
    return ("; ".join(parts) + ": no finite Bradley-Terry score exists for such a model, so its score and interval "
            "only place it above (below) the others; more battles, or closer opponents, are needed")


def default_anchor(games: pd.DataFrame) -> str:
    """The model that played the most games (ties: the first by name): Arena-Hard's baseline in its files."""
    counts = pd.concat([games["model_a"], games["model_b"]]).value_counts()
    most = counts.max()
    return str(min(m for m, n in counts.items() if n == most))


def _ranked(models: list[str], strengths: np.ndarray, samples: np.ndarray, anchor: int,
            counts: pd.Series) -> tuple[RankedModel, ...]:
    """Models best first; ``samples``: bootstrap strengths (resamples x models)."""
    from scipy.special import expit

    relative = strengths - strengths[anchor]
    if len(samples):
        scores = 100 * expit(samples - samples[:, [anchor]])
        lows, highs = np.quantile(scores, [0.025, 0.975], axis=0)
    else:
        lows = highs = np.full(len(models), np.nan)
    rows = [RankedModel(m, float(100 * expit(relative[i])), _finite(lows[i]), _finite(highs[i]), float(relative[i]),
                        int(counts.get(m, 0))) for i, m in enumerate(models)]
    return tuple(sorted(rows, key=lambda r: (-r.score, r.model)))


def _coefficients(design: StyleDesign, values: np.ndarray, samples: np.ndarray) -> tuple[StyleCoefficient, ...]:
    if len(samples):
        lows, highs = np.quantile(samples, [0.025, 0.975], axis=0)
    else:
        lows = highs = np.full(len(design.names), np.nan)
    return tuple(StyleCoefficient(name, float(values[i]), _finite(lows[i]), _finite(highs[i]))
                 for i, name in enumerate(design.names))


def _bootstrap(games: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], n_models: int,
               features: np.ndarray | None, starts: tuple[np.ndarray, np.ndarray], n_bootstrap: int,
               seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw strengths, styled strengths, coefficients), one row per resample of the games (a, b, outcome, weight);
    both fits see the same resamples and start from the full fits (``starts``)."""
    a, b, outcome, weight = games
    n_features = 0 if features is None else features.shape[1]
    raw = np.empty((n_bootstrap, n_models))
    styled = np.empty((n_bootstrap, n_models))
    coefficients = np.empty((n_bootstrap, n_features))
    rng = np.random.default_rng(seed)
    for k in range(n_bootstrap):
        # Drawing games with replacement = a multinomial count per game; a game drawn twice weighs twice.
        drawn = rng.multinomial(len(a), np.full(len(a), 1 / len(a)))
        kept = np.flatnonzero(drawn)
        args = (a[kept], b[kept], outcome[kept], n_models, weight[kept] * drawn[kept])
        raw[k] = fit_logistic_strengths(*args, start=starts[0])[0]
        if features is not None:
            styled[k], coefficients[k] = fit_logistic_strengths(*args, features[kept], start=starts[1])
    return raw, styled, coefficients


def rank_battles(games: pd.DataFrame, anchor: str | None = None, n_bootstrap: int = 100,
                 seed: int = 0) -> BattleRanking:
    """The Bradley-Terry ranking of ``games`` (see ``games_frame``) against ``anchor``, raw and, where every game
    has its style covariates, style-controlled."""
    anchor = anchor or default_anchor(games)
    models = sorted(set(games["model_a"]) | set(games["model_b"]))
    if anchor not in models:
        raise ValueError(f"anchor {anchor!r} is in no game")
    index = {m: i for i, m in enumerate(models)}
    a = games["model_a"].map(index).to_numpy(dtype=np.intp)
    b = games["model_b"].map(index).to_numpy(dtype=np.intp)
    outcome = games["outcome"].to_numpy(dtype=float)
    weight = games["weight"].to_numpy(dtype=float)
    note = missing_style(games)
    design = None if note else style_design(games)
    features = None if design is None else design.features

    raw, _ = fit_logistic_strengths(a, b, outcome, len(models), weight)
    styled, coefficients = (fit_logistic_strengths(a, b, outcome, len(models), weight, features)
                            if features is not None else (raw, np.zeros(0)))
    raw_samples, styled_samples, coefficient_samples = _bootstrap(
        (a, b, outcome, weight), len(models), features, (raw, np.concatenate([styled, coefficients])), n_bootstrap,
        seed)

    counts = pd.concat([games["model_a"], games["model_b"]]).value_counts()
    ranked_raw = _ranked(models, raw, raw_samples, index[anchor], counts)
    if design is None:
        return BattleRanking(anchor, ranked_raw, (), note)
    if design.left_out:
        note = f"left out of style control, as no two answers differ in it: {', '.join(design.left_out)}"
    return BattleRanking(anchor, ranked_raw, _ranked(models, styled, styled_samples, index[anchor], counts), note,
                         _coefficients(design, coefficients, coefficient_samples))
