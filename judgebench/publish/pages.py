"""The site's pages: the leaderboard (index.html) and one page per model (models/<slug>.html) where its judgments
can be read. Rendered with jinja's autoescape: model names, questions, answers and judge replies are data, never
markup (no ``|safe`` on any of them)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

import jinja2
import pandas as pd

from ..analysis import flags
from ..analysis.judge_rankings import JudgeComparison
from ..analysis.leaderboard import LeaderboardRow, breakdown_columns
from ..formats.identity import benchmark_label
from ..formats.texts import JudgmentText, TextKey
from ..judging.kinds import kind_of
from ..stats.length_control import MIN_MODELS
from ..stats.position_bias import LOW_CONSISTENCY
from .rubric_tables import num_text

MAX_PER_GROUP = 25  # judgments shown per (benchmark, judge, opponent) on a model page; the note says how many more


@dataclass(frozen=True)
class Method:
    """How a table's numbers were made: the judge, its prompts' sha256 where the runs recorded them, the
    judgments counted and the bootstrap resamples of the intervals."""

    judge: str
    n_judgments: int
    n_bootstrap: int
    prompt_sha256: tuple[tuple[str, str], ...] = ()
    battle_bootstrap: int = 0  # a battle table's resamples (analysis.battles.BATTLE_BOOTSTRAP, as `stats --battles`)


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
    battles: bool = False  # candidate models ranked against each other (Bradley-Terry): n counts games
    protocol: str = ""  # the judgments' protocol: a section never mixes two
    # The columns that apply to the section's kind: an LC win rate (comparisons with a reference, not battles'
    # Bradley-Terry scores), the order agreement (kinds that ask in both orders).
    lc: bool = False
    orders: bool = False

    @property
    def title(self) -> str:
        """The benchmark, with the protocol beside it where that is not the benchmark's own name."""
        return benchmark_label(self.benchmark, self.protocol)

    @property
    def what(self) -> str:
        """What the table ranks, in words: one benchmark and judge may have a table of grades and one of battles."""
        if self.battles:
            return "battles between models"
        if self.pairwise:
            opponents = sorted({t.row.opponent for t in self.rows if t.row.opponent})
            return f"compared with {', '.join(opponents)}" if opponents else "pairwise comparisons"
        return "grades"


@dataclass(frozen=True)
class Entry:
    """One judgment on a model page: its verdict from the judgments frame, its texts where they were found.
    ``where``: the turn it judged, or the whole conversation; ``page_model``: the page's model in a battle (its
    answer is shown first, the other model's as its opponent's, whichever side the record has it on)."""

    item_id: str
    category: str
    turn: int
    verdict: str
    error: str | None
    key: TextKey
    text: JudgmentText | None = None
    where: str = ""
    page_model: str | None = None

    def answers(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(heading, turns, css class) of each answer to show, the page's model's first in a battle."""
        text = self.text
        if text is None:
            return []
        if self.page_model is None:
            return [(f"Answer of {text.model}", text.answer, "answer"),
                    (f"Answer of the {text.opponent_label}", text.opponent_answer, "opponent")]
        other = text.opponent if self.page_model == text.model else text.model
        mine, theirs = ((text.answer, text.opponent_answer) if self.page_model == text.model
                        else (text.opponent_answer, text.answer))
        return [(f"Answer of {self.page_model} (this page's model)", mine, "answer"),
                (f"Answer of its opponent, {other}", theirs, "opponent")]

    def replies(self) -> list[tuple[str, str]]:
        """(heading, text) of each judge reply, in the order asked: candidate first, then second (a battle names
        whose answer was shown first)."""
        replies = self.text.replies if self.text is not None else ()
        if len(replies) == 1:
            return [("Judge's reply", replies[0])]
        if self.page_model is not None and self.text is not None:
            orders = [f"{self.text.model}'s answer shown first", f"{self.text.opponent}'s answer shown first"]
        else:
            orders = ["candidate shown first", "candidate shown second"]
        return [(f"Judge's reply, {orders[n]}" if n < 2 else f"Judge's reply {n + 1}", reply)
                for n, reply in enumerate(replies)]


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
            method: Method, pages: Mapping[str, str], protocol: str = "") -> Section:
    turns, categories = breakdown_columns(rows)
    table = tuple(TableRow(r, pages[r.model], tuple(dict(r.per_turn).get(t) for t in turns),
                           tuple(dict(r.per_category).get(c) for c in categories)) for r in rows)
    kinds = [kind_of(r.kind) for r in rows]
    pairwise = any(not k.has_grades for k in kinds)
    battles = any(k.compares_models for k in kinds)
    lc = any(not k.has_grades and not k.compares_models for k in kinds)
    orders = any(k.has_orders for k in kinds)
    return Section(benchmark, judge, stem, table, turns, categories, tuple(images), method, pairwise, battles,
                   protocol, lc, orders)


def ranked_models(frame: pd.DataFrame) -> list[str]:
    """Every model a table ranks: the candidates, and in battles (kinds that compare candidate models) their
    opponents too, since a model may appear only as the opponent of the others' judgments."""
    compares = {kind: kind_of(str(kind)).compares_models for kind in frame["kind"].dropna().unique()}
    battles = frame[frame["kind"].map(compares).fillna(False).astype(bool)]
    return sorted(set(frame["model"].astype(str)) | set(battles["opponent"].dropna().astype(str)))


def _num(value: object) -> str | None:
    return None if value is None or pd.isna(value) else f"{float(value):g}"  # type: ignore[arg-type]


def verdict_text(record: Mapping[str, object]) -> str:
    """A judgment's verdict in words, from its frame record."""
    if isinstance(record.get("criteria"), str):  # a rubric's: the item score its criteria add up to
        if _num(record.get("score")) is None:
            return "no rubric score (a criterion has no verdict)"
        return f"rubric score {num_text(record.get('score'))} (points met over the positive points)"
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


def _order_phrase(outcome: object, margin: object, candidate: str, opponent: str) -> str:
    """One order's verdict in words, from the candidate's outcome in it: who was better, and by how much."""
    if outcome == "tie":
        return "a tie"
    winner = candidate if outcome == "win" else opponent
    much = isinstance(margin, (int, float)) and not math.isnan(margin) and margin >= 2
    return f"{winner} {'much ' if much else ''}better"


def battle_verdict_text(record: Mapping[str, object], model: str) -> str:
    """A battle's verdict from ``model``'s point of view (it may be the record's candidate or its opponent): who
    beat whom, then the judge's verdict in each order it was asked, named by whose answer was shown first
    ("zeta lost to alpha: with alpha's answer shown first, alpha much better; with zeta's shown first, alpha
    better")."""
    candidate, opponent = str(record["model"]), str(record["opponent"])
    other = opponent if model == candidate else candidate
    preference = record.get("preference")
    if not isinstance(preference, (int, float)) or math.isnan(preference):
        return f"{model} against {other}: no verdict"
    value = float(preference) if model == candidate else 3.0 - float(preference)
    head = (f"{model} beat {other}" if value > 1.5 else f"{model} lost to {other}" if value < 1.5
            else f"{model} and {other} tied")
    orders = [f"with {first}'s answer shown first, {_order_phrase(record.get(v), record.get(m), candidate, opponent)}"
              for v, m, first in (("verdict_ab", "margin_ab", candidate), ("verdict_ba", "margin_ba", opponent))
              if record.get(v) in ("win", "loss", "tie")]
    outcomes = {record.get("verdict_ab"), record.get("verdict_ba")}
    if len(orders) == 2 and len(outcomes) == 2:
        orders.append("the two orders disagree (position bias)")
    return head + (f": {'; '.join(orders)}" if orders else "")


def where_text(kind: str, turn: int) -> str:
    """Which part of the conversation a judgment covers: a turn, or (battles) the whole conversation."""
    if kind_of(kind).whole_conversation:
        return f"whole conversation ({turn} turns)" if turn > 1 else ""
    return f"turn {turn}" if turn > 1 else ""


def _entry(record: Mapping[str, object], verdict: str, page_model: str | None = None) -> Entry:
    error = record.get("error")
    opponent = record.get("opponent")
    turn = int(record["turn"])  # type: ignore[call-overload]
    key = (str(record["benchmark"]), str(record["judge"]), str(record["model"]),
           opponent if isinstance(opponent, str) else "", str(record["item_id"]), turn)
    return Entry(str(record["item_id"]), str(record["category"]), turn, verdict,
                 error if isinstance(error, str) else None, key, where=where_text(str(record["kind"]), turn),
                 page_model=page_model)


def model_groups(model: str, frame: pd.DataFrame, sections: Sequence[Section],
                 limit: int = MAX_PER_GROUP) -> list[ModelGroup]:
    """The model's judgments grouped by its table rows (benchmark, judge, opponent), at most ``limit`` each, without
    their texts yet (``with_texts`` adds them). In a battle table a row's opponent is only the ranking's anchor:
    the group is every battle the model was in, on either side, its verdict from the model's point of view."""
    groups = []
    protocols = frame["protocol"].fillna("").astype(str)
    for sec in sections:
        for table_row in sec.rows:
            row = table_row.row
            if row.model != model:
                continue
            here = frame[(frame["benchmark"] == sec.benchmark) & (protocols == sec.protocol)
                         & (frame["judge"] == sec.judge) & (frame["kind"] == row.kind)]
            if kind_of(row.kind).compares_models:
                part = here[(here["model"] == model) | (here["opponent"] == model)]
                entries = [_entry(r, battle_verdict_text(r, model), model)
                           for r in part.head(limit).to_dict("records")]
            else:
                part = here[(here["model"] == model) & (here["opponent"].fillna("") == (row.opponent or ""))]
                entries = [_entry(r, verdict_text(r)) for r in part.head(limit).to_dict("records")]
            groups.append(ModelGroup(sec, row, tuple(entries), len(part)))
    return groups


def with_texts(groups: Sequence[ModelGroup], texts: Mapping[TextKey, JudgmentText]) -> list[ModelGroup]:
    return [replace(g, entries=tuple(replace(e, text=texts.get(e.key)) for e in g.entries)) for g in groups]


@cache
def environment() -> jinja2.Environment:
    """One environment, so each template is compiled once per process. The flags' markers, notes and thresholds
    are the text tables' own (analysis.flags)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("judgebench.publish", "templates"), autoescape=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["flag_lines"] = lambda row: [f"{row.model}: {note}" for note in flags.flag_notes(row)] + (
        [f"{row.model}: unranked: {row.unranked}"] if row.unranked else [])
    env.globals.update(flag_notes=flags.flag_notes, weak_mark=flags.WEAK_MARK, biased_mark=flags.BIASED_MARK,
                       low_consistency=f"{100 * LOW_CONSISTENCY:.0f}", min_models=MIN_MODELS)
    return env


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def render_index(sections: Sequence[Section], comparisons: Sequence[JudgeComparison], **page: object) -> str:
    return environment().get_template("leaderboard.html.jinja").render(
        sections=sections, comparisons=comparisons, fmt=fmt, **page)


def render_model(model: str, groups: Sequence[ModelGroup], **page: object) -> str:
    return environment().get_template("model.html.jinja").render(model=model, groups=groups, fmt=fmt,
                                                                  limit=MAX_PER_GROUP, **page)


def render_judges(profiles: pd.DataFrame, agreement: pd.DataFrame | None = None, **page: object) -> str:
    """The Judges page: analysis.judge_profiles' frame, one row per judge in its ranking, the cells of the text
    table `judgebench judges` prints (publish.tables.PROFILE_CELLS) with each value to sort by; with ``agreement``
    (analysis.judge_labels.label_frame, `leaderboard --labels`), the table `judges --labels` prints below it
    (publish.tables.LABEL_CELLS)."""
    from .tables import LABEL_CELLS, PROFILE_CELLS, label_cells, profile_cells

    columns = [(header, key, key != "judge", meaning) for header, key, _, meaning in PROFILE_CELLS]
    rows = [profile_cells(row) for _, row in profiles.iterrows()]
    label_columns = [(header, key, key not in ("judge", "labels"), meaning) for header, key, _, meaning in LABEL_CELLS]
    label_rows = [] if agreement is None else [label_cells(row) for _, row in agreement.iterrows()]
    return environment().get_template("judges.html.jinja").render(
        columns=columns, rows=rows, label_columns=label_columns, label_rows=label_rows,
        has_labels=agreement is not None, **page)
