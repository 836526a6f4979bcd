"""Judgments -> leaderboard rows and tables, per (benchmark, judge). Pure: DataFrames in, rows and text out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from itertools import groupby
from typing import Any

import pandas as pd

from ..formats.identity import benchmark_label
from ..judging.kinds import kind_of
from ..stats.length_control import DifficultyTable
from ..stats.ranks import interval_ranks
from ..stats.winrate import DEFAULT_BOOTSTRAP
from ..types import ScoreRow
from .battles import BATTLE_BOOTSTRAP, BattleScore
from .diagnostics import Diagnostics, diagnose
from .flags import agreement_text, flag_notes, lc_text
from .scores import aggregate_frame, ranking_order, score_rows


@dataclass(frozen=True)
class LeaderboardRow:
    """One model on one benchmark under one judge (against one opponent, for pairwise), ranked. The numbers are
    the ``ScoreRow``'s (the same as `judgebench stats`); score: win rate in percent (pairwise) or mean grade
    (single), ci_low/ci_high its 95% percentile bootstrap interval; badges: the diagnostics' flags for it.

    ranking_value: what orders the models everywhere (``ScoreRow.ranking_value``: the LC win rate where there is
    one that is not weak, else the score), ranked_by the field it is. rank: 1 + the number of models whose
    interval of the ranked number (lc_ci_low/lc_ci_high where the LC ranks, else ci_low/ci_high) lies wholly
    above this one's (stats.ranks.interval_ranks), so models that the intervals cannot tell apart share a rank
    (``tied``). lc_weak, lc_table_models, order_agreement, order_biased: as on ``ScoreRow``, shown as flags
    beside the numbers. per_turn/per_category: mean grade or win rate of each turn and category."""

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
    ranking_value: float | None = None
    tied: bool = False
    per_turn: tuple[tuple[int, float], ...] = ()
    per_category: tuple[tuple[str, float], ...] = ()
    lc_ci_low: float | None = None
    lc_ci_high: float | None = None
    lc_weak: bool = False
    lc_table_models: int | None = None
    lc_note: str | None = None
    order_agreement: float | None = None
    order_biased: bool = False
    ranked_by: str = "score"
    unranked: str | None = None  # why a battle table's model has no score (its every battle failed or was left out)


@dataclass(frozen=True)
class Leaderboard:
    rows: tuple[LeaderboardRow, ...]
    scores: tuple[ScoreRow, ...]
    diagnostics: Diagnostics


# The badges of a row's own flags (ScoreRow.lc_weak, ScoreRow.order_biased), as the site and downloads show them.
WEAK_LC = "weak LC"
UNRANKED = "unranked"
ORDER_TIES = "ties from order disagreement"


def badges(diagnostics: Diagnostics, row: ScoreRow) -> tuple[str, ...]:
    found = [flag.kind.value for flag in diagnostics.flags_for(row.benchmark, row.judge, row.model)]
    if row.lc_weak:
        found.append(WEAK_LC)
    if row.order_biased:
        found.append(ORDER_TIES)
    if row.n_failed:
        found.append(f"{row.n_failed} failed")
    return tuple(dict.fromkeys(found))


def leaderboard(frame: pd.DataFrame, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                difficulty: DifficultyTable | None = None) -> Leaderboard:
    """Ranked rows for every (benchmark, judge[, opponent]) in a deduplicated frame, badged from its diagnostics."""
    # The diagnostics' resamples are their own (constants.DIAGNOSTIC_BOOTSTRAP), whatever ``n_bootstrap`` the scores
    # use, so the site and load() show the intervals of `judgebench diagnose` and of the run's summary.json.
    report = diagnose(frame)
    battles = _is_battle(frame)
    # Battle tables are `stats --battles`'s rankings (analysis.battles, BATTLE_BOOTSTRAP resamples), whatever
    # ``n_bootstrap`` the other tables use: the same votes must give the same numbers on every page.
    fitted_battles = aggregate_frame(frame[battles], BATTLE_BOOTSTRAP, difficulty)
    scores = sorted(score_rows(frame[~battles], n_bootstrap, difficulty) + fitted_battles.rows, key=ranking_order)
    # The battle rows' rankings, fitted once with their score rows. Battle groups are named by benchmark_label (the
    # protocol beside the benchmark), as score rows are not.
    groups = fitted_battles.battles
    fitted = {(r.benchmark, r.judge, r.model): r for g in groups for r in g.rows}
    left = {(g.benchmark, g.judge, u.model): u.reason for g in groups for u in g.unranked}
    rows: list[LeaderboardRow] = []
    # One ranking per (benchmark, protocol, judge, kind, opponent): two protocols' rows are never ranked together.
    for _, grouped in groupby(scores, key=lambda r: ranking_order(r)[:5]):
        members = list(grouped)  # score_rows puts them best first
        intervals = [row.ranking_interval for row in members]
        ranks = interval_ranks([low for low, _ in intervals], [high for _, high in intervals])
        for rank, row in zip(ranks, members, strict=True):
            board_row = LeaderboardRow(
                benchmark=row.benchmark, judge=row.judge, kind=row.kind, opponent=row.opponent, rank=rank,
                model=row.model, score=row.score, ci_low=row.ci_low, ci_high=row.ci_high,
                length_controlled_winrate=row.length_controlled_winrate, n=row.n_judged, n_failed=row.n_failed,
                avg_length=row.avg_length, badges=badges(report, row), ranking_value=row.ranking_value,
                tied=ranks.count(rank) > 1, per_turn=row.per_turn, per_category=row.per_category,
                lc_ci_low=row.lc_ci_low, lc_ci_high=row.lc_ci_high, lc_weak=row.lc_weak,
                lc_table_models=row.lc_table_models, lc_note=row.lc_note, order_agreement=row.order_agreement,
                order_biased=row.order_biased, ranked_by=row.ranked_by)
            rows.append(_as_battle_row(board_row, fitted, left, benchmark_label(row.benchmark, row.protocol))
                        if kind_of(row.kind).compares_models else board_row)
    return Leaderboard(tuple(rows), tuple(scores), report)


def _is_battle(frame: pd.DataFrame) -> pd.Series:
    """The rows of kinds that rank candidate models against each other (judging.kinds ``compares_models``)."""
    kinds = {kind: kind_of(str(kind)).compares_models for kind in frame["kind"].dropna().unique()}
    return frame["kind"].map(kinds).fillna(False).astype(bool)


def _as_battle_row(row: LeaderboardRow, fitted: dict[tuple[str, str, str], BattleScore],
                   left: dict[tuple[str, str, str], str], label: str) -> LeaderboardRow:
    """A battle table's row as `stats --battles` shows it: the score and interval are already the ranking's (the
    score rows come from the same fit); its interval rank among the ranked models, and n its games (a judgment in
    both orders is two). ``label``: the row's benchmark as battle groups name it."""
    battle = fitted.get((label, row.judge, row.model))
    if battle is None:  # a model whose every battle failed or was left out: no game, no score, badged unranked
        reason = left.get((label, row.judge, row.model))
        return replace(row, n=0, tied=False, unranked=reason,
                       badges=(*row.badges, UNRANKED) if reason else row.badges)
    tied = sum(r.rank == battle.rank for r in fitted.values()
               if (r.benchmark, r.judge) == (label, row.judge)) > 1
    return replace(row, rank=battle.rank, tied=tied, n=battle.n_games)


Rows = Sequence[LeaderboardRow]
_BREAKDOWNS = ("per_turn", "per_category")
_FLAT = [c for c in LeaderboardRow.__dataclass_fields__ if c not in _BREAKDOWNS]


def breakdown_columns(rows: Rows) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The turns and categories the rows are broken down by, when there is more than one of each (a single
    turn's or category's column would repeat the score)."""
    turns = tuple(sorted({t for r in rows for t, _ in r.per_turn}))
    categories = tuple(sorted({c for r in rows for c, _ in r.per_category}))
    return (turns if len(turns) > 1 else ()), (categories if len(categories) > 1 else ())


def _flat(row: LeaderboardRow, turns: tuple[int, ...], categories: tuple[str, ...]) -> dict[str, Any]:
    """A row as one flat record: badges joined, one column per turn and per category."""
    values = {c: getattr(row, c) for c in _FLAT}
    values["badges"] = "; ".join(row.badges)
    per_turn, per_category = dict(row.per_turn), dict(row.per_category)
    values.update({f"turn {t}": per_turn.get(t) for t in turns})
    values.update({f"category: {c}": per_category.get(c) for c in categories})
    return values


def rows_frame(rows: Rows) -> pd.DataFrame:
    turns, categories = breakdown_columns(rows)
    columns = [*_FLAT, *(f"turn {t}" for t in turns), *(f"category: {c}" for c in categories)]
    return pd.DataFrame([_flat(r, turns, categories) for r in rows], columns=columns)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_csv(rows: Rows) -> str:
    """The rows in their order (the ranking), one column per turn and category where there are several."""
    turns, categories = breakdown_columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = [*_FLAT, *(f"turn {t}" for t in turns), *(f"category: {c}" for c in categories)]
    writer.writerow(columns)
    for row in rows:
        values = _flat(row, turns, categories)
        writer.writerow([_fmt(values[c]) for c in columns])
    return buffer.getvalue()


def to_json(rows: Rows) -> str:
    """The rows in their order (the ranking); per_turn/per_category as objects keyed by turn and category."""
    return json.dumps([{**asdict(r), "badges": list(r.badges), "per_turn": {str(t): v for t, v in r.per_turn},
                        "per_category": dict(r.per_category)} for r in rows],
                      indent=2, sort_keys=True, allow_nan=False) + "\n"


def to_markdown(rows: Rows) -> str:
    """The rows in their order (the ranking), each number beside its own interval and flag, the flags' notes
    below the table."""
    header = ["#", "model", "score", "95% CI", "LC win rate", "LC 95% CI", "order agree", "ranked by", "n", "badges"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        ci = f"{_fmt(r.ci_low)} – {_fmt(r.ci_high)}" if r.ci_low is not None else ""
        lc_ci = f"{_fmt(r.lc_ci_low)} – {_fmt(r.lc_ci_high)}" if r.lc_ci_low is not None else ""
        lc = lc_text(r) if r.length_controlled_winrate is not None else ""
        agreement = agreement_text(r) if r.order_agreement is not None else ""
        rank = "-" if r.unranked else f"={r.rank}" if r.tied else str(r.rank)
        ranked = "LC win rate" if r.ranked_by == "length_controlled_winrate" else "score"
        lines.append(f"| {rank} | {r.model} | {_fmt(r.score)} | {ci} | {lc} | {lc_ci} | {agreement} | {ranked} | "
                     f"{r.n} | {', '.join(r.badges)} |")
    notes = sorted({f"- {r.model}: {note}" for r in rows for note in flag_notes(r)}
                   | {f"- {r.model}: {UNRANKED}: {r.unranked}" for r in rows if r.unranked})
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"
