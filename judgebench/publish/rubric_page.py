"""The site's rubric page (rubric.html): a rubric task's tables (analysis.rubric, computed once, the tables
`judgebench stats` prints and ``judgebench.load(...).rubric`` holds) per (benchmark, judge): pairs of models, per
category, per tag, per criterion, every cell written by the same formatting as the text tables
(publish.rubric_tables), each table a CSV download beside it; then, per benchmark, the rubric-quality tables
(analysis.rubric_quality, the ones `judgebench rubric-report` prints): the panel's agreement per criterion, the
criteria the judges disagree on most and the criteria that never vary. Formatting only: every number is the
table's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis.rubric import GROUP, RubricTables
from ..analysis.rubric_quality import GROUP as QUALITY_GROUP
from ..analysis.rubric_quality import RubricQuality
from ..constants import RUBRIC_TOP_DISAGREEMENTS as TOP_DISAGREEMENTS
from ..formats.identity import benchmark_label
from . import pages, viewer
from .rubric_tables import ci_text, has_levels, num_text

PAGE = "rubric.html"
# A HealthBench-sized rubric has tens of thousands of item criteria per model: the page shows this many rows of a
# group's criterion table (task-level criteria first, then the lowest rates met); the CSV beside it has them all.
MAX_CRITERIA_ROWS = 500
# (table attribute, title, [(header, column, numeric), ...]): the columns the text tables print, in their order.
TABLES: tuple[tuple[str, str, tuple[tuple[str, str, bool], ...]], ...] = (
    ("pairs", "Mean per-item score difference (model a - model b), paired 95% bootstrap interval",
     (("model a", "model_a", False), ("model b", "model_b", False), ("items", "n_items", True),
      ("difference", "difference", True), ("95% CI", "ci", True))),
    ("categories", "Mean item score per category, and how often its criteria were met (both over scored judgments)",
     (("model", "model", False), ("category", "category", False), ("items", "n_items", True),
      ("failed", "n_failed", True), ("score", "score", True), ("95% CI", "ci", True), ("met", "rate_met", True),
      ("95% CI", "ci:rate", True))),
    ("tags", "Per tag: the mean item score over the tag's criteria alone, and how often they were met (both over "
     "scored judgments)",
     (("model", "model", False), ("tag", "tag", False), ("items", "n_items", True), ("score", "score", True),
      ("95% CI", "ci", True), ("met", "rate_met", True), ("95% CI", "ci:rate", True))),
    ("criteria", "Per criterion: how often it was met (missing: verdicts that did not parse); a score rubric's: "
                 "the mean level picked",
     (("model", "model", False), ("criterion", "key", False), ("points", "points", True), ("n", "n", True),
      ("met", "rate_met", True), ("95% CI", "ci", True), ("level", "mean_level", True), ("95% CI", "ci:level", True),
      ("missing", "n_missing", True), ("text", "text", False))),
)
# The criterion table's level columns, shown only where it holds a score rubric's levels (as the text table).
LEVEL_COLUMNS = ("mean_level", "ci:level")


# The rubric-quality tables, as TABLES; a "ci:X" column is the interval (X_low, X_high) of the column X.
_AGREEMENT = (("answers", "n_units", True), ("items", "n_items", True), ("agree", "agreement", True),
              ("95% CI", "ci:agreement", True), ("kappa", "kappa", True), ("95% CI", "ci:kappa", True),
              ("kappa of", "statistic", False))
QUALITY_TABLES: tuple[tuple[str, str, tuple[tuple[str, str, bool], ...]], ...] = (
    ("panel", "Panel agreement per criterion (* = every criterion pooled), 95% bootstrap intervals over items",
     (("criterion", "key", False), *_AGREEMENT, ("incomplete", "n_incomplete", True), ("text", "text", False))),
    ("disagreements", f"The criteria the judges disagree on most (the first {TOP_DISAGREEMENTS})",
     (("criterion", "key", False), ("agree", "agreement", True), ("kappa", "kappa", True),
      ("answers", "n_units", True), ("text", "text", False))),
    ("constant", "Criteria that never vary across answers (they cannot tell models apart)",
     (("criterion", "key", False), ("verdict", "always", False), ("answers", "n_answers", True),
      ("models", "n_models", True), ("judges", "n_judges", True), ("text", "text", False))),
)


@dataclass(frozen=True)
class Cell:
    text: str
    value: Any  # what the column sorts by ("" for none)
    href: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    headers: tuple[tuple[str, bool], ...]
    rows: tuple[tuple[Cell, ...], ...]
    n_rows: int  # the table's rows, all of them (the page may show fewer)
    download: str


@dataclass(frozen=True)
class Group:
    benchmark: str
    judge: str
    stem: str
    tables: tuple[Table, ...]
    viewer_href: str


@dataclass(frozen=True)
class QualityGroup:
    """One benchmark's rubric-quality tables; ``judges``: its panel ("" without one)."""

    benchmark: str
    judges: str
    stem: str
    tables: tuple[Table, ...]


def _value(value: Any) -> Any:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _cell(row: pd.Series, column: str, section: dict[str, str]) -> Cell:
    if column == "ci":
        return Cell(ci_text(row["ci_low"], row["ci_high"]), _value(row["ci_low"]))
    if column.startswith("ci:"):  # the interval of the column named rate_met / mean_level
        low, high = row[f"{column[3:]}_ci_low"], row[f"{column[3:]}_ci_high"]
        return Cell(ci_text(low, high), _value(low))
    value = row[column]
    if column in ("difference", "score"):
        return Cell(num_text(value), _value(value))
    if column in ("rate_met", "mean_level"):
        return Cell(num_text(value, 2), _value(value))
    if column == "points":
        return Cell(f"{value:g}", value)
    if column == "model":
        return Cell(str(value), str(value), viewer.href(None, benchmark=section["benchmark"],
                                                        judge=section["judge"], model=value, kind="rubric"))
    if column == "category":
        return Cell(str(value), str(value), viewer.href(None, benchmark=section["benchmark"], judge=section["judge"],
                                                        model=row["model"], kind="rubric", category=value))
    return Cell(str(value), _value(value))


def _quality_cell(row: pd.Series, column: str) -> Cell:
    if column.startswith("ci:"):
        stem = column[3:]
        return Cell(ci_text(row[f"{stem}_low"], row[f"{stem}_high"]), _value(row[f"{stem}_low"]))
    value = row[column]
    if column in ("agreement", "kappa"):
        return Cell(num_text(value, 2), _value(value))
    if column == "always":
        return Cell("met by all" if value else "met by none", int(bool(value)))
    if column == "points":
        return Cell(f"{value:g}", value)
    return Cell(str(_value(value)), _value(value))


def quality_groups(quality: RubricQuality, data: Path) -> list[QualityGroup]:
    """The rubric-quality tables per benchmark (and protocol), each table's CSV written into ``data`` in full (the
    page lists the first TOP_DISAGREEMENTS disagreements, as `rubric-report` does, and the first MAX_CRITERIA_ROWS
    rows of the others)."""
    found = []
    keys = sorted({k for t in (quality.panel, quality.constant) for k in t[QUALITY_GROUP].itertuples(index=False)})
    for benchmark, protocol in keys:
        label = benchmark_label(str(benchmark), protocol if isinstance(protocol, str) else "")
        stem = f"rubric-quality-{pages.slug(label)}"
        made = []
        for name, title, columns in QUALITY_TABLES:
            frame: pd.DataFrame = getattr(quality, name)
            part = frame[(frame["benchmark"] == benchmark) & (frame["protocol"] == protocol)]
            if part.empty:
                continue
            download = f"{stem}.{name}.csv"
            part.to_csv(data / download, index=False, lineterminator="\n")
            # A HealthBench-sized rubric has tens of thousands of criteria: the page lists MAX_CRITERIA_ROWS of them.
            shown = part.head(TOP_DISAGREEMENTS if name == "disagreements" else MAX_CRITERIA_ROWS)
            rows = tuple(tuple(_quality_cell(row, column) for _, column, _ in columns) for _, row in shown.iterrows())
            made.append(Table(name, title, tuple((h, numeric) for h, _, numeric in columns), rows, len(part),
                              f"data/{download}"))
        panel = quality.panel[(quality.panel["benchmark"] == benchmark) & (quality.panel["protocol"] == protocol)]
        found.append(QualityGroup(label, str(panel["judges"].iloc[0]) if len(panel) else "", stem, tuple(made)))
    return found


def _shown(name: str, part: pd.DataFrame) -> pd.DataFrame:
    if name != "criteria" or len(part) <= MAX_CRITERIA_ROWS:
        return part
    order = part.assign(_item=part["scope"] != "task", _rate=part["rate_met"].fillna(2.0))
    return order.sort_values(["_item", "_rate", "model", "key"], kind="stable").head(MAX_CRITERIA_ROWS)


def groups(tables: RubricTables, data: Path) -> list[Group]:
    """The page's groups (one per benchmark, protocol and judge), each table's CSV written into ``data``."""
    found = []
    keys = sorted({k for t in (tables.criteria, tables.categories) for k in t[GROUP].itertuples(index=False)})
    for benchmark, protocol, judge in keys:
        label = benchmark_label(str(benchmark), protocol if isinstance(protocol, str) else "")
        stem = f"rubric-{pages.slug(label)}__{pages.slug(str(judge))}"
        section = {"benchmark": label, "judge": str(judge)}
        made = []
        for name, title, columns in TABLES:
            frame: pd.DataFrame = getattr(tables, name)
            part = frame[(frame["benchmark"] == benchmark) & (frame["protocol"] == protocol)
                         & (frame["judge"] == judge)]
            if part.empty:
                continue
            download = f"{stem}.{name}.csv"
            part.to_csv(data / download, index=False, lineterminator="\n")
            if name == "criteria" and not has_levels(part):
                columns = tuple(c for c in columns if c[1] not in LEVEL_COLUMNS)
            rows = tuple(tuple(_cell(row, column, section) for _, column, _ in columns)
                         for _, row in _shown(name, part).iterrows())
            made.append(Table(name, title, tuple((h, numeric) for h, _, numeric in columns), rows, len(part),
                              f"data/{download}"))
        found.append(Group(label, str(judge), stem, tuple(made),
                           viewer.href(None, benchmark=label, judge=str(judge), kind="rubric")))
    return found


def render(found: list[Group], n_bootstrap: int, quality: list[QualityGroup] | None = None, **page: object) -> str:
    return pages.environment().get_template("rubric.html.jinja").render(
        groups=found, n_bootstrap=n_bootstrap, max_rows=MAX_CRITERIA_ROWS, quality=quality or [], **page)
