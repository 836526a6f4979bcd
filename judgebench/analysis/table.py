"""Judgments as a table: the typed schema of every judgments frame (``JUDGMENT_COLUMNS``), whichever harness wrote
the records, and the one constructor of judgments frames.

A source's judgments travel column by column (``Columns``: column name -> one value per judgment) from a file
reader or the parse cache to ``sources_frame``, the one constructor of judgments frames: judgments parsed now,
served by the parse cache or given as ``Judgment`` objects go through the same conversions, so the frames are
equal, dtypes included. All sources are put into one frame at once: building a frame per source and
concatenating costs more than reading them from the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..types import Judgment


@dataclass(frozen=True)
class Column:
    """One column of every judgments frame: its name, its dtype in the frame, and what it holds."""

    name: str
    dtype: str  # "str" (text, None where missing), "float" (NaN where missing), "int" or "bool"
    description: str


# The columns every judgments frame has, whichever harness wrote the records, in frame order. The one list: the
# frame's constructor below, the parse cache and the reference's column table are all made from it.
JUDGMENT_COLUMNS: tuple[Column, ...] = (
    Column("benchmark", "str", "the benchmark's canonical name, the same whichever harness wrote the file"),
    Column("item_id", "str", "the question's canonical id within its benchmark"),
    Column("category", "str", "the question's category"),
    Column("model", "str", "the judged model"),
    Column("judge", "str", "the judge's name"),
    Column("turn", "int", "the judged turn (1-based); a pairwise judgment covers the conversation up to it"),
    Column("kind", "str", "the task kind that produced the judgment (single, pairwise, battles, a protocol's)"),
    Column("score", "float", "the grade on the task's scale (single grading)"),
    Column("opponent", "str", "the other side of a pairwise judgment: the reference or opposing model"),
    Column("verdict_ab", "str", "win / tie / loss for the model with its answer shown first"),
    Column("verdict_ba", "str", "win / tie / loss for the model with its answer shown second"),
    Column("preference", "float", "both orders combined, in [1, 2] (2: the model is better); NaN when either failed"),
    Column("error", "str", "why the judgment has no value, in words; None when it has one"),
    Column("failure", "str", "the failure's cause: parse, truncated, request, filtered, no_answer, empty, pending"),
    Column("empty", "bool", "the judged answer was empty and never shown to the judge"),
    Column("length", "float", "characters of the judged answer (all turns), for length control"),
    Column("opponent_length", "float", "characters of the opponent's answer (all turns)"),
    Column("expected_score", "float", "the grade weighted by the judge's token probabilities, where returned"),
    Column("scale_low", "float", "the bottom of the task's grading scale"),
    Column("scale_high", "float", "the top of the task's grading scale"),
    Column("margin_ab", "float", "how decisive the first order's verdict was: 1 better, 2 much better"),
    Column("margin_ba", "float", "how decisive the second order's verdict was: 1 better, 2 much better"),
    Column("headers", "float", "markdown headers in the judged answer (style control)"),
    Column("lists", "float", "markdown list items in the judged answer (style control)"),
    Column("bold", "float", "bold spans in the judged answer (style control)"),
    Column("opponent_headers", "float", "markdown headers in the opponent's answer"),
    Column("opponent_lists", "float", "markdown list items in the opponent's answer"),
    Column("opponent_bold", "float", "bold spans in the opponent's answer"),
    Column("protocol", "str", "the published protocol that produced the judgment (part of its identity), or \"\""),
    Column("tokens", "float", "tokens of the judged answer, where a protocol counts them (Arena-Hard v2.0)"),
    Column("opponent_tokens", "float", "tokens of the opponent's answer, where a protocol counts them"),
    Column("run_id", "str", "the judgebench run directory the judgment came from; None for other harnesses' files"),
)
COLUMNS = [c.name for c in JUDGMENT_COLUMNS]
# What a source's own content gives: every column but run_id (a run directory's name, not its content).
CONTENT_COLUMNS = tuple(c for c in COLUMNS if c != "run_id")
TEXT_COLUMNS = tuple(c.name for c in JUDGMENT_COLUMNS if c.dtype == "str" and c.name != "run_id")
NUMBER_COLUMNS = tuple(c.name for c in JUDGMENT_COLUMNS if c.dtype == "float")

Columns = Mapping[str, Sequence[Any]]


def _default(name: str) -> Any:
    """A column's value for a judgment whose reader did not set it: the Judgment field's default."""
    if name in ("scale_low", "scale_high"):
        return None
    default = Judgment.__dataclass_fields__[name].default
    return None if default is MISSING else default


def judgment_row(j: Judgment) -> tuple[Any, ...]:
    """One judgment's ``CONTENT_COLUMNS`` values (raw text and calls left out): all a frame keeps of it."""
    return (j.benchmark, j.item_id, j.category, j.model, j.judge, j.turn, j.kind, j.score, j.opponent, j.verdict_ab,
            j.verdict_ba, j.preference, j.error, j.failure, j.empty, j.length, j.opponent_length, j.expected_score,
            j.scale[0] if j.scale else None, j.scale[1] if j.scale else None, j.margin_ab, j.margin_ba, j.headers,
            j.lists, j.bold, j.opponent_headers, j.opponent_lists, j.opponent_bold, j.protocol, j.tokens,
            j.opponent_tokens)


def rows_columns(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows made by ``judgment_row``, column by column."""
    if not rows:
        return {name: [] for name in CONTENT_COLUMNS}
    return {name: list(values) for name, values in zip(CONTENT_COLUMNS, zip(*rows, strict=True), strict=True)}


def judgment_columns(judgments: Iterable[Judgment]) -> dict[str, list[Any]]:
    """Judgments column by column (``CONTENT_COLUMNS``; raw text and calls left out)."""
    return rows_columns([judgment_row(j) for j in judgments])


def n_rows(columns: Columns) -> int:
    """The number of judgments in ``columns``; columns of different lengths are a bug in their reader."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def complete(columns: Columns) -> dict[str, Sequence[Any]]:
    """Every content column: one the reader left out holds the Judgment field's default."""
    n = n_rows(columns)
    return {name: columns[name] if name in columns else [_default(name)] * n for name in CONTENT_COLUMNS}


def _typed(name: str, values: Sequence[Any]) -> np.ndarray:
    """A column's values as the array its frame column holds: float64 numbers (None: NaN), int64 turns, bool
    ``empty``, and text as objects (pandas infers its str dtype from them, or keeps objects when none is text)."""
    if isinstance(values, np.ndarray) and (values.dtype != object or name in TEXT_COLUMNS):
        return values  # the parse cache's columns are already typed
    if name in NUMBER_COLUMNS:
        return pd.Series(values, dtype=object).astype(float).to_numpy()
    if name == "turn":
        return pd.Series(values, dtype=object).astype(int).to_numpy()
    if name == "empty":
        return pd.Series(values, dtype=object).astype(bool).to_numpy()
    return np.fromiter(values, dtype=object, count=len(values))  # a value that is a list stays one value


def sources_frame(sources: Sequence[tuple[Columns, str | None]]) -> pd.DataFrame:
    """One judgments frame (``COLUMNS``) of several sources' columns, in order; each source is (its columns,
    its run_id)."""
    parts = [(complete(columns), n_rows(columns), run_id) for columns, run_id in sources]
    data: dict[str, np.ndarray] = {}
    for name in CONTENT_COLUMNS:
        arrays = [_typed(name, columns[name]) for columns, _, _ in parts]
        data[name] = np.concatenate(arrays) if arrays else _typed(name, [])
    data["run_id"] = (np.concatenate([np.full(n, run_id, dtype=object) for _, n, run_id in parts]) if parts
                      else np.empty(0, dtype=object))
    return pd.DataFrame(data, columns=COLUMNS)


def columns_frame(columns: Columns, run_id: str | None = None) -> pd.DataFrame:
    """A judgments frame of one source's columns (see ``complete``), ``run_id`` its run's name."""
    return sources_frame([(columns, run_id)])


def judgments_frame(judgments: Iterable[Judgment], run_id: str | None = None) -> pd.DataFrame:
    """Judgments as a DataFrame, one row per record (raw text and calls left out), columns ``COLUMNS``."""
    return columns_frame(judgment_columns(judgments), run_id)
