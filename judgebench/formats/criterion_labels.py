"""Human labels of rubric criteria (`judgebench rubric-report --labels`): a CSV, JSONL, JSON or Parquet file
(formats.labels.read_table) with one row per (item, model, criterion): ``item_id`` (or ``item``), ``model``,
``criterion`` (the criterion's id within its item, as the task file or its position names it: c1, c2, ...) and
``met`` (true / false, yes / no, 1 / 0, met / not met). Optional: ``turn`` (default: any turn), ``benchmark``
(default: any), ``voter`` (who labelled it). A bad row is a one-line error naming its file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from .labels import _where, read_table

CRITERION_LABEL_COLUMNS = ("benchmark", "item_id", "model", "turn", "criterion", "met", "voter")
_TRUE = {"true", "yes", "y", "1", "met", "1.0"}
_FALSE = {"false", "no", "n", "0", "not met", "unmet", "0.0"}


def _met(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not pd.isna(value) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def read_criterion_labels(path: Path) -> pd.DataFrame:
    """The labels at ``path`` as ``CRITERION_LABEL_COLUMNS`` (benchmark, turn and voter None where the file has
    none). Refused with file:line: a missing column, an empty item, model or criterion, a ``met`` that is not a
    yes/no, a turn that is not a whole number from 1."""
    frame = read_table(path)
    if "item_id" not in frame.columns and "item" in frame.columns:
        frame = frame.rename(columns={"item": "item_id"})
    missing = [c for c in ("item_id", "model", "criterion", "met") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: criterion labels need the columns item_id, model, criterion and met (one row per "
                        f"answer and criterion); missing: {', '.join(missing)}")
    if frame.empty:
        raise DataError(f"{path}: no labels in the file")
    met: list[bool] = []
    for row, (item, model, criterion, value) in enumerate(zip(frame["item_id"], frame["model"], frame["criterion"],
                                                              frame["met"], strict=True)):
        for name, field in (("item_id", item), ("model", model), ("criterion", criterion)):
            if field is None or pd.isna(field) or not str(field).strip():
                raise DataError(f"{_where(path, row)}: the label has no {name}: give the item, the model and the "
                                "criterion's id it labels")
        verdict = _met(value)
        if verdict is None:
            raise DataError(f"{_where(path, row)}: met {str(value)[:40]!r} is not a yes/no (true/false, yes/no, 1/0, "
                            "met/not met): correct the label")
        met.append(verdict)
    turn: Any = None
    if "turn" in frame.columns:
        turns = pd.to_numeric(frame["turn"], errors="coerce")
        bad = ~(turns.notna() & (turns == turns.round()) & (turns >= 1))
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"{_where(path, row)}: turn {str(frame['turn'].iloc[row])[:40]!r} is not a whole number "
                            "from 1: correct the label (or leave the column out)")
        turn = turns.astype(int).tolist()
    return pd.DataFrame({
        "benchmark": frame["benchmark"].astype(str) if "benchmark" in frame.columns else None,
        "item_id": frame["item_id"].astype(str).str.strip(), "model": frame["model"].astype(str).str.strip(),
        "turn": turn, "criterion": frame["criterion"].astype(str).str.strip(), "met": met,
        "voter": frame["voter"].astype(str) if "voter" in frame.columns else None,
    }, columns=list(CRITERION_LABEL_COLUMNS))
