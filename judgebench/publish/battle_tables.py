"""Battle rankings -> the plain-text tables `judgebench stats --battles` prints: per (benchmark, judge) the raw
Bradley-Terry ranking beside the style-controlled one, then the style coefficients with their intervals."""

from __future__ import annotations

from collections.abc import Sequence

from ..analysis.battles import BattleGroup
from .tables import render_table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _interval(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{low:.2f}, {high:.2f}]"


def _unranked(group: BattleGroup) -> list[str]:
    return [f"unranked: {u.model}: {u.reason}" for u in group.unranked]


def _group_table(group: BattleGroup) -> str:
    if group.empty_note:
        return "\n".join([f"{group.benchmark}, judged by {group.judge}: {group.empty_note}", *_unranked(group)])
    title = (f"{group.benchmark}, judged by {group.judge}: win rate (%) against {group.baseline}, "
             f"{group.n_games} games")
    header = ["rank", "model", "score", "95% CI", "styled rank", "styled score", "styled 95% CI", "games"]
    body = [[str(r.rank), r.model, _num(r.bt_score), _interval(r.ci_low, r.ci_high),
             "-" if r.styled_rank is None else str(r.styled_rank), _num(r.styled_score),
             _interval(r.styled_ci_low, r.styled_ci_high), str(r.n_games)] for r in group.rows]
    parts = [title, render_table(header, body)]
    if group.coefficients:
        parts.append("style coefficients (log-odds of winning per typical normalized difference):")
        parts.append(render_table(["covariate", "coefficient", "95% CI"],
                             [[c.name, f"{c.value:+.3f}", "-" if c.ci_low is None or c.ci_high is None
                               else f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}]"] for c in group.coefficients]))
    if group.style_note:
        parts.append(f"note: {group.style_note}")
    if group.separation_note:
        parts.append(f"note: {group.separation_note}")
    return "\n".join(parts + _unranked(group))


def format_battles(groups: Sequence[BattleGroup]) -> str:
    """One block per group; ranks count the models whose interval lies wholly above (ties share a rank)."""
    return "\n\n".join(_group_table(g) for g in groups) if groups else "(no battles)"
