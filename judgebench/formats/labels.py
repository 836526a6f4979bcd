"""Human labels for `judgebench agree` and `judgebench judges --labels`: a CSV, JSONL, JSON or Parquet file, or a
human arena's database (its counted votes), read into a DataFrame that analysis.agreement compares with the
judgments.

A file's layout is told by its columns (``LAYOUTS``, tried in order): our own pairwise columns (item_id, model_a,
model_b, winner), FastChat's MT-Bench human judgments (lmsys/mt_bench_human_judgments: question_id, model_a,
model_b, winner, judge, turn) and AlpacaEval's human cross-annotations (alpaca_farm_human_crossannotations.json:
instruction, output_1, output_2, preference, annotator_index). The two published layouts are turned into our
pairwise columns; any other table (score labels, model-level labels) is returned as it is."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .common import content, iter_jsonl, json_error, read_bytes, read_text
from .identity import ALPACA_EVAL, MT_BENCH, instruction_id

# An AlpacaEval side without a generator column is named by its text: OUTPUT_PREFIX + the text's digest.
OUTPUT_PREFIX = "output:"


def output_name(text: str) -> str:
    """The name of an answer known only by its text (a cross-annotation without generators)."""
    return OUTPUT_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _mt_bench_human(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """FastChat's human judgments: one row per vote; winner model_a / model_b / tie / tie (bothbad) (pairwise_labels
    reads each), the voter in ``judge`` (expert_0, author_2, ...)."""
    return pd.DataFrame({"benchmark": MT_BENCH, "item_id": frame["question_id"].astype(str),
                         "model_a": frame["model_a"].astype(str), "model_b": frame["model_b"].astype(str),
                         "winner": frame["winner"].astype(str),
                         "turn": frame.get("turn", 1),  # checked by _check_pairwise
                         "voter": frame["judge"].astype(str) if "judge" in frame else None})


# AlpacaEval's preference: 1 = output_1 is better, 2 = output_2, and a draw as 0 (AlpacaEval's convention) or 1.5.
_PREFERENCE_WINNER = {1.0: "model_a", 2.0: "model_b", 0.0: "tie", 1.5: "tie"}


def _side(frame: pd.DataFrame, n: int) -> pd.Series:
    """The model of side ``n``: generator_<n> where the file has it, else the answer's text digest (output_name)."""
    if f"generator_{n}" in frame and frame[f"generator_{n}"].notna().all():
        return frame[f"generator_{n}"].astype(str)
    return frame[f"output_{n}"].astype(str).map(output_name)


def _alpaca_cross(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """AlpacaEval's human cross-annotations: items by instruction (formats.identity), the two sides by generator or,
    without one, by their text; preference 1 / 2, a draw 0 or 1.5. Any other preference is an error."""
    preference = pd.to_numeric(frame["preference"], errors="coerce")
    winner = preference.map(_PREFERENCE_WINNER)
    bad = winner.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}[{row}]: preference {frame['preference'].tolist()[row]!r} is not 1, 2 or a draw (0 or "
                        "1.5); fix the row or leave it out")
    return pd.DataFrame({"benchmark": ALPACA_EVAL, "item_id": frame["instruction"].astype(str).map(instruction_id),
                         "model_a": _side(frame, 1), "model_b": _side(frame, 2), "winner": winner, "turn": 1,
                         "voter": frame["annotator_index"].astype(str) if "annotator_index" in frame else None})


@dataclass(frozen=True)
class LabelLayout:
    """A published layout of human pairwise labels: the columns that tell it (``required`` all present, none of
    ``excluded``) and how its rows become our pairwise columns (benchmark, item_id, model_a, model_b, winner, turn,
    voter). ``pairwise``: the layout is our own pairwise columns, returned as they are."""

    name: str
    required: frozenset[str]
    convert: Callable[[pd.DataFrame, Path], pd.DataFrame] | None
    excluded: frozenset[str] = frozenset()

    def matches(self, columns: set[str]) -> bool:
        return self.required <= columns and not self.excluded & columns


# In the order they are tried. An AlpacaEval judge's annotations name their annotator on every row: those are a
# judge's verdicts (read as judgments), not human cross-annotations, which carry an annotator_index instead.
LAYOUTS: tuple[LabelLayout, ...] = (
    LabelLayout("pairwise", frozenset({"item_id", "model_a", "model_b", "winner"}), None),
    LabelLayout("mt-bench-human", frozenset({"question_id", "model_a", "model_b", "winner"}), _mt_bench_human),
    LabelLayout("alpaca-eval-cross", frozenset({"instruction", "output_1", "output_2", "preference"}), _alpaca_cross,
                excluded=frozenset({"annotator"})),
)


def layout_of(frame: pd.DataFrame) -> LabelLayout | None:
    """The pairwise layout a labels table is in, or None (score or model-level labels, or no labels at all)."""
    columns = {str(c) for c in frame.columns}
    return next((layout for layout in LAYOUTS if layout.matches(columns)), None)


def read_table(path: Path) -> pd.DataFrame:
    """A labels file as a table: JSONL (one object a line), JSON (a list of objects), Parquet or CSV; gzip
    allowed."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return pd.DataFrame([record for _, record in iter_jsonl(path)])
    if name.endswith(".json"):
        try:
            data = json.loads(content(path, read_bytes(path)))
        except (json.JSONDecodeError, RecursionError) as exc:
            raise json_error(exc, str(path)) from None
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise DataError(f"{path}: expected a JSON list of objects, one label each")
        return pd.DataFrame(data)
    text = ""
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(content(path, read_bytes(path))))
        text = read_text(path)
        return pd.read_csv(io.StringIO(text))
    except (ValueError, OSError) as exc:
        raise DataError(f"{_csv_where(path, text) if text else path}: cannot read labels: "
                        f"{str(exc).splitlines()[0][:200]}") from exc


def _csv_where(path: Path, text: str) -> str:
    """file:line of a CSV's first malformed line (an unclosed quote, say), as Python's csv module reads it: pandas'
    own message counts data rows, not the file's lines."""
    import csv

    reader = csv.reader(io.StringIO(text), strict=True)
    start = 1  # the line the row being read starts on: an unclosed quote is only found at the end of the file
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error:
        return f"{path}:{start}"
    return str(path)


def read_labels(path: Path) -> pd.DataFrame:
    """Labels from a CSV, JSONL, JSON or Parquet file, or a human arena's database: its counted votes (a vote on a
    battle that gave a model away, or a consistency repeat, is left out, as the arena's ranking leaves it out). A
    published layout (``LAYOUTS``) comes back in our pairwise columns."""
    from .arena_db import is_sqlite

    if is_sqlite(path):
        return arena_labels(path)
    frame = read_table(path)
    layout = layout_of(frame)
    if layout is None:
        return frame
    labels = frame if layout.convert is None else layout.convert(frame, path)
    _check_pairwise(labels, path)
    return labels


# What a pairwise label's winner may be besides one of its own two models' names: a side (FastChat writes model_a or
# model_1) or a tie (FastChat's human judgments have two kinds). Anything else is an error, never a silent tie.
WINNERS = ("model_a", "model_b", "model_1", "model_2", "tie", "tie (bothbad)", "both_bad")
MAX_TURN = 1000


def _where(path: Path, row: int) -> str:
    """A label's place: file:line for CSV (after the header) and JSONL, file[row] for a JSON list or Parquet."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return f"{path}:{row + 1}"
    return f"{path}[{row}]" if name.endswith((".json", ".parquet")) else f"{path}:{row + 2}"


def _check_pairwise(labels: pd.DataFrame, path: Path) -> None:
    """Every item id and model is a value (not empty, not NaN: such a label would match nothing, silently), every
    winner is a side, a tie or one of the row's two models, and every turn a whole number from 1: a typo read as a
    tie would move every agreement printed, silently."""
    for column in ("item_id", "model_a", "model_b"):
        if column not in labels.columns:
            continue
        missing = labels[column].isna().to_numpy() | (labels[column].astype(str).str.strip() == "").to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(f"{_where(path, row)}: {column} is empty or not a value (NaN): give every label its "
                            f"{column}")
    for row, (a, b, winner) in enumerate(zip(labels["model_a"], labels["model_b"], labels["winner"], strict=True)):
        if winner in WINNERS or (isinstance(winner, str) and winner in (str(a), str(b))):
            continue
        raise DataError(f"{_where(path, row)}: winner {str(winner)[:80]!r} is not one of {', '.join(WINNERS)} or "
                        f"the row's models ({str(a)[:60]!r}, {str(b)[:60]!r}): correct the label")
    if "turn" not in labels.columns:
        return
    turns = pd.to_numeric(labels["turn"], errors="coerce")
    bad = ~(turns.notna() & (turns == turns.round()) & (turns >= 1) & (turns <= MAX_TURN))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{_where(path, row)}: turn {str(labels['turn'].iloc[row])[:40]!r} is not a whole number from "
                        f"1 to {MAX_TURN}: correct the label (or leave the column out: every label is then turn 1)")


def arena_labels(path: Path) -> pd.DataFrame:
    """A human arena's counted votes as pairwise labels (item_id, model_a, model_b, winner, turn, category, voter);
    both_bad is a tie, as Chatbot Arena counts it."""
    from .arena_db import read_votes

    votes = [v for v in read_votes(path) if v.counted]
    if not votes:
        raise DataError(f"{path}: the arena has no counted vote yet")
    winner = {"A": "model_a", "B": "model_b"}
    return pd.DataFrame({"benchmark": [v.benchmark for v in votes],
                         "item_id": [v.item_id for v in votes], "model_a": [v.model_a for v in votes],
                         "model_b": [v.model_b for v in votes], "winner": [winner.get(v.winner, "tie") for v in votes],
                         "turn": [v.turn for v in votes], "category": [v.category for v in votes],
                         "voter": [v.voter for v in votes]})
