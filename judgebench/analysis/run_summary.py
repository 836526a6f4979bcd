"""A run's statistics from its ``ColumnStore`` (formats.table): its score rows and diagnostics, computed from the
columns as arrays where every group's kind and judges allow it (no frame built, pandas never called), else from
the judgments frame as `judgebench stats` computes them. The two give the same numbers: the statistics are the
same functions (analysis.aggregate's table aggregators, stats.saturation, the canonical order of
analysis.columns)."""

from __future__ import annotations

from ..constants import DIAGNOSTIC_BOOTSTRAP
from ..formats.table import ColumnStore
from ..judging.kinds import kind_of
from ..stats.grouped import sorted_codes
from ..types import ScoreRow
from .columns import Table
from .diagnostics import Diagnostics, diagnose_table, diagnoses_table
from .scores import table_aggregates, table_score_rows


def summarized_by_columns(store: ColumnStore) -> bool:
    """Whether ``table_summary`` gives the statistics of ``store``'s judgments: each kind's aggregator adds up a
    table, and its diagnostics need no frame (one judge, no orders: analysis.diagnostics.diagnoses_table)."""
    if not len(store):
        return False
    judges = sorted_codes(store.column("judge"))[1] if store.varies("judge") else [store.first("judge")]
    kinds = sorted_codes(store.column("kind"))[1] if store.varies("kind") else [store.first("kind")]
    return all(isinstance(k, str) and table_aggregates(k) and diagnoses_table(kind_of(k), len(judges))
               for k in kinds)


def table_summary(store: ColumnStore, n_bootstrap: int,
                  n_diagnostic_bootstrap: int = DIAGNOSTIC_BOOTSTRAP) -> tuple[tuple[ScoreRow, ...], Diagnostics]:
    """The score rows (analysis.scores.score_rows) and diagnostics (analysis.diagnostics.diagnose) of a store that
    ``summarized_by_columns``, from its columns."""
    table = Table.of_store(store)
    return tuple(table_score_rows(table, n_bootstrap)), diagnose_table(table, n_bootstrap=n_diagnostic_bootstrap)
