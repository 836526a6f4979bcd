"""Each judge's variance across repeated asks of the same prompt (a judge with ``,repeats=K``; stats.repeats says
what the numbers mean), from a judgments frame: one row per judge, for the per-judge table to show beside its other
columns."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from ..errors import DataError
from ..stats.repeats import variance

__all__ = ["VARIANCE_COLUMNS", "judge_variance"]

# The columns of ``judge_variance``'s frame, after its ``judge`` index.
VARIANCE_COLUMNS = ("flip_rate", "disagreement", "grade_sd", "n_repeated", "asks")


def _asks(text: str) -> list[Any]:
    """A ``repeats`` cell (formats.table.repeats_text) as its list of asks."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise DataError(f"a judgments frame's repeats column holds {text[:60]!r}, not each ask's verdict as a JSON "
                        "list: read the judgments with judgebench (analysis.records.read_judgments)")
    return value


def _prompts(cells: pd.Series) -> tuple[list[list[float]], list[list[str]], int]:
    """A judge's graded prompts' grades, its pairwise prompts' outcomes (each order a prompt) and the most asks of
    one prompt, from its ``repeats`` cells; failed asks left out."""
    grades: list[list[float]] = []
    outcomes: list[list[str]] = []
    most = 0
    for cell in cells.dropna():
        asks = _asks(str(cell))
        most = max(most, len(asks))
        if any(isinstance(ask, list) for ask in asks):
            for order in (0, 1):
                outcomes.append([ask[order] for ask in asks if isinstance(ask, list) and ask[order] is not None])
        else:
            grades.append([float(ask) for ask in asks if ask is not None])
    return grades, outcomes, most


def judge_variance(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per judge (index ``judge``), columns VARIANCE_COLUMNS: flip rate, mean pairwise disagreement and mean
    grade SD over its repeated prompts, how many prompts they are over (``n_repeated``) and the most asks of one
    (``asks``, the judge's K). A judge that asked each prompt once has no prompt to measure: NaN, 0 prompts, 1 ask."""
    rows = []
    cells = frame["repeats"] if "repeats" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    for judge, part in cells.groupby(frame["judge"], sort=True):
        grades, outcomes, most = _prompts(part)
        found = variance(grades, outcomes)
        rows.append({"judge": judge, "flip_rate": found.flip_rate, "disagreement": found.disagreement,
                     "grade_sd": found.grade_sd, "n_repeated": found.n_repeated, "asks": most or 1})
    table = pd.DataFrame(rows, columns=["judge", *VARIANCE_COLUMNS])
    return table.astype({"flip_rate": float, "disagreement": float, "grade_sd": float, "n_repeated": int,
                         "asks": int}).set_index("judge")
