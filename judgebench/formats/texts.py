"""The texts behind judgments, for reading them: the question, the candidate's answer, the opponent's or the
reference answer, and the judge's replies, wherever a harness keeps them.

- judgebench run directories: answers.jsonl (the answers), judgments.jsonl (``raw``: the judge's replies) and
  config.json, which names the task file the questions come from (item ids only when it cannot be loaded).
- AlpacaEval annotations: the instruction, both outputs and the judge's raw completion (when it was stored).
- FastChat judgment files: the judge's text and the prompt it saw; questions and answers from question.jsonl and
  model_answer/ beside the file, when they are there.
- A human arena's database: each vote's battle (questions, both answers) as it was shown.

Verdicts are not read here: they are the judgments frame's (analysis.records). Every text is capped at
``MAX_CHARS``; all of them are untrusted (the page escapes them). I/O only at this edge; records are typed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ..errors import DataError, JudgebenchError
from ..types import Item, Task
from . import fastchat
from . import judgebench as ours
from .alpaca_eval import decode_annotations, folder_model
from .arena_db import JUDGE, battle_questions, read_votes
from .common import content, iter_jsonl, read_bytes
from .identity import ALPACA_EVAL, MT_BENCH, instruction_id

MAX_CHARS = 6000

TextKey = tuple[str, str, str, str, str, int]  # benchmark, judge, model, opponent ("" for none), item_id, turn


@dataclass(frozen=True)
class JudgmentText:
    """What the judge read and wrote for one judgment. question: the user's turns (empty when unknown);
    answer/opponent_answer: the candidate's and the opponent's (or the reference) turns; opponent_label says
    which; replies: the judge's replies, in the order asked (pairwise: candidate shown first, then second);
    prompt: the judge's prompt, where the file keeps it and the question is not otherwise known."""

    benchmark: str
    judge: str
    model: str
    opponent: str | None
    item_id: str
    turn: int
    question: tuple[str, ...] = ()
    answer: tuple[str, ...] = ()
    opponent_answer: tuple[str, ...] = ()
    opponent_label: str = "opponent"
    replies: tuple[str, ...] = ()
    prompt: str | None = None

    @property
    def key(self) -> TextKey:
        return (self.benchmark, self.judge, self.model, self.opponent or "", self.item_id, self.turn)


def cap(text: Any, limit: int | None = MAX_CHARS) -> str:
    """A text as a string, cut at ``limit`` characters with a note of what was cut (None: never cut, for an
    export whose texts are data, not a page)."""
    text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n[… {len(text) - limit} more characters not shown]"


def _turns(values: Any, limit: int | None = MAX_CHARS) -> tuple[str, ...]:
    if isinstance(values, (list, tuple)):
        return tuple(cap(v, limit) for v in values)
    return () if values is None else (cap(values, limit),)


# --- judgebench run directories -----------------------------------------------------------------------------

def _task_of(config: dict[str, Any]) -> Task | None:
    """The run's task, loaded from the file it names (then by its name), or None when neither loads or the file
    is no longer the one the run recorded (its sha256): questions of another version would be misleading."""
    from ..tasks import load_task

    task = config.get("task")
    task = task if isinstance(task, dict) else {}
    recorded = task.get("sha256")
    for name in (task.get("path"), task.get("name")):
        if not isinstance(name, str) or not name:
            continue
        try:
            loaded = load_task(name)
            if recorded and hashlib.sha256(Path(loaded.path).read_bytes()).hexdigest() != recorded:
                continue
            return loaded
        except (JudgebenchError, OSError):
            continue
    return None


def _reference(task: Task, item_id: str) -> tuple[str, ...]:
    try:
        return tuple(task.reference_for(item_id))
    except KeyError:
        return ()


def _asked(item: Item) -> tuple[str, ...]:
    """An item's turns as the pages show them: a benchmark's conversation before the first turn (Item.context) is
    written above it, message by message, each under its role."""
    if not item.context:
        return item.turns
    before = "".join(f"[{role}]\n{text}\n\n" for role, text in item.context)
    return (f"{before}[user]\n{item.turns[0]}", *item.turns[1:])


def run_texts(run_dir: Path, limit: int | None = MAX_CHARS) -> list[JudgmentText]:
    config, candidates, judgments = ours.load_run(run_dir)
    task = _task_of(config)
    items = {item.id: item for item in task.items} if task is not None else {}
    answers = {(c.model, c.item_id): c.turns for c in candidates}
    texts = []
    for j in judgments:
        item = items.get(j.item_id)
        opponent_answer: tuple[str, ...] = ()
        label = "opponent"
        if j.opponent is not None and (j.opponent, j.item_id) in answers:
            opponent_answer = answers[(j.opponent, j.item_id)]
        elif task is not None:
            opponent_answer, label = _reference(task, j.item_id), "reference"
        texts.append(JudgmentText(
            benchmark=j.benchmark, judge=j.judge, model=j.model, opponent=j.opponent, item_id=j.item_id,
            turn=j.turn, question=_turns(_asked(item) if item is not None else (), limit),
            answer=_turns(answers.get((j.model, j.item_id), ()), limit), opponent_answer=_turns(opponent_answer, limit),
            opponent_label=label if j.opponent is None else f"{label}: {j.opponent}", replies=_turns(j.raw, limit)))
    return texts


# --- AlpacaEval annotations ---------------------------------------------------------------------------------

class _AnnotationText(msgspec.Struct):
    instruction: str
    generator_1: Any
    generator_2: Any
    output_1: Any = None
    output_2: Any = None
    annotator: Any = "unknown"
    raw_completion: Any = None


def _completion_text(raw: Any) -> str | None:
    """The judge's reply in a stored completion: its message's content (AlpacaEval keeps the whole response)."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        message = raw.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return message["content"]
        if isinstance(raw.get("text"), str):
            return raw["text"]
    return cap(raw)


def annotation_texts(path: Path, limit: int | None = MAX_CHARS) -> list[JudgmentText]:
    # Read as every command reads them (NaN and a byte-order mark included): formats.alpaca_eval's one decoder.
    rows = decode_annotations(content(path, read_bytes(path)), str(path), list[_AnnotationText],
                              "expected a JSON list of objects with instruction, generator_1, generator_2")
    # Named as formats.alpaca_eval names the judgments (their results folder), so the site finds these texts.
    folder = folder_model(path) if len({str(row.generator_2) for row in rows}) == 1 else None
    texts = []
    for row in rows:
        reply = _completion_text(row.raw_completion)
        texts.append(JudgmentText(
            benchmark=ALPACA_EVAL, judge=str(row.annotator), model=folder or str(row.generator_2),
            opponent=str(row.generator_1), item_id=instruction_id(row.instruction), turn=1,
            question=(cap(row.instruction, limit),), answer=_turns(row.output_2, limit),
            opponent_answer=_turns(row.output_1, limit), opponent_label=f"baseline: {row.generator_1}",
            replies=(cap(reply, limit),) if reply is not None else ()))
    return texts


# --- FastChat judgment files ----------------------------------------------------------------------------------

def _beside(path: Path, name: str) -> Path | None:
    """A file FastChat keeps a level or two above model_judgment/."""
    for parent in list(path.parents)[:3]:
        if (parent / name).exists():
            return parent / name
    return None


Answers = dict[str, tuple[str, ...]]  # question id -> the answer's turns


def _fastchat_answers(path: Path, model: str, cache: dict[str, Answers]) -> Answers:
    if model not in cache:
        found = _beside(path, "model_answer")
        answer_file = found / f"{Path(model).name}.jsonl" if found is not None else None
        try:
            cache[model] = fastchat.answers(answer_file) if answer_file and answer_file.is_file() else {}
        except DataError:
            cache[model] = {}
    return cache[model]


def fastchat_texts(path: Path, limit: int | None = MAX_CHARS) -> list[JudgmentText]:
    question_file = _beside(path, "question.jsonl")
    questions = {item.id: item.turns for item in fastchat.questions(question_file)} if question_file else {}
    answers: dict[str, Answers] = {}
    texts = []
    for lineno, row in iter_jsonl(path):
        try:
            qid, turn = str(row["question_id"]), int(row.get("turn", 1))
            pair = "g1_judgment" in row
            model = str(row["model_1"] if pair else row["model"])
            opponent = str(row["model_2"]) if pair else None
            replies = (row["g1_judgment"], row["g2_judgment"]) if pair else (row["judgment"],)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}:{lineno}: not a FastChat judgment ({exc})") from exc
        prompt = row.get("user_prompt") or row.get("g1_user_prompt")
        texts.append(JudgmentText(
            benchmark=MT_BENCH, judge=fastchat._judge_name(row), model=model, opponent=opponent, item_id=qid,
            turn=turn, question=_turns(questions.get(qid, ()), limit),
            answer=_turns(_fastchat_answers(path, model, answers).get(qid, ()), limit),
            opponent_answer=_turns(_fastchat_answers(path, opponent, answers).get(qid, ()) if opponent else (), limit),
            opponent_label=f"opponent: {opponent}" if opponent else "opponent", replies=_turns(replies, limit),
            prompt=cap(prompt, limit) if prompt and qid not in questions else None))
    return texts


# --- a human arena's database ---------------------------------------------------------------------------------

def arena_texts(path: Path, limit: int | None = MAX_CHARS) -> list[JudgmentText]:
    """Each counted vote's battle as its voter saw it: the questions, answer A's (the judgment's model) and answer
    B's (its opponent). The vote itself is the judgment's verdict; a consistency repeat is no judgment
    (formats.arena_db), so it has no text either."""
    questions = battle_questions(path)
    return [JudgmentText(
        benchmark=vote.benchmark, judge=JUDGE, model=vote.model_a, opponent=vote.model_b, item_id=vote.item_id,
        turn=vote.turn, question=_turns(questions.get(vote.battle_id, ()), limit), answer=_turns(vote.answer_a, limit),
        opponent_answer=_turns(vote.answer_b, limit), opponent_label=f"opponent: {vote.model_b}")
        for vote in read_votes(path) if vote.check_of is None]
