"""Judgments as a table: the typed schema of every judgments frame (``JUDGMENT_COLUMNS``), whichever harness wrote
the records, and the one constructor of judgments frames.

A source's judgments travel column by column (``Columns``: column name -> one value per judgment) from a file
reader or the parse cache to ``sources_frame``, the one constructor of judgments frames: judgments parsed now,
served by the parse cache or given as ``Judgment`` objects go through the same conversions, so the frames are
equal, dtypes included. All sources are put into one frame at once: building a frame per source and
concatenating costs more than reading them from the cache.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..lazy import on_first_use
from ..types import (
    AnswerTraits,
    CallRecord,
    CriterionVerdict,
    Failure,
    Grade,
    Judgment,
    JudgmentId,
    PairVerdict,
    PricedCall,
    RubricVerdict,
    call_record,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class Column:
    """One column of every judgments frame: its name, its dtype in the frame, and what it holds."""

    name: str
    dtype: str  # "str" (text, None where missing), "float" (NaN where missing), "int" or "bool"
    description: str


# The columns every judgments frame has, whichever harness wrote the records, in frame order. The one list: the
# frame's constructor below, the parse cache and the reference's column table are all made from it.
JUDGMENT_COLUMNS: tuple[Column, ...] = (
    Column("benchmark", "str", "The benchmark's canonical name (`mt-bench`, `alpaca-eval`, `arena-hard`, ...), the "
                               "same "
                               "whichever harness wrote the file."),
    Column("item_id", "str", "The item's canonical id: MT-Bench's `question_id`; for AlpacaEval, the first 16 hex "
                             "digits of the sha256 of the instruction."),
    Column("category", "str", "The item's category (MT-Bench's eight, Arena-Hard's, ...)."),
    Column("model", "str", "The judged (candidate) model, named as its harness names it."),
    Column("judge", "str", "The judge's label: the judge spec's name with its mode and settings (`j#json,t=0.7`)."),
    Column("turn", "int", "The judged turn (1, 2, ...): MT-Bench judges each turn of a two-turn question apart."),
    Column("kind", "str", "The task kind that made the judgment: `single`, `pairwise`, `battles` or a published "
                          "protocol's kind."),
    Column("score", "float", "Single grading: the grade on the task's scale; rubric tasks: the item's score in [0, "
                             "1]; None when the judgment failed."),
    Column("opponent", "str", "Pairwise and battles: the model the candidate was compared with (the reference model, "
                              "or "
                              "the other model of a battle); None for single grading."),
    Column("verdict_ab", "str", "Pairwise: the verdict with the candidate shown first, from its point of view (`win`, "
                                "`loss`, `tie`)."),
    Column("verdict_ba", "str", "Pairwise: the verdict with the candidate shown second, from its point of view."),
    Column("preference", "float", "Pairwise: the combined preference in [1, 2] in AlpacaEval's convention (2 = the "
                                  "candidate is better, 1.5 a tie); None when either order failed."),
    Column("error", "str", "Why the judgment has no value, in words (None when it succeeded)."),
    Column("failure", "str", "The failure's cause: `parse`, `truncated`, `request`, `filtered`, `no_answer`, `empty`, "
                             "`split` (a repeated judge's asks split evenly: final, a rerun gives the same), "
                             "or `pending` / `excluded` (no value, not failed: waiting in a provider batch, or an "
                             "arena "
                             "vote left out)."),
    Column("empty", "bool", "The judged answer was empty (or only whitespace): never shown to the judge (`judge: "
                            "{on_empty: ...}`)."),
    Column("length", "float", "Characters of the judged answer (all turns): the length of length control."),
    Column("opponent_length", "float", "Characters of the opponent's answer (all turns)."),
    Column("expected_score", "float", "The probability-weighted grade over the scale from the judge's token "
                                      "log-probabilities (G-Eval style), where the server returned them."),
    Column("scale_low", "float", "The lowest grade of the task's scale (single grading)."),
    Column("scale_high", "float", "The highest grade of the task's scale (single grading)."),
    Column("margin_ab", "float", "Five-level verdicts (Arena-Hard's `A>>B` .. `B>>A`), candidate shown first: 1 = "
                                 "better, 2 = much better (counts as three games); None for three-level verdicts and "
                                 "ties."),
    Column("margin_ba", "float", "The same, candidate shown second."),
    Column("headers", "float", "Markdown headers in the judged answer (all turns, code blocks left out): a "
                               "style-control covariate; None where the answer's text was not available."),
    Column("lists", "float", "Markdown list items in the judged answer."),
    Column("bold", "float", "Bold spans in the judged answer."),
    Column("opponent_headers", "float", "Markdown headers in the opponent's answer."),
    Column("opponent_lists", "float", "Markdown list items in the opponent's answer."),
    Column("opponent_bold", "float", "Bold spans in the opponent's answer."),
    Column("protocol", "str", "The protocol that made the judgment (a published protocol's name such as "
                              "`alpaca-eval-2.0`, else the task's name): part of its identity; empty for records "
                              "written before protocols were recorded."),
    Column("tokens", "float", "Tokens of the judged answer, where a protocol counts them (Arena-Hard v2.0's style "
                              "control)."),
    Column("opponent_tokens", "float", "Tokens of the opponent's answer, likewise."),
    Column("judge_calls", "float", "Requests to the judge that answered for this judgment (both orders; a "
                                   "reply served by the cache counts); None where the file records no calls (other "
                                   "harnesses' files)."),
    Column("judge_prompt_tokens", "float", "Prompt tokens of those requests, as the server reported them; None where "
                                           "none was reported."),
    Column("judge_completion_tokens", "float", "Completion tokens of those requests, likewise."),
    Column("judge_latency_s", "float", "Seconds the judge took to answer those requests, summed (a cached reply "
                                       "keeps the time it took when it was asked); AlpacaEval's files give their "
                                       "`time_per_example`."),
    Column("judge_cost_usd", "float", "USD the judge's requests cost for this judgment as the file records it "
                                      "(AlpacaEval's `price_per_example`); None elsewhere (judgebench's own runs are "
                                      "priced from their tokens)."),
    Column("repeats", "str", "A judge that asks each prompt K times (`,repeats=K`): each ask's verdict, as JSON "
                             "text: `[7, 8, 7]` (grades) or `[[\"win\", \"tie\"], ...]` (each ask's two orders); "
                             "null for an ask that failed. None for a judge that asks once."),
    Column("verdict_probability", "float", "Pairwise, a judge with `,logprobs` and three verdict labels: the "
                                           "probability that the candidate is the better (a tie counting half), "
                                           "from the log-probabilities of the verdict token's alternatives, the "
                                           "mean over the orders; None where the server returned none."),
    Column("verdict_margin", "float", "The same judge's confidence: the top verdict's probability minus the next "
                                      "one's, the smaller over the two orders (`judgebench escalate`'s confidence)."),
    Column("criteria", "str", "Rubric tasks: each criterion's verdict, as JSON text: a list of `{id, met, points, "
                              "tags, text, scope, level}` (`met` null where the verdict is missing or did not parse; "
                              "`level` a score rubric's); None for other kinds. `judgebench.formats.criteria` makes "
                              "it a frame of one row per criterion."),
    Column("run_id", "str", "The judgebench run directory the judgment was read from; None for other harnesses' "
                            "files."),
)
COLUMNS = [c.name for c in JUDGMENT_COLUMNS]
# What a source's own content gives: every column but run_id (a run directory's name, not its content).
CONTENT_COLUMNS = tuple(c for c in COLUMNS if c != "run_id")
TEXT_COLUMNS = tuple(c.name for c in JUDGMENT_COLUMNS if c.dtype == "str" and c.name != "run_id")
NUMBER_COLUMNS = tuple(c.name for c in JUDGMENT_COLUMNS if c.dtype == "float")

Columns = Mapping[str, Sequence[Any]]


def _default(name: str) -> Any:
    """A column's value for a judgment whose reader did not set it: what a Judgment without it gives."""
    return {"empty": False, "protocol": ""}.get(name)  # criteria: None, as for every kind but rubric


_NO_PAIR = PairVerdict()  # a verdict's pair columns where it is not a pair (frozen: one for every row)


def judgment_row(j: Judgment) -> tuple[Any, ...]:
    """One judgment's ``CONTENT_COLUMNS`` values (raw text and calls left out): all a frame keeps of it."""
    i, mine, theirs, failure = j.id, j.answer, j.opponent_answer, j.failure
    score, expected = (j.verdict.score, j.verdict.expected_score) if isinstance(j.verdict, Grade) else (None, None)
    if isinstance(j.verdict, RubricVerdict):
        score = j.verdict.score
    pair = j.verdict if isinstance(j.verdict, PairVerdict) else _NO_PAIR
    low, high = j.scale if j.scale else (None, None)
    return (i.benchmark, i.item_id, j.category, i.model, i.judge, i.turn, j.kind, score, i.opponent, pair.ab,
            pair.ba, pair.preference, failure.message or None if failure else None,
            failure.cause if failure else None, j.empty, mine.length, theirs.length, expected, low, high,
            pair.margin_ab, pair.margin_ba, mine.headers, mine.lists, mine.bold, theirs.headers, theirs.lists,
            theirs.bold, i.protocol, mine.tokens, theirs.tokens, *_call_totals(j.calls),
            repeats_text(j.repeats), pair.probability, pair.logprob_margin, criteria_text(j.verdict))


def _total(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(sum(known)) if known else None


def _call_totals(calls: Sequence[CallRecord]) -> tuple[float | None, ...]:
    """(calls, prompt tokens, completion tokens, latency, recorded cost) of a judgment's requests that got a reply:
    what the judge costs per judgment (analysis.judge_profiles). None throughout for a judgment that records no
    calls."""
    if not calls:
        return None, None, None, None, None
    if len(calls) == 1:  # most judgments: one request (the same sums, ``0 + value`` as sum() adds it)
        (call,) = calls
        if call.error is not None:
            return 0.0, None, None, None, None
        tokens, completion, latency, cost = call.prompt_tokens, call.completion_tokens, call.latency_s, call.cost_usd
        return (1.0, None if tokens is None else float(0 + tokens),
                None if completion is None else float(0 + completion), None if latency is None else float(0 + latency),
                None if cost is None else float(0 + cost))
    answered = [c for c in calls if c.error is None]  # a request that failed reported no tokens
    return (float(len(answered)), _total([c.prompt_tokens for c in answered]),
            _total([c.completion_tokens for c in answered]), _total([c.latency_s for c in answered]),
            _total([c.cost_usd for c in answered]))


def recorded_call(cost_usd: float | None, latency_s: float | None) -> tuple[CallRecord, ...]:
    """The one request another harness's file records only the price and time of (AlpacaEval's annotation): none
    where it records neither."""
    if cost_usd is None and latency_s is None:
        return ()
    return (PricedCall("", "annotation", latency_s=latency_s or 0.0, price_usd=cost_usd),)


def criteria_text(verdict: Grade | PairVerdict | RubricVerdict | None) -> str | None:
    """A rubric verdict's criteria as the ``criteria`` column holds them (JSON text); None for other verdicts."""
    if not isinstance(verdict, RubricVerdict):
        return None
    return json.dumps(criteria_records(verdict), ensure_ascii=False)


# The keys of a criterion's verdict in a record, in CriterionVerdict's order.
CRITERION_FIELDS = ("id", "met", "points", "tags", "text", "scope", "level")


def criteria_records(verdict: RubricVerdict) -> list[dict[str, Any]]:
    """A rubric verdict's criteria as the record's ``criteria`` list (JSON-ready)."""
    return [{"id": c.id, "met": c.met, "points": c.points, "tags": list(c.tags), "text": c.text, "scope": c.scope,
             "level": c.level} for c in verdict.criteria]


def rubric_verdict(records: Sequence[Mapping[str, Any]], score: float | None) -> RubricVerdict:
    """A rubric verdict from its record's ``criteria`` list and score (the level: the criteria's, where picked)."""
    criteria = tuple(CriterionVerdict(str(c["id"]), c.get("met"), float(c["points"]), tuple(c.get("tags") or ()),
                                      str(c.get("text", "")), c.get("scope", "item"), c.get("level"))
                     for c in records)
    level = next((c.level for c in criteria if c.level is not None), None)
    return RubricVerdict(criteria, score, level)


def repeats_text(repeats: Sequence[Grade | PairVerdict | RubricVerdict | None]) -> str | None:
    """Each ask's verdict as the ``repeats`` column holds it (JSON text: a grade, or an ask's [AB, BA] outcomes; null
    for a failed ask); None for a judgment asked once. Text, so it travels through every frame and the parse cache
    as any text column does."""
    if not repeats:
        return None
    return json.dumps([v.score if isinstance(v, (Grade, RubricVerdict)) else [v.ab, v.ba]
                       if isinstance(v, PairVerdict) else None for v in repeats])


def verdict_fields(verdict: Grade | PairVerdict | RubricVerdict | None) -> dict[str, Any] | None:
    """A verdict as a record's flat fields (``score``, ``expected_score``, the ``PAIR_FIELDS`` or a rubric's
    ``score`` and ``criteria``); None for none."""
    if isinstance(verdict, RubricVerdict):
        return {"score": verdict.score, "criteria": criteria_records(verdict)}
    if isinstance(verdict, Grade):
        return {"score": verdict.score, "expected_score": verdict.expected_score}
    if isinstance(verdict, PairVerdict):
        found = dict(zip(PAIR_FIELDS, (verdict.ab, verdict.ba, verdict.preference, verdict.margin_ab,
                                       verdict.margin_ba, verdict.probability, verdict.logprob_margin), strict=True))
        # The log-probability fields only where a judge gave them: every other record stays as it always was.
        return {k: v for k, v in found.items() if k not in PROBABILITY_FIELDS or v is not None}
    return None


# The flat names of a pair verdict, in PairVerdict's order; the last two only for a judge with ``,logprobs``.
PROBABILITY_FIELDS = ("verdict_probability", "verdict_margin")
PAIR_FIELDS = ("verdict_ab", "verdict_ba", "preference", "margin_ab", "margin_ba", *PROBABILITY_FIELDS)


def _verdict(fields: Mapping[str, Any]) -> Grade | PairVerdict | RubricVerdict | None:
    criteria = fields.get("criteria")
    if criteria is not None:
        records = json.loads(criteria) if isinstance(criteria, str) else criteria
        return rubric_verdict(records, fields.get("score"))
    if fields.get("score") is not None:
        return Grade(fields["score"], fields.get("expected_score"))
    pair = PairVerdict(*(fields.get(f) for f in PAIR_FIELDS))
    return None if pair == PairVerdict() else pair


def _failure(fields: Mapping[str, Any]) -> Failure | None:
    """A message without a cause (records older than causes) is a reply that did not parse."""
    error, cause = fields.get("error"), fields.get("failure")
    if error is None and cause is None:
        return None
    return Failure(cause or "parse", error or "")


def _traits(fields: Mapping[str, Any], prefix: str) -> AnswerTraits:
    return AnswerTraits(*(fields.get(prefix + f) for f in ("length", "tokens", "headers", "lists", "bold")))


def flat_judgment(fields: Mapping[str, Any]) -> Judgment:
    """A judgment from its flat fields (a JSONL record's keys, a frame's column names; ``scale`` whole): how the
    readers of column-wise files and of judgebench's records build one. A field left out is as a frame's
    column without it (``_default``)."""
    scale = fields.get("scale")
    return Judgment(
        id=JudgmentId(fields["benchmark"], fields.get("protocol", ""), fields["judge"], fields["model"],
                      fields.get("opponent"), fields["item_id"], fields["turn"]),
        kind=fields["kind"], category=fields["category"], verdict=_verdict(fields), failure=_failure(fields),
        scale=tuple(scale) if scale is not None else None,
        answer=_traits(fields, ""), opponent_answer=_traits(fields, "opponent_"),
        raw=tuple(fields.get("raw", ())),
        calls=tuple(c if isinstance(c, CallRecord) else call_record(c) for c in fields.get("calls", ()))
        or recorded_call(_number(fields.get("judge_cost_usd")), _number(fields.get("judge_latency_s"))),
        empty=fields.get("empty", False),
        repeats=tuple(_verdict(ask) if ask is not None else None for ask in fields.get("repeats") or ()))


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def rows_columns(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows made by ``judgment_row``, column by column."""
    if not rows:
        return {name: [] for name in CONTENT_COLUMNS}
    return {name: list(values) for name, values in zip(CONTENT_COLUMNS, zip(*rows, strict=True), strict=True)}


class ColumnStore:
    """Rows made by ``judgment_row``, kept column by column as they come (a run's judgments, for its statistics at
    the end). A column holds one value until a row brings another: then it becomes a float64 array (the number
    columns: NaN for None, as ``typed_column`` converts them) or a list (the others). Most columns of a run hold
    one value throughout (its benchmark, judge, model, kind, scale, the failure columns of a run without failures,
    the numbers its kind never sets), so they cost nothing per judgment; a run of 100,000 judgments keeps a few
    MB, not the rows' objects and then their columns too. Rows wait in a short list and are put into the columns
    ``PENDING_ROWS`` at a time (and before anything is read): a column is compared with its one value by C loops
    over a batch, not by a Python loop over every value of every row."""

    PENDING_ROWS = 512

    def __init__(self) -> None:
        self._numbers = tuple(name in NUMBER_COLUMNS for name in CONTENT_COLUMNS)
        # Each column's one value while it has one (``_stores`` None), else its array or list.
        self._first: list[Any] = []
        self._stores: list[Any] = [None] * len(CONTENT_COLUMNS)
        self._n = 0
        self._pending: list[tuple[Any, ...]] = []

    def append(self, row: tuple[Any, ...]) -> None:
        if len(row) != len(CONTENT_COLUMNS):
            raise ValueError(f"a row of {len(row)} values, not {len(CONTENT_COLUMNS)}")
        pending = self._pending
        pending.append(row)
        if len(pending) >= self.PENDING_ROWS:
            self._settle()

    def _settle(self) -> None:
        """The waiting rows, put into the columns."""
        rows, self._pending = self._pending, []
        if not rows:
            return
        if not self._n:
            self._first = list(rows[0])
            self._n = 1
            rows = rows[1:]
            if not rows:
                return
        stores = self._stores
        for i, values in enumerate(zip(*rows, strict=True)):
            store = stores[i]
            if store is None:
                if _all_same(values, self._first[i]):
                    continue
                store = stores[i] = self._spread(i)
            if type(store) is list:
                store.extend(values)
            else:
                store.extend([math.nan if value is None else value for value in values])
        self._n += len(rows)

    def _spread(self, i: int) -> Any:
        """Column ``i``'s one value, once for every row so far: the column now varies."""
        first = self._first[i]
        if self._numbers[i]:
            return array("d", [math.nan if first is None else first]) * self._n
        return [first] * self._n

    def __len__(self) -> int:
        return self._n + len(self._pending)

    def varies(self, name: str) -> bool:
        """Whether column ``name`` holds more than one value."""
        self._settle()
        return self._stores[CONTENT_COLUMNS.index(name)] is not None

    def columns(self) -> dict[str, Any]:
        """The columns, as ``columns_frame`` takes them (a number column that varies as a float64 array, not
        copied)."""
        return {name: self.column(name) for name in CONTENT_COLUMNS}

    def first(self, name: str) -> Any:
        """Column ``name``'s first value (its only one, where it does not vary)."""
        self._settle()
        return self._first[CONTENT_COLUMNS.index(name)]

    def column(self, name: str) -> Any:
        """One column, as ``columns`` gives it, made when asked for: a column of one value is n pointers (a text
        column: 0.8 MB at 100,000 judgments), which a reader that needs only a few columns does not pay for."""
        self._settle()
        i = CONTENT_COLUMNS.index(name)
        store = self._stores[i]
        if store is not None:
            return np.frombuffer(store, dtype=np.float64) if self._numbers[i] else store
        if not self._n:
            return np.empty(0) if self._numbers[i] else []
        if self._numbers[i]:
            # One value seen n times (a read-only view, no memory): the frame copies it into its own block.
            first = self._first[i]
            return np.broadcast_to(np.float64(math.nan if first is None else first), (self._n,))
        if name in TEXT_COLUMNS:
            found = np.empty(self._n, dtype=object)  # as typed_column would make it of a list
            found.fill(self._first[i])  # (fill: a value that is a list stays one value)
            return found
        return [self._first[i]] * self._n


def _all_same(values: tuple[Any, ...], first: Any) -> bool:
    """Whether every one of ``values`` is ``first`` as ``_same`` says, by C loops: each equal to it (or it: a NaN only
    when it is that object), each of its type, and where it is a float zero, each of its sign."""
    if values.count(first) != len(values):
        return False
    kind = type(first)
    if {*map(type, values)} != {kind}:
        return False
    return kind is not float or first != 0.0 or all(_same(value, first) for value in values)


def _same(value: Any, first: Any) -> bool:
    """Whether ``value`` is ``first`` as a column holds it: the same type and value, and for floats the same sign
    (0.0 and -0.0 are equal, not the same number); NaN is never the same as another NaN object (the column then
    varies: kept exactly, only not compactly)."""
    if type(value) is not type(first) or value != first:
        return False
    return type(value) is not float or math.copysign(1.0, value) == math.copysign(1.0, first)


def judgment_columns(judgments: Iterable[Judgment]) -> dict[str, list[Any]]:
    """Judgments column by column (``CONTENT_COLUMNS``; raw text and calls left out)."""
    return rows_columns([judgment_row(j) for j in judgments])


def n_rows(columns: Columns) -> int:
    """The number of judgments in ``columns``; columns of different lengths are a bug in their reader."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def complete(columns: Columns) -> dict[str, Sequence[Any]]:
    """Every content column: one the reader left out holds the Judgment field's default."""
    n = n_rows(columns)
    return {name: columns[name] if name in columns else [_default(name)] * n for name in CONTENT_COLUMNS}


def typed_column(name: str, values: Sequence[Any]) -> np.ndarray:
    """A column's values as the array its frame column holds: float64 numbers (None: NaN), int64 turns, bool
    ``empty``, and text as objects (pandas infers its str dtype from them, or keeps objects when none is text)."""
    if isinstance(values, np.ndarray) and (values.dtype != object or name in TEXT_COLUMNS):
        return values  # the parse cache's columns are already typed
    if name in NUMBER_COLUMNS:
        return pd.Series(values, dtype=object).astype(float).to_numpy()
    if name == "turn":
        return pd.Series(values, dtype=object).astype(int).to_numpy()
    if name == "empty":
        return pd.Series(values, dtype=object).astype(bool).to_numpy()
    return np.fromiter(values, dtype=object, count=len(values))  # a value that is a list stays one value


def sources_frame(sources: Sequence[tuple[Columns, str | None]]) -> pd.DataFrame:
    """One judgments frame (``COLUMNS``) of several sources' columns, in order; each source is (its columns,
    its run_id)."""
    parts = [(complete(columns), n_rows(columns), run_id) for columns, run_id in sources]
    data: dict[str, np.ndarray] = {}
    for name in CONTENT_COLUMNS:
        arrays = [typed_column(name, columns[name]) for columns, _, _ in parts]
        # One source (a run's own statistics): its arrays as they are, the frame copies them once anyway.
        data[name] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays) if arrays else typed_column(name, [])
    data["run_id"] = (np.concatenate([np.full(n, run_id, dtype=object) for _, n, run_id in parts]) if parts
                      else np.empty(0, dtype=object))
    return pd.DataFrame(data, columns=COLUMNS)


def columns_frame(columns: Columns, run_id: str | None = None) -> pd.DataFrame:
    """A judgments frame of one source's columns (see ``complete``), ``run_id`` its run's name."""
    return sources_frame([(columns, run_id)])


def judgments_frame(judgments: Iterable[Judgment], run_id: str | None = None) -> pd.DataFrame:
    """Judgments as a DataFrame, one row per record (raw text and calls left out), columns ``COLUMNS``."""
    return columns_frame(judgment_columns(judgments), run_id)
