"""Published single-grading protocols, reproduced byte for byte: FastChat's MT-Bench judge (``fastchat-single``) and
Arena-Hard's first release, arena-bench-v1 (``arena-bench-single``: one grade per item against GPT-4's reference).

Both fill their anchor's own prompt (system message + ``str.format`` template, read from the anchor's files by
URL with a sha256) with the answers *verbatim*, as the anchor did, and read the grade with the anchor's own rule.
Nothing is neutralized and empty answers are judged like any other: that is what makes the prompts identical, and
what lets a hostile answer plant a grade exactly as it could in the anchor (see docs/security.md). The score is the
mean of the grades that parsed (``SingleGrading.aggregate``), as FastChat's and arena-bench's show_result.py do.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ...errors import ConfigError, DataError, TaskError
from ...formats.common import read_text
from ...types import Candidate, ChatReply, ChatRequest, Item, Judge, JudgeRequest, Judgment, Task, Verdict
from .. import fastchat_prompts
from ..fastchat_prompts import FIELDS, FastChatPrompt
from ..prompt_parts import judge_params, template_for
from ..replies import cut_off
from ..strategies import JudgingKind, SingleGrading

# FastChat's llm_judge/common.py: the first "[[x]]", else the first "[x]"; x read by ast.literal_eval.
_FASTCHAT_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_FASTCHAT_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
# arena-hard-auto's judge.py at 4a705dd: every "[[digits]]", the empty ones dropped; exactly one is the grade.
_ARENA_BENCH_RATING = re.compile(r"\[\[(\d*?)\]\]")
# A harness config is small YAML; anything larger is not one.
_MAX_CONFIG_BYTES = 1 << 20


def fastchat_rating(text: str) -> Verdict:
    """FastChat's grade of a judge reply: the first ``[[x]]``, else the first ``[x]``, as a number (decimals kept,
    any value: FastChat does not check the scale). None where FastChat records -1, or where its literal_eval
    would fail ("[[08]]"), which stops FastChat's run."""
    match = _FASTCHAT_RATING.search(text) or _FASTCHAT_RATING_BACKUP.search(text)
    if match is None:
        return Verdict(error="no [[rating]] in the judge's reply (FastChat records -1)")
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return Verdict(error=f"rating {match.group(1)!r} is not a Python number (FastChat's literal_eval fails)")
    return Verdict(score=float(value))


def arena_bench_rating(text: str) -> Verdict:
    """arena-bench-v1's grade of a judge reply: exactly one non-empty ``[[digits]]`` (counted with repeats: two
    ``[[8]]`` are no grade), as an integer; none where the file records null."""
    found = [m for m in _ARENA_BENCH_RATING.findall(text) if m != ""]
    if len(found) != 1:
        return Verdict(error=f"{len(found)} [[rating]]s in the judge's reply, not exactly one (arena-bench records "
                             "null)")
    return Verdict(score=float(int(found[0])))


def prompt_values(item: Item, candidate: Candidate, upto: int) -> dict[str, str]:
    """The fields FastChat's and arena-bench's templates are filled with, answers verbatim: ``question``/``answer``
    (turn 1), ``question_k``/``answer_k`` for the turns up to ``upto``, ``ref_answer_k`` for every reference turn."""
    values = {"question": item.turns[0], "answer": candidate.turns[0]}
    for i in range(min(upto, len(item.turns))):
        values[f"question_{i + 1}"] = item.turns[i]
        values[f"answer_{i + 1}"] = candidate.turns[i]
    for i, reference in enumerate(item.reference):
        values[f"ref_answer_{i + 1}"] = reference
    return values


class PublishedSingleGrading(SingleGrading):
    """A published protocol's single grading: its own prompt per judged turn, answers verbatim, its own rule for the
    grade; a reply cut off by max_tokens counts if the rule finds a grade in it, as it did in the anchor."""

    # The sequences a protocol's prompt frames answers and reads grades with: an answer holding one can plant a
    # grade or close its frame (counted by ``marked``, reported in docs/security.md).
    markers: ClassVar[tuple[str, ...]] = ("[[", "[The End of", "[The Start of")
    verbatim_answers = True
    text_verdicts_only = True

    def judged_turns(self, item: Item) -> list[int]:
        """The turns graded, one request each (FastChat: every turn; arena-bench: the item as a whole)."""
        return list(range(1, len(item.turns) + 1))

    def prompt(self, task: Task, item: Item, turn: int) -> FastChatPrompt:
        raise NotImplementedError

    def rating(self, text: str) -> Verdict:
        raise NotImplementedError

    def check(self, task: Task, where: str) -> None:
        JudgingKind.check(self, task, where)  # not SingleGrading's, which sends FastChat's prompts here

    def marked(self, answer: str) -> bool:
        """Whether an answer holds one of the protocol's markers (shown verbatim all the same)."""
        return any(marker in answer for marker in self.markers)

    def requests_per_item(self, task: Task, item: Item) -> int:
        return len(self.judged_turns(item))

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        if judge.constrained:
            raise ConfigError(f"judge {judge.name}: the {task.protocol} protocol asks for a [[rating]] in text; use "
                              "a #text judge")
        found = []
        for turn in self.judged_turns(item):
            messages = fastchat_prompts.render(self.prompt(task, item, turn), prompt_values(item, candidate, turn))
            chat = ChatRequest(judge.endpoint, messages, judge_params(task, judge))
            found.append(JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name, turn,
                                      "single", chat, protocol=task.protocol))
        return found

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        verdict = self.rating(reply.text)
        # No grade in a reply cut off by max_tokens: recorded as truncated (a grade found in one counts, as it did
        # in the anchor).
        return replace(verdict, truncated=True) if not verdict.ok and cut_off(reply) else verdict

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        return []  # the anchors show an empty answer to their judge like any other: ``requests`` does too

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        turns = set(self.judged_turns(item))
        return [j for j in super().unanswered(task, item, candidate, judge, opponent) if j.turn in turns]


class FastChatSingle(PublishedSingleGrading):
    """MT-Bench as FastChat's llm_judge grades it: ``judge.prompt`` (single-v1) and, for the reference categories,
    ``judge.reference_prompt`` (single-math-v1), from FastChat's judge_prompts.jsonl (``judge.fastchat_prompts``);
    turn 2 with their ``-multi-turn`` variants."""

    name = "fastchat-single"

    def check(self, task: Task, where: str) -> None:
        super().check(task, where)
        if not task.judge.fastchat_prompts:
            raise TaskError(f"{where}: a {self.name} task needs judge.fastchat_prompts (FastChat's "
                            "judge_prompts.jsonl, by url and sha256 or path)")

    def prompt(self, task: Task, item: Item, turn: int) -> FastChatPrompt:
        return fastchat_prompts.for_turn(task.judge.fastchat_prompts, template_for(task, item), turn)

    def rating(self, text: str) -> Verdict:
        return fastchat_rating(text)


class ArenaBenchSingle(PublishedSingleGrading):
    """arena-bench-v1 (arena-hard-auto's judge.py at 4a705dd): one request per item, the config's ``system_prompt``
    and its ``prompt_template`` filled with every turn's question, answer and reference answer, at the config's
    temperature and max_tokens (which the task's judge section must repeat). ``judge.files.config`` is the config;
    ``judge.prompt`` names it."""

    name = "arena-bench-single"
    # arena-hard-auto's judgment files name a model by the ``model_id`` inside its answers file.
    answers_named_by_model_id = True

    def judged_turns(self, item: Item) -> list[int]:
        return [len(item.turns)]

    def check(self, task: Task, where: str) -> None:
        super().check(task, where)
        files = dict(task.judge.files)
        if task.judge.prompt not in files:
            raise TaskError(f"{where}: judge.prompt must name the judge.files entry that holds the arena-bench config "
                            f"(e.g. prompt: config), not {task.judge.prompt!r}")
        path = files[task.judge.prompt]
        try:
            config = arena_bench_config(path)
        except DataError as exc:
            raise TaskError(f"{where}: {exc}") from None
        for name, ours in (("temperature", task.judge.temperature), ("max_tokens", task.judge.max_tokens)):
            if not isinstance(config.get(name), (int, float)) or float(config[name]) != float(ours):
                raise TaskError(f"{where}: judge {name} is {ours}, but the arena-bench config {path} says "
                                f"{config.get(name)!r}: set judge.{name}: {config.get(name)!r}")
        if config.get("reference") and not all(item.reference for item in task.items):
            missing = [item.id for item in task.items if not item.reference]
            raise TaskError(f"{where}: the arena-bench config grades against a reference answer, and {len(missing)} "
                            f"item(s) have none (e.g. {missing[0]}): give the task source.references")

    def prompt(self, task: Task, item: Item, turn: int) -> FastChatPrompt:
        config = arena_bench_config(task.judge.file(task.judge.prompt))
        return FastChatPrompt(str(config.get("name", "arena-bench")), config["system_prompt"],
                              config["prompt_template"])

    def rating(self, text: str) -> Verdict:
        return arena_bench_rating(text)


@lru_cache(maxsize=8)
def arena_bench_config(path: str) -> dict[str, Any]:
    """arena-bench's judge config (``arena-bench-v1_config.yaml``): ``system_prompt`` and ``prompt_template`` (whose
    fields must be FastChat's plain names), ``temperature``, ``max_tokens``; ``few_shot`` must be empty (its
    few-shot turns are not reproduced)."""
    file = Path(path)
    if file.stat().st_size > 4 * _MAX_CONFIG_BYTES:  # before reading it (a UTF-8 character is at most 4 bytes)
        raise DataError(f"{file}: larger than an arena-bench config can be ({file.stat().st_size:,} bytes)")
    text = read_text(file)
    if len(text) > _MAX_CONFIG_BYTES:
        raise DataError(f"{file}: larger than an arena-bench config can be ({len(text):,} characters)")
    try:
        config = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise DataError(f"{file}: not valid YAML ({exc})") from None
    if not isinstance(config, dict):
        raise DataError(f"{file}: not an arena-bench config (a mapping with system_prompt and prompt_template)")
    for key in ("system_prompt", "prompt_template"):
        if not isinstance(config.get(key), str):
            raise DataError(f"{file}: not an arena-bench config: {key} is missing or not text")
    for _, field, spec, conversion in string.Formatter().parse(config["prompt_template"]):
        if field is not None and (field not in FIELDS or spec or conversion):
            raise DataError(f"{file}: prompt_template uses the field {{{field}}}, which is not one of FastChat's: "
                            "refused")
    if config.get("few_shot"):
        raise DataError(f"{file}: few_shot turns are not reproduced: refused")
    return config


def marked_answers(kind: PublishedSingleGrading, candidates: Sequence[Candidate]) -> int:
    """How many of the candidates' answers (turns) hold one of the protocol's markers."""
    return sum(kind.marked(turn) for candidate in candidates for turn in candidate.turns)
