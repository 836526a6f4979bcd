"""The site's rubric page (rubric.html): a rubric task's tables (analysis.rubric, computed once, the tables
`judgebench stats` prints and ``judgebench.load(...).rubric`` holds) per (benchmark, judge): pairs of models, per
category, per tag, per criterion, every cell written by the same formatting as the text tables
(publish.rubric_tables), each table a CSV download beside it. Formatting only: every number is the table's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis.rubric import GROUP, RubricTables
from ..formats.identity import benchmark_label
from . import pages, viewer
from .rubric_tables import ci_text, num_text

PAGE = "rubric.html"
# A HealthBench-sized rubric has tens of thousands of item criteria per model: the page shows this many rows of a
# group's criterion table (task-level criteria first, then the lowest rates met); the CSV beside it has them all.
MAX_CRITERIA_ROWS = 500
# (table attribute, title, [(header, column, numeric), ...]): the columns the text tables print, in their order.
TABLES: tuple[tuple[str, str, tuple[tuple[str, str, bool], ...]], ...] = (
    ("pairs", "Mean per-item score difference (model a - model b), paired 95% bootstrap interval",
     (("model a", "model_a", False), ("model b", "model_b", False), ("items", "n_items", True),
      ("difference", "difference", True), ("95% CI", "ci", True))),
    ("categories", "Mean item score per category",
     (("model", "model", False), ("category", "category", False), ("items", "n_items", True),
      ("failed", "n_failed", True), ("score", "score", True), ("95% CI", "ci", True))),
    ("tags", "Per tag: the mean item score over the tag's criteria alone, and how often they were met",
     (("model", "model", False), ("tag", "tag", False), ("items", "n_items", True), ("score", "score", True),
      ("95% CI", "ci", True), ("met", "rate_met", True))),
    ("criteria", "Per criterion: how often it was met (missing: verdicts that did not parse)",
     (("model", "model", False), ("criterion", "key", False), ("points", "points", True), ("n", "n", True),
      ("met", "rate_met", True), ("95% CI", "ci", True), ("missing", "n_missing", True), ("text", "text", False))),
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


def _value(value: Any) -> Any:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _cell(row: pd.Series, column: str, section: dict[str, str]) -> Cell:
    if column == "ci":
        return Cell(ci_text(row["ci_low"], row["ci_high"]), _value(row["ci_low"]))
    value = row[column]
    if column in ("difference", "score"):
        return Cell(num_text(value), _value(value))
    if column == "rate_met":
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
            rows = tuple(tuple(_cell(row, column, section) for _, column, _ in columns)
                         for _, row in _shown(name, part).iterrows())
            made.append(Table(name, title, tuple((h, numeric) for h, _, numeric in columns), rows, len(part),
                              f"data/{download}"))
        found.append(Group(label, str(judge), stem, tuple(made),
                           viewer.href(None, benchmark=label, judge=str(judge), kind="rubric")))
    return found


def render(found: list[Group], n_bootstrap: int, **page: object) -> str:
    return pages.environment().get_template("rubric.html.jinja").render(
        groups=found, n_bootstrap=n_bootstrap, max_rows=MAX_CRITERIA_ROWS, **page)
