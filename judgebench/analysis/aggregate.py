"""Judgments -> score rows, one aggregator per task kind (``AGGREGATORS``): a mean grade, a win rate (with length
control), a Bradley-Terry score, or a published protocol's own score. Pure: a frame of one (benchmark, protocol,
judge, kind) group in, rows out. analysis.scores splits frames into those groups and calls these; nothing else
aggregates judgments, so `run`, `stats`, the leaderboard and ``load()`` show the same numbers.

A battle group's Bradley-Terry ranking is fitted once (analysis.battles.battle_groups): its score rows and its
battle table are two views of the same fit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..judging.kinds import kind_of
from ..judging.protocols.alpaca_eval import ANNOTATOR
from ..lazy import on_first_use
from ..stats.arena_hard import (
    ARENA_HARD_ROUNDS,
    ArenaHardScore,
    StyleFeatures,
    style_features,
    v01_scores,
    v2_scores,
    v2_style_scores,
)
from ..stats.battle_ranking import BATTLE_BOOTSTRAP, games_frame, rank_battles
from ..stats.grouped import group_means, sorted_codes
from ..stats.length_control import DifficultyTable
from ..stats.length_control_by_model import length_controlled_by_model
from ..stats.position_bias import order_biased
from ..stats.winrate import bootstrap_ci, pairwise_winrate
from ..types import NOT_FAILED, ScoreRow
from .battles import BattleGroup, battle_groups
from .columns import Table

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class Aggregate:
    """What one group's judgments add up to: its score rows, and the battle rankings they came from (battles)."""

    rows: list[ScoreRow]
    battles: tuple[BattleGroup, ...] = ()


def failed_judgments(frame: pd.DataFrame) -> pd.Series:
    """Which judgments failed (no value, an error). A judgment waiting in a provider batch (run --batch), or left
    out on purpose (an arena vote that gave a model away), has not failed. The tables' and the viewer's count."""
    return pd.Series(failed_mask(Table.of_frame(frame[["error", "failure"]])), index=frame.index)


def failed_mask(table: Table) -> np.ndarray:
    """``failed_judgments`` of a table's judgments, as a boolean array."""
    failure = table["failure"]
    waiting = np.zeros(len(table), dtype=bool)
    for cause in NOT_FAILED:
        waiting |= failure == cause
    return np.fromiter((e is not None for e in table["error"].tolist()), dtype=bool, count=len(table)) & ~waiting


def parse_failures(frame: pd.DataFrame) -> pd.Series:
    """Which judgments failed because the judge's reply did not parse."""
    return frame["failure"] == "parse"


def position_flips(frame: pd.DataFrame) -> pd.Series:
    """Which judgments got a verdict in both orders and the two differ (what "order agree" counts against)."""
    both = frame["verdict_ab"].notna() & frame["verdict_ba"].notna()
    return both & (frame["verdict_ab"] != frame["verdict_ba"])


def count_failures(group: pd.DataFrame) -> tuple[int, int, int]:
    """(judgments without a value, replies that did not parse, empty answers)."""
    return failure_counts(Table.of_frame(group))


def failure_counts(table: Table) -> tuple[int, int, int]:
    """``count_failures`` of a table's judgments."""
    empty = 0
    if "empty" in table:
        flags = table["empty"]
        empty = int(np.count_nonzero(flags if flags.dtype == bool else [bool(v) for v in flags.tolist()
                                                                        if v is not None]))
    return int(np.count_nonzero(failed_mask(table))), int(np.count_nonzero(table["failure"] == "parse")), empty


def _none_if_nan(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def _scale_of(group: Table) -> tuple[int, int] | None:
    if "scale_high" not in group or np.isnan(group["scale_high"]).all():
        return None
    return int(np.nanmin(group["scale_low"])), int(np.nanmax(group["scale_high"]))


def _means_by(scored: Table, column: str, key: type) -> tuple[tuple[Any, float], ...]:
    """The mean score of each value of ``column`` (sorted; a missing value is none), as pandas' groupby mean."""
    codes, values = sorted_codes(scored[column])
    means = group_means(codes, scored["score"], len(values))
    return tuple((key(value), float(mean)) for value, mean in zip(values, means, strict=True))


def _win_rates_by(judged: pd.DataFrame, column: str, key: type) -> tuple[tuple[Any, float], ...]:
    """The win rate (percent, AlpacaEval's convention: mean of preference - 1) of each value of ``column``."""
    by_value = judged.groupby(column, sort=True)["preference"].mean()
    return tuple((key(value), float((preference - 1.0) * 100)) for value, preference in by_value.items())


class Aggregator(ABC):
    """How one task kind's judgments add up to score rows. Stateless: one shared instance per kind."""

    @abstractmethod
    def aggregate(self, kind: str, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> Aggregate:
        """The score rows of one (benchmark, protocol, judge) group of judgments of ``kind``."""


class TableAggregator(Aggregator):
    """An aggregator that adds up a group's judgments from their columns as arrays (analysis.columns.Table): a
    frame's group is read as its table, and a run's judgments are aggregated without a frame."""

    def aggregate(self, kind: str, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> Aggregate:
        return self.aggregate_table(kind, Table.of_frame(frame), n_bootstrap)

    @abstractmethod
    def aggregate_table(self, kind: str, table: Table, n_bootstrap: int) -> Aggregate:
        """The score rows of one (benchmark, protocol, judge) group of judgments of ``kind``."""


class MeanGrade(TableAggregator):
    """Graded kinds (MT-Bench style): each model's mean grade with its bootstrap interval, per turn and category."""

    def aggregate_table(self, kind: str, table: Table, n_bootstrap: int) -> Aggregate:
        rows = []
        for (model,), group in table.groups("model"):
            scored = group.where(~np.isnan(group["score"]))
            grades = scored["score"]
            low, high = bootstrap_ci(grades, n_samples=n_bootstrap) if n_bootstrap and len(grades) else (None, None)
            n_failed, n_parse, n_empty = failure_counts(group)
            expected = scored["expected_score"] if "expected_score" in scored else np.empty(0)
            expected = expected[~np.isnan(expected)]
            rows.append(ScoreRow(
                benchmark=str(group["benchmark"][0]), judge=str(group["judge"][0]), kind=kind,
                model=str(model), score=float(grades.mean()) if len(grades) else None,
                ci_low=_none_if_nan(low), ci_high=_none_if_nan(high), n_judged=len(grades), n_failed=n_failed,
                n_parse_failures=n_parse, n_empty=n_empty, scale=_scale_of(group),
                per_turn=_means_by(scored, "turn", int), per_category=_means_by(scored, "category", str),
                expected_score=float(expected.mean()) if len(expected) else None,
            ))
        return Aggregate(rows)


class WinRate(Aggregator):
    """Pairwise kinds against a reference (AlpacaEval style): each model's win rate against each opponent with its
    bootstrap interval, its length-controlled win rate, and how often the two orders agreed."""

    def aggregate(self, kind: str, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> Aggregate:
        rows = []
        for opponent, by_opponent in frame.groupby(frame["opponent"].fillna(""), sort=True):
            lc = length_controlled_by_model(by_opponent, difficulty, n_bootstrap)
            for model, group in by_opponent.groupby("model", sort=True):
                win = pairwise_winrate(group["preference"].to_numpy(dtype=float), n_bootstrap=n_bootstrap)
                done = group[group["preference"].notna()]
                both_orders = done[done["verdict_ab"].notna() & done["verdict_ba"].notna()]
                n_failed, n_parse, n_empty = count_failures(group)
                lengths = group["length"].dropna()
                estimate = lc.get(str(model))
                agreement = (float((both_orders["verdict_ab"] == both_orders["verdict_ba"]).mean())
                             if len(both_orders) else None)
                rows.append(ScoreRow(
                    benchmark=str(group["benchmark"].iloc[0]), judge=str(group["judge"].iloc[0]), kind=kind,
                    model=str(model), opponent=str(opponent) or None, score=_none_if_nan(win.win_rate),
                    ci_low=_none_if_nan(win.ci_low), ci_high=_none_if_nan(win.ci_high), n_judged=win.n_total,
                    n_failed=n_failed, n_parse_failures=n_parse, n_empty=n_empty,
                    standard_error=_none_if_nan(win.standard_error),
                    n_wins=win.n_wins, n_draws=win.n_draws, n_losses=win.n_wins_base,
                    discrete_win_rate=_none_if_nan(win.discrete_win_rate),
                    order_agreement=agreement, order_biased=order_biased(agreement),
                    length_controlled_winrate=estimate.value if estimate else None,
                    lc_note=estimate.note if estimate else None,
                    lc_ci_low=estimate.ci_low if estimate else None, lc_ci_high=estimate.ci_high if estimate else None,
                    lc_table_models=estimate.table_models if estimate else None,
                    lc_weak=estimate.weak if estimate else False,
                    avg_length=float(lengths.mean()) if len(lengths) else None,
                    per_turn=_win_rates_by(done, "turn", int), per_category=_win_rates_by(done, "category", str),
                ))
        return Aggregate(rows)


class AlpacaEvalWinRate(WinRate):
    """WinRate's rows; LC with AlpacaEval's published instruction difficulties where a local copy is found (a data
    mirror or the download cache: nothing is downloaded here), or the table given, else fitted on the judged models
    (the note says so). A table fitted on AlpacaEval's own annotator's files serves this protocol whichever endpoint
    played the judge."""

    def aggregate(self, kind: str, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> Aggregate:
        table = difficulty if difficulty is not None else published_difficulty()
        if table is not None and table.judge == ANNOTATOR:
            table = replace(table, judge=None)
        source = f"LC difficulty: {table.source}" if table is not None else \
            "LC difficulty: fitted on the judged models (AlpacaEval's published table not found locally)"
        rows = [replace(row, lc_note="; ".join(n for n in (row.lc_note, source) if n))
                if row.length_controlled_winrate is not None else row
                for row in super().aggregate(kind, frame, n_bootstrap, table).rows]
        return Aggregate(rows)


def published_difficulty() -> DifficultyTable | None:
    """AlpacaEval's instruction difficulties, where a data mirror or the download cache holds them."""
    from ..errors import DataError
    from ..formats.difficulty import ALPACA_EVAL_DIFFICULTY_SHA256, ALPACA_EVAL_DIFFICULTY_URL, load_difficulty
    from ..tasks.fetch import local_data

    path = local_data(ALPACA_EVAL_DIFFICULTY_URL, ALPACA_EVAL_DIFFICULTY_SHA256, "AlpacaEval's difficulty table")
    if path is None:
        return None
    try:
        return load_difficulty("alpaca-eval")
    except DataError:
        return None


class BradleyTerry(Aggregator):
    """Battles between candidate models: a row per model with its Bradley-Terry score (predicted win rate against
    the anchor, which sits at 50) and interval from the group's one ranking (analysis.battles, the ranking `stats
    --battles` prints, BATTLE_BOOTSTRAP resamples: none when none are asked for); counts over every battle the
    model was in. A model with no game, or none linked to the anchor's, has no score."""

    def aggregate(self, kind: str, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> Aggregate:
        groups = tuple(battle_groups(frame, n_bootstrap=BATTLE_BOOTSTRAP if n_bootstrap else 0))
        ranked = {r.model: r for g in groups for r in g.rows}
        anchor = next((g.baseline for g in groups if g.baseline is not None), None)
        by_category = _category_scores(games_frame(frame), anchor) if anchor is not None else {}
        strategy = kind_of(kind)
        rows = []
        for model, group in strategy.both_sides(frame).groupby("model", sort=True):
            fitted = ranked.get(str(model))
            n_failed, n_parse, n_empty = count_failures(group)
            outcomes = strategy.label(group)
            lengths = group["length"].dropna()
            both = group[group["verdict_ab"].notna() & group["verdict_ba"].notna()]
            agreement = float((both["verdict_ab"] == both["verdict_ba"]).mean()) if len(both) else None
            rows.append(ScoreRow(
                benchmark=str(group["benchmark"].iloc[0]), judge=str(group["judge"].iloc[0]), kind=kind,
                model=str(model), opponent=anchor,
                score=fitted.bt_score if fitted else None, ci_low=fitted.ci_low if fitted else None,
                ci_high=fitted.ci_high if fitted else None, n_judged=int(group["preference"].notna().sum()),
                n_failed=n_failed, n_parse_failures=n_parse, n_empty=n_empty,
                n_wins=int((outcomes == "win").sum()), n_draws=int((outcomes == "tie").sum()),
                n_losses=int((outcomes == "loss").sum()),
                order_agreement=agreement, order_biased=order_biased(agreement) if agreement is not None else False,
                avg_length=float(lengths.mean()) if len(lengths) else None,
                per_category=tuple(sorted((c, s[str(model)]) for c, s in by_category.items() if str(model) in s)),
            ))
        return Aggregate(rows, groups)


def _category_scores(games: pd.DataFrame, anchor: str) -> dict[str, dict[str, float]]:
    """Each category's Bradley-Terry scores against the same anchor (no intervals: one fit per category), for the
    categories where the anchor played."""
    found = {}
    for category, part in games.groupby(games["category"].astype(str), sort=True):
        if anchor in set(part["model_a"]) | set(part["model_b"]):
            found[str(category)] = {r.model: r.score for r in rank_battles(part, anchor, n_bootstrap=0).raw}
    return found


ArenaHardScores = tuple[dict[str, ArenaHardScore], dict[str, ArenaHardScore], str | None]


class ArenaHard(Aggregator):
    """Arena-Hard's protocols: a row per (baseline, model) with show_result.py's score and interval over Arena-Hard's
    rounds (none when no bootstrap is asked for), whatever ``n_bootstrap`` says otherwise, so every surface shows
    the same; v2.0's style-controlled score beside it (in the LC fields), as its official configuration ranks."""

    def __init__(self, version: str) -> None:
        self.version = version

    def aggregate(self, kind: str, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> Aggregate:
        rounds = ARENA_HARD_ROUNDS if n_bootstrap else 0
        label = kind_of(kind).label
        rows = []
        for baseline, group in frame.groupby(frame["opponent"].fillna(""), sort=True):
            scores, styled, note = self.scores(games_of(group, both=self.version == "v2.0"), rounds)
            for model, part in group.groupby("model", sort=True):
                fitted, controlled = scores.get(str(model)), styled.get(str(model))
                n_failed, n_parse, n_empty = count_failures(part)
                both = part[part["verdict_ab"].notna() & part["verdict_ba"].notna()]
                outcomes = label(part)
                rows.append(ScoreRow(
                    benchmark=str(part["benchmark"].iloc[0]), judge=str(part["judge"].iloc[0]), kind=kind,
                    model=str(model), opponent=str(baseline) or None, protocol=str(part["protocol"].iloc[0]),
                    score=fitted.score if fitted else None, ci_low=fitted.ci_low if fitted else None,
                    ci_high=fitted.ci_high if fitted else None,
                    n_judged=int(part["verdict_ab"].notna().sum() + part["verdict_ba"].notna().sum()) // 2
                    if self.version == "v0.1" else len(both),
                    n_failed=n_failed, n_parse_failures=n_parse, n_empty=n_empty,
                    n_wins=int((outcomes == "win").sum()), n_draws=int((outcomes == "tie").sum()),
                    n_losses=int((outcomes == "loss").sum()),
                    order_agreement=float((both["verdict_ab"] == both["verdict_ba"]).mean()) if len(both) else None,
                    length_controlled_winrate=controlled.score if controlled else None,
                    lc_ci_low=controlled.ci_low if controlled else None,
                    lc_ci_high=controlled.ci_high if controlled else None,
                    lc_note=note if controlled else None,
                    avg_length=float(part["length"].dropna().mean()) if part["length"].notna().any() else None,
                ))
        return Aggregate(rows)

    def scores(self, games: pd.DataFrame, rounds: int) -> ArenaHardScores:
        if games.empty:
            return {}, {}, None
        models, points, weights = games["model"].tolist(), games["points"].tolist(), games["weight"].tolist()
        if self.version == "v0.1":
            return {s.model: s for s in v01_scores(models, points, weights, rounds)}, {}, None
        plain = {s.model: s for s in v2_scores(models, points, weights, rounds)}
        style = games[["tokens", "headers", "lists", "bold", "opponent_tokens", "opponent_headers",
                       "opponent_lists", "opponent_bold"]]
        if style.isna().any().any() or len(games) < 3:
            return plain, {}, None
        own = [StyleFeatures(*r) for r in style.iloc[:, :4].itertuples(index=False)]
        base = [StyleFeatures(*r) for r in style.iloc[:, 4:].itertuples(index=False)]
        styled, _ = v2_style_scores(models, points, weights, style_features(own, base), rounds)
        return plain, {s.model: s for s in styled}, "style-controlled (length + markdown), as Arena-Hard v2.0"


def games_of(frame: pd.DataFrame, *, both: bool) -> pd.DataFrame:
    """The games of judgments, in Arena-Hard's order (v2.0's score lists game 2 before game 1), from the model's
    side: points, weight (3 for "much better") and both answers' style. ``both``: a judgment counts only when both
    its games have a verdict (v2.0 drops it otherwise); else each game with a verdict counts (v0.1)."""
    parts = []
    for position, margin in (("verdict_ab", "margin_ab"), ("verdict_ba", "margin_ba")):
        judged = frame["verdict_ab"].notna() & frame["verdict_ba"].notna() if both else frame[position].notna()
        part = frame[judged]
        parts.append(pd.DataFrame({
            "order": np.arange(len(part)) * 2 + (0 if position == "verdict_ab" else 1),
            "model": part["model"].astype(str).to_numpy(),
            "points": part[position].map({"win": 1.0, "tie": 0.5, "loss": 0.0}).to_numpy(dtype=float),
            "weight": np.where(part[margin].to_numpy(dtype=float) == 2, 3, 1),
            **{c: part[c].to_numpy(dtype=float) for c in ("tokens", "headers", "lists", "bold", "opponent_tokens",
                                                           "opponent_headers", "opponent_lists", "opponent_bold")},
        }))
    games = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return games.sort_values("order", kind="stable").reset_index(drop=True)


class RubricScore(TableAggregator):
    """Rubric tasks: each model's mean item score in [0, 1] with its bootstrap interval, per turn and category
    (per criterion, tag and pair of models: analysis.rubric)."""

    def aggregate_table(self, kind: str, table: Table, n_bootstrap: int) -> Aggregate:
        rows = []
        for (model,), group in table.groups("model"):
            scored = group.where(~np.isnan(group["score"]))
            scores = scored["score"]
            low, high = interval(scores, n_bootstrap)
            n_failed, n_parse, n_empty = failure_counts(group)
            lengths = group["length"][~np.isnan(group["length"])]
            rows.append(ScoreRow(
                benchmark=str(group["benchmark"][0]), judge=str(group["judge"][0]), kind=kind,
                model=str(model), score=float(scores.mean()) if len(scores) else None, ci_low=low, ci_high=high,
                n_judged=len(scores), n_failed=n_failed, n_parse_failures=n_parse, n_empty=n_empty, scale=(0, 1),
                per_turn=_means_by(scored, "turn", int), per_category=_means_by(scored, "category", str),
                avg_length=float(lengths.mean()) if len(lengths) else None,
            ))
        return Aggregate(rows)


def interval(values: np.ndarray, n_bootstrap: int) -> tuple[float | None, float | None]:
    """The 95% percentile bootstrap interval of the mean of ``values``; (None, None) without values or resamples."""
    if not n_bootstrap or not len(values):
        return None, None
    low, high = bootstrap_ci(values, n_samples=n_bootstrap)
    return _none_if_nan(low), _none_if_nan(high)


# One aggregator per task kind (judging.kinds.KINDS): a kind without one is a bug, caught by the tests.
AGGREGATORS: dict[str, Aggregator] = {
    "single": MeanGrade(), "fastchat-single": MeanGrade(), "arena-bench-single": MeanGrade(),
    "pairwise": WinRate(), "alpaca-eval-weighted": AlpacaEvalWinRate(),
    "battles": BradleyTerry(),
    "arena-hard-v0.1": ArenaHard("v0.1"), "arena-hard-v2.0": ArenaHard("v2.0"),
    "rubric": RubricScore(),
}


def aggregator_of(kind: str) -> Aggregator:
    kind_of(kind)  # an unknown kind: the registry's error, which names the known ones
    return AGGREGATORS[kind]
