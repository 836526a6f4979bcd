"""The ``rubric`` task kind: the judge checks an answer against the criteria the task file writes, task-wide and
per item (tasks.rubric), and the item's score is the points met over the positive points available, clipped to
[0, 1] (stats.rubric.rubric_score, HealthBench's rule).

One judgment per (item, model), of the last turn with the whole conversation shown. ``judge.mode``:
``all_at_once`` asks once for every criterion's verdict (one JSON object), ``per_criterion`` asks once per
criterion; the replies are assembled into the one judgment either way. Styles: ``points`` (points, negative for
what an answer must not do), ``checklist`` (yes/no questions worth a point each, WildBench) and ``score`` (one
criterion with a description per level; the judge picks a level, the score is (level - 1) / (levels - 1),
Prometheus 2). A criterion without a readable verdict fails the judgment (no score, the reason recorded); its
verdict still lists every criterion asked (those that did parse with their verdict, the others without one), for
the per-criterion statistics. Parsing: judging.rubric_verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BackendError, TaskError
from ..lazy import on_first_use
from ..types import (
    AnswerTraits,
    Candidate,
    ChatReply,
    ChatRequest,
    Criterion,
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
from .prompts import neutralize, neutralize_keys, render_messages
from .replies import cut_off
from .rubric_styles import PointsStyle, style_of
from .strategies import (
    JudgingKind,
    Outcome,
    Parsed,
    _after_thinking,
    _failure,
    _request_error,
    _unanswered,
    answer_traits,
    call_record,
    is_empty,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

# Every rubric score lies in [0, 1]: the judgments' scale, for the tables that show one.
SCALE = (0, 1)


def spec_of(task: Task) -> RubricSpec:
    if task.rubric is None:
        raise TaskError(f"{task.path}: a rubric task without its rubric settings (load it with load_task)")
    return task.rubric


def _style(task: Task) -> tuple[PointsStyle, bool]:
    """The task's style and whether it asks one criterion per request."""
    spec = spec_of(task)
    return style_of(spec.style), spec.mode == "per_criterion"


def asked_criteria(task: Task, item: Item) -> list[tuple[Criterion, ...]]:
    """The criteria of each request for an item, in order: all of them in one request, or one per request."""
    style, per_criterion = _style(task)
    return style.groups(item.criteria, per_criterion)


class RubricGrading(JudgingKind):
    """Criteria the user writes, judged one by one (see the module doc)."""

    name = "rubric"
    has_criteria = True
    has_grades = True  # an item's score in [0, 1] (the judgments' scale): saturation at 1 can be measured

    def check(self, task: Task, where: str) -> None:
        super().check(task, where)
        if task.judge.reference_prompt:
            raise TaskError(f"{where}: a rubric task has no reference prompt: its criteria say what to check")

    def requests_per_item(self, task: Task, item: Item) -> int:
        # One per criterion (per_criterion), else one: the groups ``requests`` asks, so progress counts them.
        return len(asked_criteria(task, item))

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        if any(map(is_empty, candidate.turns)):
            return []  # never shown to the judge: see ``empty``
        spec = spec_of(task)
        style, per_criterion = _style(task)
        # The answers as the judge sees them: no verdict object of this item's criteria (nor a "met" or "score"
        # one) left in them, so a verdict equal to one an answer planted is the judge's own, not a copy
        # (prompts.neutralize_keys).
        keys = {"met", "score", *(c.id for c in item.criteria)}
        shown = tuple(neutralize_keys(neutralize(turn), keys) for turn in candidate.turns)
        turns = [{"question": item.turns[i], "answer": shown[i]} for i in range(len(item.turns))]
        template = template_for(task, item)
        found = []
        for criteria in style.groups(item.criteria, per_criterion):
            schema = style.schema(criteria, per_criterion) if judge.constrained else None
            variables = {"turns": turns, "criteria": [{"id": c.id, "text": c.text, "levels": list(c.levels)}
                                                      for c in criteria],
                         "mode": spec.mode, "style": spec.style, "constrained": judge.constrained,
                         "category": item.category, "item_id": item.id, "frame": frame_code(*candidate.turns),
                         "context": [{"role": role, "content": text} for role, text in item.context]}
            chat = ChatRequest(judge.endpoint, render_messages(template, task.prompt_dirs, variables),
                               judge_params(task, judge), json.dumps(schema) if schema else None)
            found.append(JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name,
                                      len(item.turns), "single", chat, protocol=task.protocol,
                                      answers=shown, criteria=tuple(c.id for c in criteria)))
        return found

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        style, per_criterion = _style(task)
        return style.read(_after_thinking(reply.text), _criteria_of(task, request), per_criterion,
                          json=bool(request.chat.response_schema), truncated=cut_off(reply), answers=request.answers)

    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None,
                 parsed: Parsed | None = None) -> list[Judgment]:
        """Every request's verdicts in one judgment: scored only when every criterion has one."""
        style, _ = _style(task)
        first = requests[0]
        item = _item(task, first.item_id)
        verdicts: list[Verdict] = []
        errors, causes, texts, records = [], [], [], []
        for request, outcome in zip(requests, outcomes, strict=True):
            label = request.criteria[0] if len(request.criteria) == 1 else "all"
            records.append(call_record(request.chat, outcome, label))
            if isinstance(outcome, BackendError):
                verdict, texts_one = Verdict(error=_request_error(outcome)), ""
            else:
                verdict, texts_one = self.verdict(task, request, outcome, parsed), outcome.text
            texts.append(texts_one)
            verdicts.append(verdict)
            if verdict.error:
                errors.append(verdict.error if len(requests) == 1 else f"{label}: {verdict.error}")
                causes.append(_failure(verdict, outcome))
        found = style.verdicts(item.criteria, verdicts)
        score = None if errors else style.score(item.criteria, found)
        failure = next((c for c in ("pending", "request") if c in causes), causes[0] if causes else None)
        level = next((c.level for c in found if c.level is not None), None)
        # A failed judgment keeps every asked criterion, unread ones without a verdict: each counts as missing in
        # the per-criterion tables. Only one waiting in a provider's batch has none yet.
        given = failure != "pending"
        return [Judgment(first.judgment_id(), self.name, first.category,
                         RubricVerdict(found, score, level) if given else None,
                         failed(failure, "; ".join(errors)), SCALE,
                         answer=answer_traits(candidate.turns), raw=tuple(texts), calls=tuple(records))]

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        return [Judgment(_judgment_id(task, item, candidate, judge), self.name, item.category,
                         failure=Failure(_unanswered(candidate), f"no answer to judge ({candidate.error})"),
                         scale=SCALE)]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        """An empty answer meets no criterion (``on_empty: lowest``: the score of meeting none, 0; a score rubric's
        lowest level), or is recorded failed and unscored (``skip``)."""
        if not any(map(is_empty, candidate.turns)):
            return []
        skip = task.judge.on_empty == "skip"
        style, _ = _style(task)
        nothing = style.nothing_met(item.criteria)
        verdict = None if skip else RubricVerdict(nothing, style.score(item.criteria, nothing),
                                                  next((c.level for c in nothing if c.level is not None), None))
        return [Judgment(_judgment_id(task, item, candidate, judge), self.name, item.category, verdict,
                         Failure("empty", "empty answer (on_empty: skip)") if skip else None, SCALE,
                         answer=AnswerTraits(0), empty=True)]

    def value(self, frame: pd.DataFrame) -> pd.Series:
        return frame["score"]

    def label(self, frame: pd.DataFrame) -> pd.Series:
        return frame["score"]


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
