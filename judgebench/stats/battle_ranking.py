"""Battles -> a Bradley-Terry ranking, as Arena-Hard and Chatbot Arena rank models. Pure.

A *game* is one verdict between two models: (model_a, model_b, outcome for model_a: 1 win, 0.5 tie, 0 loss,
weight). A judgment asked in both orders is two games (Arena-Hard counts each order); a five-level verdict that
one answer is much better (A>>B) counts as ``STRONG_WEIGHT`` games, as Arena-Hard counts it; a human vote is one
game; a judgment that carries only a combined preference (AlpacaEval's weighted judge) is one game whose outcome
is that preference. A judgment with an error never enters a game.

Scores are each model's predicted win rate against an anchor model (which sits at 50), with 95% percentile
bootstrap intervals over games.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .bradley_terry import bradley_terry_with_ci

STRONG_WEIGHT = 3.0
_POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}
GAME_COLUMNS = ["model_a", "model_b", "outcome", "weight", "category", "item_id"]


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
    (empty when it could not be fitted, ``style_note`` says why)."""

    anchor: str
    raw: tuple[RankedModel, ...]
    styled: tuple[RankedModel, ...] = ()
    style_note: str | None = None


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def games_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The games of a judgments frame's battles (rows with an opponent other than the model and no error)."""
    judged = frame[frame["opponent"].notna() & (frame["model"] != frame["opponent"]) & frame["error"].isna()]
    parts = []
    for verdict, margin in (("verdict_ab", "margin_ab"), ("verdict_ba", "margin_ba")):
        played = judged[judged[verdict].isin(list(_POINTS))]
        parts.append(pd.DataFrame({
            "model_a": played["model"].astype(str), "model_b": played["opponent"].astype(str),
            "outcome": played[verdict].map(_POINTS).astype(float),
            "weight": np.where(played[margin].to_numpy(dtype=float) == 2, STRONG_WEIGHT, 1.0),
            "category": played["category"], "item_id": played["item_id"]}))
    # Only a combined preference (no verdict per order): one game.
    combined = judged[judged["verdict_ab"].isna() & judged["verdict_ba"].isna() & judged["preference"].notna()]
    parts.append(pd.DataFrame({
        "model_a": combined["model"].astype(str), "model_b": combined["opponent"].astype(str),
        "outcome": (combined["preference"] - 1.0).astype(float), "weight": 1.0,
        "category": combined["category"], "item_id": combined["item_id"]}))
    return pd.concat(parts, ignore_index=True)[GAME_COLUMNS]


def default_anchor(games: pd.DataFrame) -> str:
    """The model that played the most games (ties: the first by name): Arena-Hard's baseline in its files."""
    counts = pd.concat([games["model_a"], games["model_b"]]).value_counts()
    most = counts.max()
    return str(min(m for m, n in counts.items() if n == most))


def rank_battles(games: pd.DataFrame, anchor: str | None = None, n_bootstrap: int = 100,
                 seed: int = 0) -> BattleRanking:
    """The Bradley-Terry ranking of ``games`` (see ``games_frame``) against ``anchor``."""
    anchor = anchor or default_anchor(games)
    expanded = games.loc[games.index.repeat(games["weight"].round().astype(int).clip(lower=1))]
    fitted = bradley_terry_with_ci(expanded[["model_a", "model_b", "outcome"]].reset_index(drop=True), anchor,
                                   n_bootstrap=n_bootstrap, seed=seed)
    counts = pd.concat([games["model_a"], games["model_b"]]).value_counts()
    raw = tuple(RankedModel(r.model, r.score, _finite(r.ci_low), _finite(r.ci_high), r.strength,
                            int(counts.get(r.model, 0))) for r in fitted)
    return BattleRanking(anchor, raw, (), "style control not fitted")
