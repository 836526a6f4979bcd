"""The strategies of the built-in task kinds; the published protocols' build on them (judging.protocols), and
judging.kinds registers them all. One strategy object per task kind: it builds the judge's requests, parses its
verdicts, assembles judgments and says what a judgment is worth to each model (``value``, ``label``,
``both_sides``); analysis.aggregate turns judgments into scores, one aggregator per kind. Nothing outside judging
branches on a kind's name; a new kind (model-vs-model battles, say) is one new class registered in ``KINDS`` and an
aggregator.

JSON schemas are serialized with their keys in order, not sorted: llama.cpp builds its grammar in property
order, and the verdict must come first so that a reply cut short by max_tokens still carries it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from statistics import fmean
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..errors import BackendError, BatchPending, ConfigError, TaskError
from ..lazy import on_first_use
from ..stats.style import answer_counts
from ..types import (
    AnswerTraits,
    CallRecord,
    Candidate,
    ChatReply,
    ChatRequest,
    Failure,
    FailureKind,
    Grade,
    Item,
    Judge,
    JudgeRequest,
    Judgment,
    JudgmentId,
    PairVerdict,
    Position,
    Task,
    Verdict,
    failed,
    pair_or_none,
)
from .answers import split_reasoning
from .prompt_parts import frame_code, judge_params, template_for
from .prompts import INVISIBLE, neutralize, render_messages
from .replies import cut_off, stopped, unclosed
from .verdicts import (
    OPPONENT_OUTCOME,
    candidate_outcome,
    candidate_probability,
    combine_orders,
    expected_score,
    pair_schema_text,
    parse_pair_json,
    parse_pair_text,
    parse_score_json,
    parse_score_text,
    score_schema_text,
    verdict_distribution,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

# One judge request's end: the reply, or the error it finally failed with.
Outcome = ChatReply | BackendError


def with_style(judgment: Judgment, turns: Sequence[str], opponent_turns: Sequence[str]) -> Judgment:
    """The judgment with both answers' length and markdown counts (stats.style): the covariates of
    style-controlled Bradley-Terry."""
    return replace(judgment, answer=answer_traits(turns), opponent_answer=answer_traits(opponent_turns))


def answer_traits(turns: Sequence[str], tokens: int | None = None) -> AnswerTraits:
    """An answer's length and markdown counts (all turns)."""
    counts = answer_counts(turns)
    return AnswerTraits(sum(len(t) for t in turns), tokens, counts.headers, counts.lists, counts.bold)


def call_record(request: ChatRequest, outcome: Outcome, label: str) -> CallRecord:
    if isinstance(outcome, BackendError):
        return CallRecord(request.cache_key(), label, error=str(outcome))
    return CallRecord(request.cache_key(), label, outcome.prompt_tokens, outcome.completion_tokens,
                      round(outcome.latency_s, 4), outcome.from_cache, outcome.finish_reason)


class Parsed:
    """The verdicts read so far, each by the request and the reply object it was read from: the pipeline reads a
    reply once, when the executor asks whether to cache it, and the kind's ``assemble`` takes that reading instead
    of parsing the same reply again. The request and reply are kept, so an id is never another object's."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[tuple[int, int], tuple[JudgeRequest, ChatReply, Verdict]] = {}

    def verdict(self, kind: JudgingKind, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        found = self._found.get((id(request), id(reply)))
        if found is not None and found[0] is request and found[1] is reply:
            return found[2]
        verdict = kind.parse(task, request, reply)
        self._found[(id(request), id(reply))] = (request, reply, verdict)
        return verdict


class JudgingKind(ABC):
    """What a task kind does at every stage. Stateless: one shared instance per kind."""

    name: ClassVar[str]
    # The task compares the candidate with a reference model's answers.
    needs_reference: ClassVar[bool] = False
    # Each question is asked in two orders, so position bias can be measured.
    has_orders: ClassVar[bool] = False
    # Judgments are grades on a scale, so saturation at its top can be measured.
    has_grades: ClassVar[bool] = False
    # The task compares candidate models with each other (battles): a run takes several models, and the methods
    # below get the other model's answer as ``opponent`` (kinds that judge one model ignore it).
    compares_models: ClassVar[bool] = False
    # ``--answers`` names a FastChat-shaped file's model by the ``model_id`` inside it (arena-hard-auto's judgment
    # files do), not by the file's name (FastChat's do).
    answers_named_by_model_id: ClassVar[bool] = False
    # ``--answers`` are judged as the file holds them, thinking blocks included (judging.answers): a published
    # protocol whose anchor showed its judge the whole answer.
    verbatim_answers: ClassVar[bool] = False
    # The kind's prompts ask for a verdict in text only (a published protocol's): a JSON judge is refused.
    text_verdicts_only: ClassVar[bool] = False
    # A judgment covers the whole conversation up to its ``turn`` (battles), not that turn alone.
    whole_conversation: ClassVar[bool] = False
    # The task's items carry criteria the judge checks one by one (``rubric:``, judging.rubric).
    has_criteria: ClassVar[bool] = False

    def check(self, task: Task, where: str) -> None:
        """Check what the task file gave this kind (``judge.files``, ``judge.options``), once when the task is
        loaded: a problem raises TaskError naming ``where`` (the task's judge section, file:line)."""
        if task.judge.options:
            raise TaskError(f"{where}: a {self.name} task takes no judge.options (given: "
                            f"{', '.join(k for k, _ in task.judge.options)})")

    # -- requests and verdicts ------------------------------------------------------------------------
    @abstractmethod
    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        """The judge requests for one candidate answer (against ``opponent``'s, for kinds that compare models)."""

    @abstractmethod
    def requests_per_item(self, task: Task, item: Item) -> int:
        """How many requests ``requests`` makes for an item's answer in ``task`` (at most; its mode may decide, as a
        rubric's): what progress counts on, and what the dry run's total is."""

    def parse(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        """A judge reply -> a verdict or an explicit error. First the checks every kind shares (judging.replies): a
        reply the server stopped for its content, or one that ends inside a reasoning block it opened, holds no
        verdict; then the kind's own reading (``read_verdict``)."""
        refused = stopped(reply)
        if refused is not None:
            return Verdict(error=refused)
        never_closed = unclosed(reply)
        if never_closed is not None:
            return Verdict(error=never_closed, truncated=cut_off(reply))
        return self.read_verdict(task, request, reply)

    def verdict(self, task: Task, request: JudgeRequest, reply: ChatReply, parsed: Parsed | None) -> Verdict:
        """``parse``'s verdict, read once: taken from ``parsed`` where the reply was read already."""
        return self.parse(task, request, reply) if parsed is None else parsed.verdict(self, task, request, reply)

    @abstractmethod
    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        """A judge reply that passed ``parse``'s checks -> a verdict or an explicit error. A request with a
        response schema was asked for a JSON verdict; one without, for a free-text verdict at the end of the
        reply. A reply the server cut off (finish_reason "length") counts only when its verdict is structurally
        complete."""

    @abstractmethod
    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None,
                 parsed: Parsed | None = None) -> list[Judgment]:
        """The judgments of one candidate answer from its requests' outcomes (in the same order). ``parsed``: the
        verdicts already read from these outcomes (``Parsed``), taken instead of parsing them again."""

    @abstractmethod
    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        """The judgments of a candidate (or opponent) whose generation failed: recorded as failed, never scored."""

    @abstractmethod
    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        """The judgments of the candidate's empty answers, which ``requests`` leaves out: the lowest grade or a
        loss (``on_empty: lowest``), or failed and unscored (``on_empty: skip``)."""

    # -- analysis -------------------------------------------------------------------------------------
    @abstractmethod
    def value(self, frame: pd.DataFrame) -> pd.Series:
        """A number per judgment, higher = better for the model: the grade, or the win share (0, 0.5, 1)."""

    @abstractmethod
    def label(self, frame: pd.DataFrame) -> pd.Series:
        """A category per judgment, for agreement statistics: the grade, or "win" / "tie" / "loss"."""

    def both_sides(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The judgments as every model they concern sees them: what per-model diagnostics (panel aggregates,
        self-preference) average over. A judgment concerns its ``model`` alone, except in battles."""
        return frame


class SingleGrading(JudgingKind):
    """MT-Bench style: every turn graded on the task's scale, one request per turn."""

    name = "single"
    has_grades = True

    def check(self, task: Task, where: str) -> None:
        super().check(task, where)
        if task.judge.fastchat_prompts:
            raise TaskError(f"{where}: FastChat's judge prompts are graded by 'kind: fastchat-single' (FastChat's "
                            "prompts and rule for the grade, answers verbatim), not by 'kind: single'")

    def requests_per_item(self, task: Task, item: Item) -> int:
        return len(item.turns)

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        """Turn k shows the conversation up to k and asks for a grade of answer k."""
        low, high = task.judge.scale
        schema = score_schema_text(low, high) if judge.constrained else None
        template = template_for(task, item)
        found = []
        for turn in range(1, len(item.turns) + 1):
            if is_empty(candidate.turns[turn - 1]):
                continue  # never shown to the judge: see ``empty``
            turns = [{"question": item.turns[i], "answer": neutralize(candidate.turns[i]),
                      "reference": item.reference[i] if i < len(item.reference) else None} for i in range(turn)]
            variables = {"turns": turns, "turn": turn, "category": item.category, "scale_low": low,
                         "scale_high": high, "constrained": judge.constrained, "item_id": item.id,
                         "frame": frame_code(*candidate.turns[:turn])}
            messages = render_messages(template, task.prompt_dirs, variables)
            chat = ChatRequest(judge.endpoint, messages, judge_params(task, judge, grades=True), schema)
            found.append(JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name, turn,
                                      "single", chat, protocol=task.protocol, answers=candidate.turns[:turn]))
        return found

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        low, high = task.judge.scale
        text = _after_thinking(reply.text)
        if request.chat.response_schema:
            return parse_score_json(text, low, high, truncated=cut_off(reply), answers=request.answers)
        return parse_score_text(text, low, high, truncated=cut_off(reply))

    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None,
                 parsed: Parsed | None = None) -> list[Judgment]:
        length = sum(len(t) for t in candidate.turns)
        found = []
        for request, outcome in zip(requests, outcomes, strict=True):
            record = call_record(request.chat, outcome, request.position)
            if isinstance(outcome, BackendError):
                verdict, reply = Verdict(error=_request_error(outcome)), None
            else:
                verdict, reply = self.verdict(task, request, outcome, parsed), outcome
            grade = None if verdict.score is None else Grade(
                verdict.score, expected_score(reply.logprobs, *task.judge.scale)
                if reply and reply.logprobs and verdict.ok else None)
            found.append(Judgment(
                JudgmentId(request.benchmark, request.protocol, request.judge, request.model, None, request.item_id,
                           request.turn), self.name, request.category, grade,
                failed(_failure(verdict, outcome), verdict.error), task.judge.scale, AnswerTraits(length),
                raw=(reply.text,) if reply else (), calls=(record,),
            ))
        return found

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        return [Judgment(JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model, None, item.id, turn),
                         self.name, item.category,
                         failure=Failure(_unanswered(candidate), f"no answer to judge ({candidate.error})"),
                         scale=task.judge.scale)
                for turn in range(1, len(item.turns) + 1)]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        low = task.judge.scale[0]
        skip = task.judge.on_empty == "skip"
        return [Judgment(JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model, None, item.id, turn),
                         self.name, item.category, None if skip else Grade(float(low)),
                         Failure("empty", "empty answer (on_empty: skip)") if skip else None, task.judge.scale,
                         AnswerTraits(0), empty=True)
                for turn in range(1, len(item.turns) + 1) if is_empty(candidate.turns[turn - 1])]

    def value(self, frame: pd.DataFrame) -> pd.Series:
        return frame["score"]

    def label(self, frame: pd.DataFrame) -> pd.Series:
        return frame["score"]

def is_empty(answer: str) -> bool:
    """An answer with nothing to judge (empty, or only whitespace and invisible characters)."""
    return not INVISIBLE.sub("", answer).strip()


def _after_thinking(text: str) -> str:
    """A judge reply without the closed reasoning blocks before its verdict: thinking is not the verdict. A reply
    that starts with its JSON object is left whole (its explanation may quote a closing tag)."""
    return text if text.lstrip().startswith("{") else split_reasoning(text)[0]


def _failure(verdict: Verdict, outcome: Outcome | None) -> FailureKind | None:
    if verdict.ok:
        return None
    if isinstance(outcome, BatchPending):
        return "pending"
    if isinstance(outcome, BackendError):
        return "request"
    if isinstance(outcome, ChatReply) and stopped(outcome) is not None:
        return "filtered"
    return "truncated" if verdict.truncated else "parse"


def _request_error(outcome: BackendError) -> str:
    return f"pending: {outcome}" if isinstance(outcome, BatchPending) else f"request failed: {outcome}"


def _unanswered(candidate: Candidate) -> FailureKind:
    return "pending" if candidate.pending else "no_answer"


class PairwiseComparison(JudgingKind):
    """AlpacaEval style: the candidate against a reference model's answers, asked in both orders; the two
    verdicts combine into one preference in [1, 2] (orders that disagree count as a tie)."""

    name = "pairwise"
    needs_reference = True
    has_orders = True

    # -- the other side of the comparison: the task's reference model (BattleComparison: another candidate) -----
    def opponent_name(self, task: Task, opponent: Candidate | None) -> str | None:
        return task.reference_model

    def opponent_turns(self, task: Task, item: Item, opponent: Candidate | None) -> tuple[str, ...]:
        return task.reference_for(item.id)

    def requests_per_item(self, task: Task, item: Item) -> int:
        return 2

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        """Two requests, candidate first ("AB") and opponent first ("BA"), over the whole conversation."""
        other = self.opponent_turns(task, item, opponent)
        if _either_empty(candidate.turns, other):
            return []  # never shown to the judge: see ``empty``
        schema = pair_schema_text(tuple(task.judge.labels)) if judge.constrained else None
        template = template_for(task, item)
        found = []
        for position in ("AB", "BA"):
            answers_a, answers_b = (candidate.turns, other) if position == "AB" else (other, candidate.turns)
            turns = [{"question": item.turns[i], "answer_a": neutralize(answers_a[i]),
                      "answer_b": neutralize(answers_b[i]),
                      "reference": item.reference[i] if i < len(item.reference) else None}
                     for i in range(len(item.turns))]
            variables = {"turns": turns, "turn": len(item.turns), "category": item.category,
                         **label_variables(task.judge.labels), "constrained": judge.constrained,
                         # One code for both orders (the candidate's answers, then the other's): the two
                         # prompts share their beginning, the code and the question, in a prefix cache.
                         "item_id": item.id, "frame": frame_code(*candidate.turns, *other)}
            chat = ChatRequest(judge.endpoint, render_messages(template, task.prompt_dirs, variables),
                               judge_params(task, judge, verdicts=len(task.judge.labels) == 3), schema)
            found.append(JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name,
                                      len(item.turns), position, chat, opponent=self.opponent_name(task, opponent),
                                      protocol=task.protocol, answers=(*candidate.turns, *other)))
        return found

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        text = _after_thinking(reply.text)
        if request.chat.response_schema:
            return parse_pair_json(text, task.judge.labels, truncated=cut_off(reply), answers=request.answers)
        return parse_pair_text(text, task.judge.labels, truncated=cut_off(reply))

    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None,
                 parsed: Parsed | None = None) -> list[Judgment]:
        """Both orders in one record; the preference only when both parsed."""
        by_position = {req.position: (req, outcome) for req, outcome in zip(requests, outcomes, strict=True)}
        verdicts: dict[str, Verdict] = {}
        texts: dict[str, str] = {}
        records = []
        for position in ("AB", "BA"):
            request, outcome = by_position[position]
            records.append(call_record(request.chat, outcome, position))
            if isinstance(outcome, BackendError):
                verdicts[position], texts[position] = Verdict(error=_request_error(outcome)), ""
            else:
                verdicts[position], texts[position] = self.verdict(task, request, outcome, parsed), outcome.text
        ab = candidate_outcome(verdicts["AB"].winner, candidate_first=True) if verdicts["AB"].winner else None
        ba = candidate_outcome(verdicts["BA"].winner, candidate_first=False) if verdicts["BA"].winner else None
        errors = [f"{pos}: {v.error}" for pos, v in verdicts.items() if v.error]
        causes = [_failure(verdicts[p], by_position[p][1]) for p in ("AB", "BA") if verdicts[p].error]
        # Waiting for either order makes the judgment pending (a later run completes it); a failed request outranks
        # a reply that did not parse.
        failure = next((c for c in ("pending", "request") if c in causes), causes[0] if causes else None)
        first = requests[0]
        item = Item(first.item_id, first.category, ())
        pair = PairVerdict(ab, ba, combine_orders(ab, ba) if ab and ba else None,
                           verdicts["AB"].margin if ab else None, verdicts["BA"].margin if ba else None,
                           *_verdict_probability(task, by_position, {"AB": ab, "BA": ba}))
        return [with_style(Judgment(
            first.judgment_id(), self.name, first.category, pair_or_none(pair),
            failed(failure, "; ".join(errors)), raw=(texts["AB"], texts["BA"]), calls=tuple(records),
        ), candidate.turns, self.opponent_turns(task, item, opponent))]

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        failed = candidate if not candidate.ok or opponent is None or opponent.ok else opponent
        which = "" if failed is candidate else f"{failed.model}: "
        return [Judgment(JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model,
                                    self.opponent_name(task, opponent), item.id, len(item.turns)),
                         self.name, item.category,
                         failure=Failure(_unanswered(failed), f"no answer to judge ({which}{failed.error})"))]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        """An empty answer loses to a non-empty one; two empty answers tie (``on_empty: lowest``)."""
        other = self.opponent_turns(task, item, opponent)
        if not _either_empty(candidate.turns, other):
            return []
        skip = task.judge.on_empty == "skip"
        mine, theirs = any(map(is_empty, candidate.turns)), any(map(is_empty, other))
        outcome = "tie" if mine and theirs else "loss" if mine else "win"
        return [with_style(Judgment(
            JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model,
                       self.opponent_name(task, opponent), item.id, len(item.turns)),
            self.name, item.category, None if skip else PairVerdict(outcome, outcome, combine_orders(outcome, outcome)),
            Failure("empty", "empty answer (on_empty: skip)") if skip else None, empty=True,
        ), candidate.turns, other)]

    def value(self, frame: pd.DataFrame) -> pd.Series:
        return frame["preference"] - 1.0

    def label(self, frame: pd.DataFrame) -> pd.Series:
        # A weighted judge (AlpacaEval 2.0's) gives a fractional preference: its side of 1.5 is the outcome.
        preference = frame["preference"]
        outcome = np.select([preference > 1.5, preference < 1.5], ["win", "loss"], default="tie")
        return pd.Series(outcome, index=frame.index, dtype=object).where(preference.notna())

def label_variables(labels: tuple[str, ...]) -> dict[str, object]:
    """A template's names for the task's verdict labels: ``labels`` (all, in the task's order), ``label_a`` /
    ``label_b`` / ``label_tie`` (first better, second better, tie) and, for five levels, ``label_a_much`` /
    ``label_b_much`` (first / second much better)."""
    if len(labels) == 5:
        return {"labels": list(labels), "label_a_much": labels[0], "label_a": labels[1], "label_tie": labels[2],
                "label_b": labels[3], "label_b_much": labels[4]}
    return {"labels": list(labels), "label_a": labels[0], "label_b": labels[1], "label_tie": labels[2]}


def _verdict_probability(task: Task, by_position: Mapping[Position, tuple[JudgeRequest, Outcome]],
                         outcomes: dict[str, str | None]) -> tuple[float | None, float | None]:
    """(probability, logprob_margin) of a pair verdict from the orders whose reply carries the verdict token's
    log-probabilities (a judge with ``,logprobs``): the candidate's probability of being the better, the orders'
    mean, and the smaller margin; (None, None) where no order has them."""
    found = []
    orders: tuple[Position, Position] = ("AB", "BA")
    for position in orders:
        outcome = by_position[position][1]
        if outcomes[position] is None or isinstance(outcome, BackendError) or not outcome.logprobs:
            continue
        distribution = verdict_distribution(outcome.logprobs, task.judge.labels)
        if distribution is not None:
            found.append(candidate_probability(distribution, candidate_first=position == "AB"))
    if not found:
        return None, None
    return fmean(p for p, _ in found), min(m for _, m in found)


def _either_empty(mine: Sequence[str], theirs: Sequence[str]) -> bool:
    return any(map(is_empty, mine)) or any(map(is_empty, theirs))


class BattleComparison(PairwiseComparison):
    """FastChat's pairwise-all / pairwise-baseline and Arena-Hard's battles: two candidate models' answers to the
    same item, always asked in both orders (AB: ``model`` first, BA: ``opponent`` first) over the whole
    conversation, with three- or five-level verdicts. The models are ranked by Bradley-Terry over every battle
    (analysis.aggregate, the same ranking `stats --battles` prints), each scored against one anchor model."""

    name = "battles"
    needs_reference = False
    compares_models = True
    whole_conversation = True

    def opponent_name(self, task: Task, opponent: Candidate | None) -> str | None:
        return self._opponent(opponent).model

    def opponent_turns(self, task: Task, item: Item, opponent: Candidate | None) -> tuple[str, ...]:
        return self._opponent(opponent).turns

    @staticmethod
    def _opponent(opponent: Candidate | None) -> Candidate:
        if opponent is None:
            raise ConfigError("a battle compares two candidate models' answers: the opponent's answer is missing")
        return opponent

    def both_sides(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A battle concerns both its models: each judgment also as its opponent sees it (``_from_both_sides``)."""
        return _from_both_sides(frame)

def _from_both_sides(frame: pd.DataFrame) -> pd.DataFrame:
    """Every battle twice, once from each model's side: a model's counts cover the battles it was the opponent in.
    The opponent's side of AB is its BA order (it was shown second), so the orders swap as the verdicts flip."""
    other = frame.copy()
    other["model"], other["opponent"] = frame["opponent"], frame["model"]
    other["verdict_ab"] = frame["verdict_ba"].map(OPPONENT_OUTCOME)
    other["verdict_ba"] = frame["verdict_ab"].map(OPPONENT_OUTCOME)
    other["preference"] = 3.0 - frame["preference"]
    other["length"], other["opponent_length"] = frame["opponent_length"], frame["length"]
    other["margin_ab"], other["margin_ba"] = frame["margin_ba"], frame["margin_ab"]
    return pd.concat([frame, other[other["opponent"].notna()]], ignore_index=True)
