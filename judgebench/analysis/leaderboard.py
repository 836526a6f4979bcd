"""Judgments -> leaderboard rows and tables, per (benchmark, judge). Pure: DataFrames in, rows and text out."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import Any

import pandas as pd

from ..stats.length_control import DifficultyTable
from ..types import ScoreRow
from .diagnostics import Diagnostics, diagnose
from .scores import score_rows


@dataclass(frozen=True)
class LeaderboardRow:
    """One model on one benchmark under one judge (against one opponent, for pairwise), ranked. The numbers are
    the ``ScoreRow``'s (the same as `judgebench stats`); score: win rate in percent (pairwise) or mean grade
    (single), ci_low/ci_high its 95% percentile bootstrap interval; badges: the diagnostics' flags for it."""

    benchmark: str
    judge: str
    kind: str
    opponent: str | None
    rank: int
    model: str
    score: float | None
    ci_low: float | None
    ci_high: float | None
    length_controlled_winrate: float | None
    n: int
    n_failed: int
    avg_length: float | None
    badges: tuple[str, ...]


@dataclass(frozen=True)
class Leaderboard:
    rows: tuple[LeaderboardRow, ...]
    scores: tuple[ScoreRow, ...]
    diagnostics: Diagnostics


def badges(diagnostics: Diagnostics, row: ScoreRow) -> tuple[str, ...]:
    found = [flag.kind.value for flag in diagnostics.flags_for(row.benchmark, row.judge, row.model)]
    if row.n_failed:
        found.append(f"{row.n_failed} failed")
    return tuple(dict.fromkeys(found))


def leaderboard(frame: pd.DataFrame, n_bootstrap: int = 1000, difficulty: DifficultyTable | None = None) -> Leaderboard:
    """Ranked rows for every (benchmark, judge[, opponent]) in a deduplicated frame, badged from its diagnostics."""
    report = diagnose(frame, n_bootstrap=min(n_bootstrap, 500))
    scores = score_rows(frame, n_bootstrap, difficulty)
    rows: list[LeaderboardRow] = []
    for _, members in groupby(scores, key=lambda r: (r.benchmark, r.judge, r.kind, r.opponent)):
        for rank, row in enumerate(members, start=1):  # score_rows puts them best first
            rows.append(LeaderboardRow(
                benchmark=row.benchmark, judge=row.judge, kind=row.kind, opponent=row.opponent, rank=rank,
                model=row.model, score=row.score, ci_low=row.ci_low, ci_high=row.ci_high,
                length_controlled_winrate=row.length_controlled_winrate, n=row.n_judged, n_failed=row.n_failed,
                avg_length=row.avg_length, badges=badges(report, row)))
    return Leaderboard(tuple(rows), tuple(scores), report)


def rows_frame(rows: tuple[LeaderboardRow, ...] | list[LeaderboardRow]) -> pd.DataFrame:
    columns = list(LeaderboardRow.__dataclass_fields__)
    return pd.DataFrame([{**asdict(r), "badges": "; ".join(r.badges)} for r in rows], columns=columns)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_csv(rows: tuple[LeaderboardRow, ...] | list[LeaderboardRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(LeaderboardRow.__dataclass_fields__)
    writer.writerow(columns)
    for row in rows:
        values = asdict(row)
        values["badges"] = "; ".join(row.badges)
        writer.writerow([_fmt(values[c]) for c in columns])
    return buffer.getvalue()


def to_json(rows: tuple[LeaderboardRow, ...] | list[LeaderboardRow]) -> str:
    return json.dumps([{**asdict(r), "badges": list(r.badges)} for r in rows], indent=2, sort_keys=True,
                      allow_nan=False) + "\n"


def to_markdown(rows: tuple[LeaderboardRow, ...] | list[LeaderboardRow]) -> str:
    header = ["#", "model", "score", "95% CI", "LC win rate", "n", "badges"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        ci = f"{_fmt(r.ci_low)} – {_fmt(r.ci_high)}" if r.ci_low is not None else ""
        lines.append(f"| {r.rank} | {r.model} | {_fmt(r.score)} | {ci} | {_fmt(r.length_controlled_winrate)} | "
                     f"{r.n} | {', '.join(r.badges)} |")
    return "\n".join(lines) + "\n"
