"""Rubric-quality tables (analysis.rubric_quality) -> the plain text `judgebench rubric-report` prints. Formatting
only: every number is the table's."""

from __future__ import annotations

import pandas as pd

from ..analysis.rubric_quality import RubricQuality
from ..constants import RUBRIC_TOP_DISAGREEMENTS as TOP_DISAGREEMENTS
from .rubric_tables import _ci, _num, _short
from .tables import render_table


def _stat_cells(r: object) -> list[str]:
    get = r.__getattribute__
    return [str(get("n_units")), str(get("n_items")), _num(get("agreement"), 2),
            _ci(get("agreement_low"), get("agreement_high")), _num(get("kappa"), 2),
            _ci(get("kappa_low"), get("kappa_high")), str(get("statistic"))]


STAT_HEADERS = ["answers", "items", "agree", "95% CI", "kappa", "95% CI", "kappa of"]


def format_rubric_quality(quality: RubricQuality, top: int = TOP_DISAGREEMENTS) -> str:
    """The panel's agreement per criterion, the criteria judges disagree on most (``top`` of them), the criteria
    that never vary and, with labels, each judge's agreement with them."""
    parts = []
    if quality.panel.empty:
        parts.append("panel agreement: needs two judges or more on the same rubric (a panel: --judge twice)")
    else:
        panels = "; ".join(sorted({f"{r.benchmark}: {r.judges}"
                                   for r in quality.panel.itertuples()}))
        parts.append(f"panel agreement per criterion (* = every criterion pooled); 95% bootstrap intervals over items "
                     f"(none from one item); judges of {panels}")
        parts.append(render_table(["benchmark", "criterion", *STAT_HEADERS, "incomplete", "text"],
                             [[r.benchmark, r.key, *_stat_cells(r), str(r.n_incomplete), _short(str(r.text), 50)]
                              for r in quality.panel.itertuples()]))
        worst = quality.disagreements.head(top)
        if worst.empty:
            parts.append("criteria the judges disagree on: none (every verdict alike)")
        else:
            parts.append(f"criteria the judges disagree on most (top {len(worst)})")
            parts.append(render_table(["rank", "benchmark", "criterion", "agree", "kappa", "answers", "text"],
                                 [[str(i + 1), r.benchmark, r.key, _num(r.agreement, 2), _num(r.kappa, 2),
                                   str(r.n_units), _short(str(r.text), 60)]
                                  for i, r in enumerate(worst.itertuples())]))
    if quality.constant.empty:
        parts.append("criteria that never vary across answers: none listed (one is listed when every verdict, on "
                     "answers of two models or more, is the same)")
    else:
        parts.append("criteria that never vary across answers (they cannot tell models apart)")
        parts.append(render_table(["benchmark", "criterion", "verdict", "answers", "models", "judges", "text"],
                             [[r.benchmark, r.key, "met by all" if r.always else "met by none", str(r.n_answers),
                               str(r.n_models), str(r.n_judges), _short(str(r.text), 60)]
                              for r in quality.constant.itertuples()]))
    if quality.labels is not None:
        labels: pd.DataFrame = quality.labels
        parts.append("agreement with the human labels (Cohen's kappa; * = every criterion pooled)")
        parts.append(render_table(["benchmark", "judge", "criterion", *STAT_HEADERS, "unmatched", "text"],
                             [[r.benchmark, r.judge, r.key, *_stat_cells(r),
                               "" if pd.isna(r.n_unmatched) else str(int(r.n_unmatched)), _short(str(r.text), 40)]
                              for r in labels.itertuples()]))
    return "\n\n".join(parts)
