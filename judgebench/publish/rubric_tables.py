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
        parts.append("rubric: mean item score per category")
        parts.append(render_table(["benchmark", "judge", "model", "category", "items", "failed", "score", "95% CI"],
                             [[r.benchmark, r.judge, r.model, r.category, str(r.n_items), str(r.n_failed),
                               _num(r.score), _ci(r.ci_low, r.ci_high)] for r in tables.categories.itertuples()]))
    if not tables.tags.empty:
        parts.append("rubric: per tag, the mean item score over the tag's criteria alone, and how often they were met")
        parts.append(render_table(["benchmark", "judge", "model", "tag", "items", "score", "95% CI", "met"],
                             [[r.benchmark, r.judge, r.model, r.tag, str(r.n_items), _num(r.score),
                               _ci(r.ci_low, r.ci_high), _num(r.rate_met, 2)] for r in tables.tags.itertuples()]))
    if not tables.criteria.empty:
        parts.append("rubric: per criterion, how often it was met (missing: verdicts that did not parse)")
        header = ["benchmark", "judge", "model", "criterion", "points", "n", "met", "95% CI", "missing", "text"]
        parts.append(render_table(header, [[r.benchmark, r.judge, r.model, r.key, f"{r.points:g}", str(r.n),
                                            _num(r.rate_met, 2), _ci(r.ci_low, r.ci_high), str(r.n_missing),
                                            _short(str(r.text))] for r in tables.criteria.itertuples()]))
    return "\n\n".join(parts)
