"""Rubric judgments' criteria as a table: one row per (judgment, criterion), typed (``CRITERIA_COLUMNS``), made
from a judgments frame's ``criteria`` column (formats.table). The one constructor of per-criterion frames: the
rubric statistics (analysis.rubric), ``judgebench.load()`` and the command line all read this frame."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

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
    Column("tags", "str", "The criterion's tags, comma-separated (empty for none)."),
    Column("scope", "str", "`task` (the task's rubric, every item) or `item` (the item's own)."),
    Column("met", "boolean", "Whether the answer meets it; <NA> where the verdict is missing or did not parse (and "
                             "for a score rubric)."),
    Column("level", "Int64", "A score rubric's level picked (1 = lowest); <NA> otherwise."),
    Column("empty", "bool", "The answer was empty, never shown to the judge (its criteria count as not met)."),
    Column("judgment_failed", "bool", "The judgment has no score (a criterion's verdict is missing, or the request "
                                      "failed)."),
)
CRITERIA_COLUMN_NAMES = [c.name for c in CRITERIA_COLUMNS]
_DTYPES = {"str": "object", "float": "float64", "int": "int64", "bool": "bool", "boolean": "boolean",
           "Int64": "Int64"}


def criterion_key(scope: str, item_id: str, ident: str) -> str:
    """A criterion's identity across items: a task-level one is the same criterion in every item."""
    return ident if scope == "task" else f"{item_id}/{ident}"


def criteria_frame(judgments: pd.DataFrame) -> pd.DataFrame:
    """One row per criterion of every rubric judgment in a judgments frame (``CRITERIA_COLUMNS``); empty (with the
    columns) when there is none."""
    rows: list[tuple[Any, ...]] = []
    if "criteria" in judgments:
        has = judgments[judgments["criteria"].notna()]
        columns = ["benchmark", "protocol", "judge", "model", "item_id", "category", "turn", "criteria", "empty",
                   "score"]
        for benchmark, protocol, judge, model, item_id, category, turn, text, empty, score in \
                has[columns].itertuples(index=False, name=None):
            for c in json.loads(text):
                scope = c.get("scope", "item")
                rows.append((benchmark, protocol or "", judge, model, item_id, category, int(turn), c["id"],
                             criterion_key(scope, item_id, c["id"]), c.get("text", ""), float(c["points"]),
                             ",".join(c.get("tags") or ()), scope, c.get("met"), c.get("level"), bool(empty),
                             bool(pd.isna(score))))
    frame = pd.DataFrame(rows, columns=CRITERIA_COLUMN_NAMES)
    return frame.astype({c.name: _DTYPES[c.dtype] for c in CRITERIA_COLUMNS})
