"""The ``rubric`` task kind: the judge checks an answer against the criteria the task file writes, task-wide and
per item (tasks.rubric), and the item's score is the points met over the positive points available, clipped to
[0, 1] (stats.rubric.rubric_score, HealthBench's rule).

One judgment per (item, model), of the last turn with the whole conversation shown. ``judge.mode``:
``all_at_once`` asks once for every criterion's verdict (one JSON object), ``per_criterion`` asks once per
criterion; the replies are assembled into the one judgment either way. Styles: ``rubric`` (points, negative for
what an answer must not do), ``checklist`` (yes/no questions worth a point each, WildBench) and ``score`` (one
criterion with a description per level; the judge picks a level, the score is (level - 1) / (levels - 1),
Prometheus 2). A criterion without a readable verdict fails the judgment (no score, the reason recorded); the
criteria that did parse stay in its verdict for the per-criterion statistics. Parsing: judging.rubric_verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from ..errors import BackendError, TaskError
from ..stats.rubric import level_score, rubric_score
from ..types import (
    AnswerTraits,
    Candidate,
    ChatReply,
    ChatRequest,
    Criterion,
    CriterionVerdict,
    Failure,
    Item,
    Judge,
    JudgeRequest,
    Judgment,
    JudgmentId,
    RubricSpec,
    RubricVerdict,
    Task,
    Verdict,
    failed,
)
from .prompt_parts import frame_code, judge_params, template_for
from .prompts import neutralize, render_messages
from .replies import cut_off
from .rubric_verdicts import criteria_schema, met_schema, parse_criteria_json, parse_met_json, parse_met_text
from .strategies import (
    JudgingKind,
    Outcome,
    _after_thinking,
    _failure,
    _request_error,
    _unanswered,
    answer_traits,
    call_record,
    is_empty,
)
from .verdicts import parse_score_json, parse_score_text, score_schema

# Every rubric score lies in [0, 1]: the judgments' scale, for the tables that show one.
SCALE = (0, 1)


def spec_of(task: Task) -> RubricSpec:
    if task.rubric is None:
        raise TaskError(f"{task.path}: a rubric task without its rubric settings (load it with load_task)")
    return task.rubric


def asked_criteria(task: Task, item: Item) -> list[tuple[Criterion, ...]]:
    """The criteria of each request for an item, in order: all of them in one request, or one per request."""
    spec = spec_of(task)
    if spec.mode == "per_criterion" and spec.style != "score":
        return [(c,) for c in item.criteria]
    return [item.criteria]


class RubricGrading(JudgingKind):
    """Criteria the user writes, judged one by one (see the module doc)."""

    name = "rubric"
    has_criteria = True
    has_grades = True  # an item's score in [0, 1] (the judgments' scale): saturation at 1 can be measured

    def check(self, task: Task, where: str) -> None:
        super().check(task, where)
        if task.judge.reference_prompt:
            raise TaskError(f"{where}: a rubric task has no reference prompt: its criteria say what to check")

    def requests_per_item(self, item: Item) -> int:
        # At most one per criterion (per_criterion); all_at_once and score rubrics ask once.
        return max(1, len(item.criteria))

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        if any(map(is_empty, candidate.turns)):
            return []  # never shown to the judge: see ``empty``
        spec = spec_of(task)
        turns = [{"question": item.turns[i], "answer": neutralize(candidate.turns[i])}
                 for i in range(len(item.turns))]
        template = template_for(task, item)
        found = []
        for criteria in asked_criteria(task, item):
            schema = _schema(spec, criteria) if judge.constrained else None
            variables = {"turns": turns, "criteria": [{"id": c.id, "text": c.text, "levels": list(c.levels)}
                                                      for c in criteria],
                         "mode": spec.mode, "style": spec.style, "constrained": judge.constrained,
                         "category": item.category, "item_id": item.id, "frame": frame_code(*candidate.turns)}
            chat = ChatRequest(judge.endpoint, render_messages(template, task.prompt_dirs, variables),
                               judge_params(task, judge), json.dumps(schema) if schema else None)
            found.append(JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name,
                                      len(item.turns), "single", chat, protocol=task.protocol,
                                      answers=candidate.turns, criteria=tuple(c.id for c in criteria)))
        return found

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        spec = spec_of(task)
        criteria = _criteria_of(task, request)
        text, truncated, schema = _after_thinking(reply.text), cut_off(reply), request.chat.response_schema
        if spec.style == "score":
            high = len(criteria[0].levels)
            if schema:
                return parse_score_json(text, 1, high, truncated=truncated, answers=request.answers)
            return parse_score_text(text, 1, high, truncated=truncated)
        if len(criteria) == 1 and spec.mode == "per_criterion":
            if schema:
                return parse_met_json(text, criteria[0].id, truncated=truncated, answers=request.answers)
            return parse_met_text(text, criteria[0].id, truncated=truncated)
        return parse_criteria_json(text, [c.id for c in criteria], whole=bool(schema), truncated=truncated,
                                   answers=request.answers)

    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None) -> list[Judgment]:
        """Every request's verdicts in one judgment: scored only when every criterion has one."""
        spec = spec_of(task)
        first = requests[0]
        item = _item(task, first.item_id)
        met: dict[str, bool | None] = {}
        level: int | None = None
        errors, causes, texts, records = [], [], [], []
        for request, outcome, criteria in zip(requests, outcomes, asked_criteria(task, item), strict=True):
            records.append(call_record(request.chat, outcome, criteria[0].id if len(criteria) == 1 else "all"))
            if isinstance(outcome, BackendError):
                verdict, texts_one = Verdict(error=_request_error(outcome)), ""
            else:
                verdict, texts_one = self.parse(task, request, outcome), outcome.text
            texts.append(texts_one)
            if spec.style == "score" and verdict.ok and verdict.score is not None:
                level = int(verdict.score)
            met.update(dict(verdict.criteria))
            if verdict.error:
                label = criteria[0].id if len(criteria) == 1 else "all"
                errors.append(verdict.error if len(requests) == 1 else f"{label}: {verdict.error}")
                causes.append(_failure(verdict, outcome))
        found = tuple(CriterionVerdict(c.id, met.get(c.id), c.points, c.tags, c.text, c.scope,
                                       level if spec.style == "score" else None) for c in item.criteria)
        score = None
        if not errors:
            score = (level_score(level, len(item.criteria[0].levels)) if spec.style == "score" and level
                     else rubric_score([(c.points, bool(c.met)) for c in found]))
        failure = next((c for c in ("pending", "request") if c in causes), causes[0] if causes else None)
        verdict_out = RubricVerdict(found, score, level) if score is not None or any(
            c.met is not None or c.level is not None for c in found) else None
        return [Judgment(first.judgment_id(), self.name, first.category, verdict_out,
                         failed(failure, "; ".join(errors)), SCALE,
                         answer=answer_traits(candidate.turns), raw=tuple(texts), calls=tuple(records))]

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        return [Judgment(_judgment_id(task, item, candidate, judge), self.name, item.category,
                         failure=Failure(_unanswered(candidate), f"no answer to judge ({candidate.error})"),
                         scale=SCALE)]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        """An empty answer meets no criterion (``on_empty: lowest``: the score of meeting none, 0), or is recorded
        failed and unscored (``skip``)."""
        if not any(map(is_empty, candidate.turns)):
            return []
        skip = task.judge.on_empty == "skip"
        verdict = None if skip else RubricVerdict(
            tuple(CriterionVerdict(c.id, False, c.points, c.tags, c.text, c.scope) for c in item.criteria),
            0.0, 1 if spec_of(task).style == "score" else None)
        return [Judgment(_judgment_id(task, item, candidate, judge), self.name, item.category, verdict,
                         Failure("empty", "empty answer (on_empty: skip)") if skip else None, SCALE,
                         answer=AnswerTraits(0), empty=True)]

    def value(self, frame: pd.DataFrame) -> pd.Series:
        return frame["score"]

    def label(self, frame: pd.DataFrame) -> pd.Series:
        return frame["score"]


def _schema(spec: RubricSpec, criteria: Sequence[Criterion]) -> dict[str, object]:
    if spec.style == "score":
        return score_schema(1, len(criteria[0].levels))
    if len(criteria) == 1 and spec.mode == "per_criterion":
        return met_schema()
    return criteria_schema([c.id for c in criteria])


def _item(task: Task, item_id: str) -> Item:
    try:
        return task.item(item_id)
    except KeyError:
        raise TaskError(f"{task.path}: no item {item_id!r} in the task") from None


def _criteria_of(task: Task, request: JudgeRequest) -> tuple[Criterion, ...]:
    """The criteria a request asked about, in the order asked."""
    by_id = {c.id: c for c in _item(task, request.item_id).criteria}
    return tuple(by_id[i] for i in request.criteria)


def _judgment_id(task: Task, item: Item, candidate: Candidate, judge: Judge) -> JudgmentId:
    return JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model, None, item.id, len(item.turns))
