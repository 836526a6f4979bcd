"""Battles -> raw and style-controlled Bradley-Terry rankings per (benchmark, judge). Pure.

The battles of a group are its judgments between two models: those of every kind that asks in both orders
(``JudgingKind.has_orders``) and every row with an opponent (AlpacaEval's and Arena-Hard's files against a baseline
are battles too). ``stats.battle_ranking`` turns them into games and fits both rankings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..formats.identity import benchmark_label
from ..judging.kinds import kind_of
from ..lazy import on_first_use
from ..stats.battle_ranking import (
    BATTLE_BOOTSTRAP,
    RankedModel,
    Unranked,
    anchor_of,
    games_frame,
    rank_battles,
    reachable,
    separation_note,
    unconnected,
    unranked,
)
from ..stats.ranks import interval_ranks
from ..stats.style_control import StyleCoefficient
from .records import canonical_order

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class BattleScore:
    """A model's Bradley-Terry score: its predicted win rate against ``baseline`` (which sits at 50), with a 95%
    percentile bootstrap interval, raw and style-controlled (``styled_*``: None where style control was not
    fitted). ``rank``: 1 + the number of models whose interval lies wholly above this one's (Chatbot Arena's
    rule, ``stats.ranks.interval_ranks``); ``n_games``: the games it played (a judgment in both orders is two)."""

    benchmark: str
    judge: str
    model: str
    bt_score: float
    ci_low: float | None
    ci_high: float | None
    strength: float
    rank: int
    styled_score: float | None
    styled_ci_low: float | None
    styled_ci_high: float | None
    styled_rank: int | None
    n_games: int
    baseline: str


@dataclass(frozen=True)
class BattleGroup:
    """The rankings of one (benchmark, judge): rows best first by raw score, the style coefficients, and why
    style control was not fitted or what it left out (``style_note``)."""

    benchmark: str
    judge: str
    baseline: str | None  # None: no battle became a game, so there is no ranking (``unranked`` says why)
    n_games: int
    rows: tuple[BattleScore, ...]
    coefficients: tuple[StyleCoefficient, ...]
    style_note: str | None
    separation_note: str | None = None  # models that won or lost every game (stats.battle_ranking)
    unranked: tuple[Unranked, ...] = ()  # models in battles none of which became a game, with the reason

    @property
    def empty_note(self) -> str | None:
        """Why there is no ranking at all, or None when there is one."""
        if self.rows:
            return None
        return (f"no ranking: none of the battles of {len(self.unranked)} model(s) became a game (every one failed "
                "or was left out)")


def _ranks(ranked: tuple[RankedModel, ...]) -> dict[str, int]:
    ranks = interval_ranks([r.ci_low for r in ranked], [r.ci_high for r in ranked])
    return {r.model: rank for r, rank in zip(ranked, ranks, strict=True)}


def _battles(group: pd.DataFrame) -> pd.DataFrame:
    ordered = {kind: kind_of(str(kind)).has_orders for kind in group["kind"].dropna().unique()}
    return group[group["kind"].map(ordered).fillna(False).astype(bool) | group["opponent"].notna()]


def battle_groups(frame: pd.DataFrame, baseline: str | None = None, n_bootstrap: int = BATTLE_BOOTSTRAP,
                  seed: int = 0) -> list[BattleGroup]:
    """Raw and style-controlled Bradley-Terry rankings of every (benchmark, judge) group that has battles."""
    groups: list[BattleGroup] = []
    # Intervals resample games by position: the same judgments in any order give the same numbers (and the numbers
    # of `run` and `stats`, which order them the same way).
    frame = canonical_order(frame)
    # One ranking per protocol: a sample's battles never mix with the full benchmark's.
    for (real_benchmark, protocol, judge), group in frame.groupby(["benchmark", "protocol", "judge"], sort=True,
                                                                  dropna=False):
        benchmark = benchmark_label(str(real_benchmark), protocol)
        battles = _battles(group)
        games = games_frame(battles)
        left = unranked(battles)
        if games.empty:
            if left:  # battles, none of them a game: an empty ranking that says so, not a missing one
                groups.append(BattleGroup(str(benchmark), str(judge), None, 0, (), (), None, None, left))
            continue
        models = sorted(set(games["model_a"]) | set(games["model_b"]))
        if baseline is not None and baseline not in models:
            why = next((u.reason for u in left if u.model == baseline), None)
            where = f"{benchmark} judged by {judge}"
            raise DataError((f"--baseline {baseline!r} is in no battle of {where}" if why is None else
                             f"--baseline {baseline!r} has no game in {where}: {why}")
                            + f"; models: {', '.join(models)}")
        anchor = baseline or anchor_of(battles) or models[0]
        apart = unconnected(games, anchor)
        if apart:  # groups that never met have no common scale: only the anchor's is ranked
            left = (*left, *apart)
            linked = reachable(games, anchor)
            games = games[games["model_a"].astype(str).isin(linked) & games["model_b"].astype(str).isin(linked)]
            games = games.reset_index(drop=True)
        ranking = rank_battles(games, anchor, n_bootstrap=n_bootstrap, seed=seed)
        styled = {r.model: r for r in ranking.styled}
        raw_ranks, styled_ranks = _ranks(ranking.raw), _ranks(ranking.styled)
        rows = tuple(
            BattleScore(str(benchmark), str(judge), r.model, r.score, r.ci_low, r.ci_high, r.strength,
                      raw_ranks[r.model], styled[r.model].score if r.model in styled else None,
                      styled[r.model].ci_low if r.model in styled else None,
                      styled[r.model].ci_high if r.model in styled else None, styled_ranks.get(r.model), r.n_games,
                      ranking.anchor)
            for r in ranking.raw)
        groups.append(BattleGroup(str(benchmark), str(judge), ranking.anchor, len(games), rows,
                                  ranking.coefficients, ranking.style_note, separation_note(games), left))
    return groups


def battles_json(groups: list[BattleGroup]) -> list[dict[str, Any]]:
    """One JSON object per model (as ``stats --json`` prints one per model), each with its group's style
    coefficients and note; then the models that played no game (``unranked`` says why, their numbers null)."""
    ranked: list[dict[str, Any]] = [
        {**asdict(row), "unranked": None, "style_coefficients": [asdict(c) for c in group.coefficients],
         "style_note": group.style_note, "separation_note": group.separation_note}
        for group in groups for row in group.rows]
    blank: dict[str, Any] = dict.fromkeys(BattleScore.__dataclass_fields__)
    left: list[dict[str, Any]] = [
        {**blank, "benchmark": group.benchmark, "judge": group.judge, "model": u.model, "n_games": 0,
         "baseline": group.baseline, "unranked": u.reason, "style_coefficients": [], "style_note": None,
         "separation_note": None} for group in groups for u in group.unranked]
    return ranked + left


# The name arena.ranking still imports; arena.store.BattleRow is a stored battle, not a model's score.
BattleRow = BattleScore
