"""Rubric tables (analysis.rubric) -> the plain text `judgebench stats` prints after the score rows of a rubric
task: per pair of models, per category, per tag and per criterion. Formatting only: every number is the table's."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..analysis.rubric import RubricTables
from .tables import render_table


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def _ci(low: Any, high: Any) -> str:
    return "-" if low is None or high is None or pd.isna(low) or pd.isna(high) else f"[{low:.2f}, {high:.2f}]"


# The site's rubric page (publish.rubric_page) writes its cells with these, so both print the same text.
num_text, ci_text = _num, _ci


def has_levels(criteria: pd.DataFrame) -> bool:
    """Whether a criterion table holds a score rubric's levels (its level columns are shown only then)."""
    return bool(criteria["mean_level"].notna().any())


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def format_rubric(tables: RubricTables) -> str:
    """The rubric tables as text sections (empty text when there are no rubric judgments)."""
    if tables.empty:
        return ""
    parts = []
    if not tables.pairs.empty:
        parts.append("rubric: mean per-item score difference (model a - model b), paired 95% bootstrap interval")
        parts.append(render_table(["benchmark", "judge", "model a", "model b", "items", "difference", "95% CI"],
                             [[r.benchmark, r.judge, r.model_a, r.model_b, str(r.n_items), _num(r.difference),
                               _ci(r.ci_low, r.ci_high)] for r in tables.pairs.itertuples()]))
    if not tables.categories.empty:
        parts.append("rubric: mean item score per category, and how often its criteria were met (both over scored "
                     "judgments)")
        parts.append(render_table(["benchmark", "judge", "model", "category", "items", "failed", "score", "95% CI",
                                   "met", "95% CI"],
                             [[r.benchmark, r.judge, r.model, r.category, str(r.n_items), str(r.n_failed),
                               _num(r.score), _ci(r.ci_low, r.ci_high), _num(r.rate_met, 2),
                               _ci(r.rate_ci_low, r.rate_ci_high)] for r in tables.categories.itertuples()]))
    if not tables.tags.empty:
        parts.append("rubric: per tag, the mean item score over the tag's criteria alone, and how often they were "
                     "met (both over scored judgments)")
        parts.append(render_table(["benchmark", "judge", "model", "tag", "items", "score", "95% CI", "met", "95% CI"],
                             [[r.benchmark, r.judge, r.model, r.tag, str(r.n_items), _num(r.score),
                               _ci(r.ci_low, r.ci_high), _num(r.rate_met, 2), _ci(r.rate_ci_low, r.rate_ci_high)]
                              for r in tables.tags.itertuples()]))
    if not tables.criteria.empty:
        # A score rubric's criterion: the mean level picked (shown where the table has one).
        levels = has_levels(tables.criteria)
        parts.append("rubric: per criterion, how often it was met (missing: verdicts that did not parse)"
                     + ("; a score rubric's: the mean level picked" if levels else ""))
        parts.append(render_table(["benchmark", "judge", "model", "criterion", "points", "n", "met", "95% CI",
                              *(["level", "95% CI"] if levels else []), "missing", "text"],
                             [[r.benchmark, r.judge, r.model, r.key, f"{r.points:g}", str(r.n), _num(r.rate_met, 2),
                               _ci(r.ci_low, r.ci_high),
                               *([_num(r.mean_level, 2), _ci(r.level_ci_low, r.level_ci_high)] if levels else []),
                               str(r.n_missing), _short(str(r.text))]
                              for r in tables.criteria.itertuples()]))
    return "\n\n".join(parts)
