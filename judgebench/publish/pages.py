"""The site's pages: the leaderboard (index.html) and one page per model (models/<slug>.html) where its judgments
can be read. Rendered with jinja's autoescape: model names, questions, answers and judge replies are data, never
markup (no ``|safe`` on any of them)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

import jinja2
import pandas as pd

from ..analysis.judge_rankings import JudgeComparison
from ..analysis.leaderboard import LeaderboardRow, breakdown_columns
from ..formats.texts import JudgmentText, TextKey
from ..judging.kinds import kind_of

MAX_PER_GROUP = 25  # judgments shown per (benchmark, judge, opponent) on a model page; the note says how many more


@dataclass(frozen=True)
class Method:
    """How a table's numbers were made: the judge, its prompts' sha256 where the runs recorded them, the
    judgments counted and the bootstrap resamples of the intervals."""

    judge: str
    n_judgments: int
    n_bootstrap: int
    prompt_sha256: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TableRow:
    row: LeaderboardRow
    page: str  # the model's page, relative to the site
    turns: tuple[float | None, ...]
    categories: tuple[float | None, ...]


@dataclass(frozen=True)
class Section:
    """One (benchmark, judge) table: its rows in ranking order, its breakdown columns, plots and method."""

    benchmark: str
    judge: str
    stem: str
    rows: tuple[TableRow, ...]
    turns: tuple[int, ...]
    categories: tuple[str, ...]
    images: tuple[str, ...]
    method: Method
    pairwise: bool


@dataclass(frozen=True)
class Entry:
    """One judgment on a model page: its verdict from the judgments frame, its texts where they were found."""

    item_id: str
    category: str
    turn: int
    verdict: str
    error: str | None
    key: TextKey
    text: JudgmentText | None = None


@dataclass(frozen=True)
class ModelGroup:
    section: Section
    row: LeaderboardRow
    entries: tuple[Entry, ...]
    n_total: int


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def model_pages(models: Sequence[str]) -> dict[str, str]:
    """Each model's page path. A name that is not its own slug gets a hash of itself, so two names that slug
    alike ("a/b", "a-b") never share a page."""
    pages = {}
    for model in models:
        name = slug(model)
        if name != model:
            name = f"{name}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"
        pages[model] = f"models/{name}.html"
    return pages


def section(benchmark: str, judge: str, stem: str, rows: Sequence[LeaderboardRow], images: Sequence[str],
            method: Method, pages: Mapping[str, str]) -> Section:
    turns, categories = breakdown_columns(rows)
    table = tuple(TableRow(r, pages[r.model], tuple(dict(r.per_turn).get(t) for t in turns),
                           tuple(dict(r.per_category).get(c) for c in categories)) for r in rows)
    pairwise = any(not kind_of(r.kind).has_grades for r in rows)
    return Section(benchmark, judge, stem, table, turns, categories, tuple(images), method, pairwise)


def _num(value: object) -> str | None:
    return None if value is None or pd.isna(value) else f"{float(value):g}"  # type: ignore[arg-type]


def verdict_text(record: Mapping[str, object]) -> str:
    """A judgment's verdict in words, from its frame record."""
    if kind_of(str(record["kind"])).has_grades:
        grade = _num(record.get("score"))
        low, high = _num(record.get("scale_low")), _num(record.get("scale_high"))
        scale = f" on {low}–{high}" if low and high else ""
        return f"grade {grade}{scale}" if grade is not None else "no grade"
    parts = []
    for column, order in (("verdict_ab", "candidate shown first"), ("verdict_ba", "candidate shown second")):
        verdict = record.get(column)
        if isinstance(verdict, str):
            parts.append(f"{order}: {verdict}")
    preference = _num(record.get("preference"))
    if preference is not None:
        parts.append(f"preference {preference} (1 = opponent, 2 = candidate)")
    return "; ".join(parts) or "no verdict"


def model_groups(model: str, frame: pd.DataFrame, sections: Sequence[Section],
                 limit: int = MAX_PER_GROUP) -> list[ModelGroup]:
    """The model's judgments grouped by its table rows (benchmark, judge, opponent), at most ``limit`` each, without
    their texts yet (``with_texts`` adds them)."""
    mine = frame[frame["model"] == model]
    groups = []
    for sec in sections:
        for table_row in sec.rows:
            row = table_row.row
            if row.model != model:
                continue
            part = mine[(mine["benchmark"] == sec.benchmark) & (mine["judge"] == sec.judge)
                        & (mine["opponent"].fillna("") == (row.opponent or ""))]
            entries = []
            for record in part.head(limit).to_dict("records"):
                error = record.get("error")
                key = (sec.benchmark, sec.judge, model, row.opponent or "", str(record["item_id"]),
                       int(record["turn"]))
                entries.append(Entry(str(record["item_id"]), str(record["category"]), int(record["turn"]),
                                     verdict_text(record), error if isinstance(error, str) else None, key))
            groups.append(ModelGroup(sec, row, tuple(entries), len(part)))
    return groups


def with_texts(groups: Sequence[ModelGroup], texts: Mapping[TextKey, JudgmentText]) -> list[ModelGroup]:
    return [replace(g, entries=tuple(replace(e, text=texts.get(e.key)) for e in g.entries)) for g in groups]


@cache
def environment() -> jinja2.Environment:
    """One environment, so each template is compiled once per process."""
    return jinja2.Environment(loader=jinja2.PackageLoader("judgebench.publish", "templates"), autoescape=True,
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def render_index(sections: Sequence[Section], comparisons: Sequence[JudgeComparison], **page: object) -> str:
    return environment().get_template("leaderboard.html.jinja").render(
        sections=sections, comparisons=comparisons, fmt=fmt, **page)


def render_model(model: str, groups: Sequence[ModelGroup], **page: object) -> str:
    return environment().get_template("model.html.jinja").render(model=model, groups=groups, fmt=fmt,
                                                                  limit=MAX_PER_GROUP, **page)
