"""Judgments -> score rows: the one aggregation behind `run`, `stats`, the leaderboard and ``load()``. Each task
kind's aggregator (analysis.aggregate) adds up its own judgments; this module only splits the frame into
(benchmark, protocol, judge, kind) groups and puts the rows in one order."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..lazy import on_first_use
from ..stats.length_control import DifficultyTable
from ..stats.winrate import DEFAULT_BOOTSTRAP
from ..types import ScoreRow
from .aggregate import Aggregate, TableAggregator, aggregator_of
from .battles import BattleGroup
from .columns import Table
from .records import canonical_order

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


def ranking_order(row: ScoreRow) -> tuple[str, str, str, str, str, float, str]:
    """Benchmark, protocol, judge, kind, opponent, then best first by ``ranking_value``, then the model's name: a
    ranking is one (benchmark, protocol, judge, kind, opponent), where a model appears once."""
    value = row.ranking_value
    return (row.benchmark, row.protocol, row.judge, row.kind, row.opponent or "",
            -(value if value is not None else float("-inf")), row.model)


def score_rows(frame: pd.DataFrame, n_bootstrap: int = DEFAULT_BOOTSTRAP,
               difficulty: DifficultyTable | None = None) -> list[ScoreRow]:
    """Score rows of every (benchmark, judge) group in a deduplicated judgments frame, best first in each."""
    return aggregate_frame(frame, n_bootstrap, difficulty).rows


def aggregate_frame(frame: pd.DataFrame, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                    difficulty: DifficultyTable | None = None) -> Aggregate:
    """The score rows of every (benchmark, protocol, judge, kind) group, best first in each, and the battle
    rankings that battle groups' rows came from (fitted once: the leaderboard shows both)."""
    rows: list[ScoreRow] = []
    battles: list[BattleGroup] = []
    # Intervals resample rows by position: the same judgments in any order must give the same numbers.
    frame = canonical_order(frame)
    # One protocol's judgments are never scored with another's, even of the same benchmark and judge.
    for (_, protocol, _, kind), group in frame.groupby(["benchmark", "protocol", "judge", "kind"], sort=True,
                                                       dropna=False):
        found = aggregator_of(str(kind)).aggregate(str(kind), group, n_bootstrap, difficulty)
        rows += [replace(row, protocol=str(protocol) if isinstance(protocol, str) else "") for row in found.rows]
        battles += found.battles
    return Aggregate(sorted(rows, key=ranking_order), tuple(battles))


def table_aggregates(kind: str) -> bool:
    """Whether ``kind``'s judgments add up from a table (its aggregator is a TableAggregator)."""
    return isinstance(aggregator_of(kind), TableAggregator)


def table_score_rows(table: Table, n_bootstrap: int = DEFAULT_BOOTSTRAP) -> list[ScoreRow]:
    """``score_rows`` of a table in the canonical order (analysis.columns.Table.of_store) whose kinds all
    ``table_aggregates``, no frame built: the same groups, aggregators and order."""
    rows: list[ScoreRow] = []
    for (_, protocol, _, kind), group in table.groups("benchmark", "protocol", "judge", "kind", dropna=False):
        aggregator = aggregator_of(str(kind))
        if not isinstance(aggregator, TableAggregator):
            raise TypeError(f"table_score_rows: kind {kind} is aggregated from a frame (score_rows)")
        rows += [replace(row, protocol=str(protocol) if isinstance(protocol, str) else "")
                 for row in aggregator.aggregate_table(str(kind), group, n_bootstrap).rows]
    return sorted(rows, key=ranking_order)
