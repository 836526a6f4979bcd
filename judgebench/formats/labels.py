"""Human labels for `judgebench agree`: a CSV or JSONL file, or a human arena's database (its counted votes), read
into a DataFrame that analysis.agreement compares with the judgments."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .common import iter_jsonl, read_text


def read_labels(path: Path) -> pd.DataFrame:
    """Labels from a CSV or JSONL file, or a human arena's database: its counted votes (a vote on a battle that
    gave a model away, or a consistency repeat, is left out, as the arena's ranking leaves it out)."""
    from .arena_db import is_sqlite

    if is_sqlite(path):
        return arena_labels(path)
    if path.suffix == ".jsonl":
        return pd.DataFrame([record for _, record in iter_jsonl(path)])
    try:
        return pd.read_csv(io.StringIO(read_text(path)))
    except ValueError as exc:
        raise DataError(f"{path}: cannot read labels: {exc}") from exc


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
