"""Rubric judgments' criteria as a table: one row per (judgment, criterion), typed (``CRITERIA_COLUMNS``), made
from a judgments frame's ``criteria`` column (formats.table). The one constructor of per-criterion frames: the
rubric statistics (analysis.rubric), ``judgebench.load()`` and the command line all read this frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..types import TAG_SEPARATOR
from .table import Column

# The judgment's identity and context, then the criterion's own fields.
CRITERIA_COLUMNS: tuple[Column, ...] = (
    Column("benchmark", "str", "The benchmark's canonical name."),
    Column("protocol", "str", "The protocol that made the judgment."),
    Column("judge", "str", "The judge's label."),
    Column("model", "str", "The judged model."),
    Column("item_id", "str", "The item's id."),
    Column("category", "str", "The item's category."),
    Column("turn", "int", "The judged turn (a rubric judges the last one)."),
    Column("criterion", "str", "The criterion's id within its item (`c1`, `c2`, ... where the task file gave none)."),
    Column("key", "str", "What the criterion is across items: its id for a task-level criterion (the same in every "
                         "item), `item_id/id` for an item's own."),
    Column("text", "str", "What the judge checked."),
    Column("points", "float", "The criterion's points (negative: something the answer must not do)."),
    Column("tags", "str", "The criterion's tags, comma-separated (empty for none; a tag holds no comma)."),
    Column("scope", "str", "`task` (the task's rubric, every item) or `item` (the item's own)."),
    Column("met", "boolean", "Whether the answer meets it; <NA> where the verdict is missing or did not parse (and "
                             "for a score rubric)."),
    Column("level", "Float64", "A score rubric's level picked (1 = lowest; a repeated judge's mean level, so maybe "
                               "fractional); <NA> otherwise."),
    Column("empty", "bool", "The answer was empty, never shown to the judge (its criteria count as not met)."),
    Column("judgment_failed", "bool", "The judgment has no score (a criterion's verdict is missing, or the request "
                                      "failed)."),
)
CRITERIA_COLUMN_NAMES = [c.name for c in CRITERIA_COLUMNS]
_DTYPES = {"str": "object", "float": "float64", "int": "int64", "bool": "bool", "boolean": "boolean",
           "Int64": "Int64", "Float64": "Float64"}


def criterion_key(scope: str, item_id: str, ident: str) -> str:
    """A criterion's identity across items: a task-level one is the same criterion in every item."""
    return ident if scope == "task" else f"{item_id}/{ident}"


def criteria_frame(judgments: pd.DataFrame) -> pd.DataFrame:
    """One row per criterion of every rubric judgment in a judgments frame (``CRITERIA_COLUMNS``); empty (with the
    columns) when there is none. Built column by column: a HealthBench-sized run has 150,000 criteria."""
    has = judgments[judgments["criteria"].notna()] if "criteria" in judgments else judgments.iloc[:0]
    parsed = [orjson.loads(text) for text in has["criteria"]] if len(has) else []
    counts = np.fromiter((len(c) for c in parsed), dtype=np.int64, count=len(parsed))
    flat = [c for criteria in parsed for c in criteria]
    repeat = {name: np.repeat(has[name].to_numpy(dtype=object), counts)
              for name in ("benchmark", "protocol", "judge", "model", "item_id", "category")}
    scope = [c.get("scope", "item") for c in flat]
    ident = [c["id"] for c in flat]
    columns: dict[str, Any] = {
        **repeat,
        "protocol": [p if isinstance(p, str) else "" for p in repeat["protocol"]],
        "turn": np.repeat(has["turn"].to_numpy(dtype=np.int64), counts),
        "criterion": ident,
        "key": [criterion_key(s, i, c) for s, i, c in zip(scope, repeat["item_id"], ident, strict=True)],
        "text": [c.get("text", "") for c in flat],
        "points": np.fromiter((float(c["points"]) for c in flat), dtype=float, count=len(flat)),
        "tags": [TAG_SEPARATOR.join(c.get("tags") or ()) for c in flat],
        "scope": scope,
        "met": pd.array([c.get("met") for c in flat], dtype="boolean"),
        "level": pd.array([c.get("level") for c in flat], dtype="Float64"),
        "empty": np.repeat(has["empty"].to_numpy(dtype=bool), counts),
        "judgment_failed": np.repeat(has["score"].isna().to_numpy(), counts),
    }
    frame = pd.DataFrame(columns, columns=CRITERIA_COLUMN_NAMES)
    return frame.astype({c.name: _DTYPES[c.dtype] for c in CRITERIA_COLUMNS})
