"""The judgments table's schema and constructor live in judgebench.analysis.table; the readers and the parse cache
import them from here, as they did before the move."""

from __future__ import annotations

from ..analysis.table import (
    COLUMNS,
    CONTENT_COLUMNS,
    JUDGMENT_COLUMNS,
    NUMBER_COLUMNS,
    TEXT_COLUMNS,
    Column,
    Columns,
    columns_frame,
    complete,
    judgment_columns,
    judgment_row,
    judgments_frame,
    n_rows,
    rows_columns,
    sources_frame,
)

__all__ = ["COLUMNS", "CONTENT_COLUMNS", "JUDGMENT_COLUMNS", "NUMBER_COLUMNS", "TEXT_COLUMNS", "Column", "Columns",
           "columns_frame", "complete", "judgment_columns", "judgment_row", "judgments_frame", "n_rows",
           "rows_columns", "sources_frame"]
