"""AlpacaEval's files: ``model_outputs.json`` (instructions and a model's outputs) and ``annotations.json(.gz)``
(the judge's preferences). Items are identified by their instruction (formats.identity.instruction_id), in our
runs and in AlpacaEval's files alike."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..types import Item, Judgment
from .common import read_json
from .identity import ALPACA_EVAL, instruction_id


def outputs(path: Path) -> list[dict[str, Any]]:
    """``model_outputs.json``: a list of {instruction, output, generator, dataset}."""
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "instruction" in r for r in data):
        raise DataError(f"{path}: expected a JSON list of objects with 'instruction' (AlpacaEval model_outputs)")
    return data


def items(path: Path) -> list[Item]:
    return [
        Item(id=instruction_id(str(rec["instruction"])), category=str(rec.get("dataset", "alpaca_eval")),
             turns=(str(rec["instruction"]),), source=f"{path}[{i}]")
        for i, rec in enumerate(outputs(path))
    ]


def answers_by_instruction(path: Path) -> tuple[str | None, dict[str, str]]:
    """(generator, instruction -> output) of a ``model_outputs.json``."""
    rows = outputs(path)
    generator = str(rows[0].get("generator")) if rows and rows[0].get("generator") else None
    return generator, {str(r["instruction"]): str(r.get("output", "")) for r in rows}


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def read_annotations(path: Path) -> list[Judgment]:
    """``annotations.json(.gz)``: output_1 is the baseline's, output_2 the model's; preference in [1, 2]
    (AlpacaEval's 0 means a draw: 1.5). One combined preference per instruction, no order-level verdicts."""
    rows = read_json(path)
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of AlpacaEval annotations")
    judgments = []
    for n, row in enumerate(rows):
        try:
            preference = _float(row.get("preference"))
            if preference == 0.0:
                preference = 1.5
            judgments.append(Judgment(
                benchmark=ALPACA_EVAL, item_id=instruction_id(row["instruction"]),
                category=str(row.get("dataset", "")), model=str(row["generator_2"]),
                judge=str(row.get("annotator", "unknown")), turn=1, kind="pairwise",
                opponent=str(row["generator_1"]), preference=preference,
                error=None if preference is not None else "no preference in the annotation",
                failure=None if preference is not None else "parse",
                length=len(row.get("output_2") or ""), opponent_length=len(row.get("output_1") or ""),
            ))
        except (KeyError, AttributeError, TypeError) as exc:
            raise DataError(f"{path}[{n}]: not an AlpacaEval annotation (missing {exc})") from exc
    return judgments
