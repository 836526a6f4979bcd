"""Arena-Hard-Auto v0.1 and v2.0, as its own code judges and scores: each item's answer against the baseline of the
item's category, in two games (game 1: the baseline as assistant A, the model as B; game 2 swapped), the judge's
system prompt and user template from Arena-Hard's files, its verdict patterns, ``>>`` counted as three games, and
show_result.py's aggregation (stats.arena_hard).

v0.1 reproduces commit e883410 (July 2024: config/judge_config.yaml, gen_judgment.py, show_result.py), which made
the published 2024-07 leaderboards; v2.0 reproduces commit 196f6b8 (config/arena-hard-v2.0.yaml,
utils/judge_utils.py, gen_judgment.py, show_result.py). Answers are shown verbatim, as Arena-Hard shows them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from ...errors import BackendError, DataError, TaskError
from ...formats.arena_hard import Answer
from ...types import (
    AnswerTraits,
    Candidate,
    ChatReply,
    ChatRequest,
    Failure,
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
from ..replies import cut_off
from ..strategies import (
    Outcome,
    PairwiseComparison,
    Parsed,
    _failure,
    _request_error,
    _unanswered,
    call_record,
)
from ..verdicts import combine_orders
from .arena_hard_files import (
    CategorySetting,
    JudgeConfig,
    baseline_answers,
    read_judge_settings,
    read_v01_config,
    read_v2_config,
)

# The strings that frame the answers in Arena-Hard's user template: an answer containing one is shown as it is
# (Arena-Hard does not escape it), and counted (``framing_answers``).
FRAME_MARKERS = ("<|User Prompt|>", "<|The Start of Assistant A's Answer|>", "<|The End of Assistant A's Answer|>",
                 "<|The Start of Assistant B's Answer|>", "<|The End of Assistant B's Answer|>")
# show_result.py (2025): each label's scores for assistant A; ">>" and "<<" are three games.
V2_LABELS: dict[str, tuple[float, int]] = {
    "A>B": (1.0, 1), "A>>B": (1.0, 3), "A=B": (0.5, 1), "A<<B": (0.0, 3), "A<B": (0.0, 1),
    "B>A": (0.0, 1), "B>>A": (0.0, 3), "B=A": (0.5, 1), "B<<A": (1.0, 3), "B<A": (1.0, 1)}
# show_result.py (July 2024), get_battles_from_judgment: only these five labels make battles; any other is no game.
V01_LABELS: dict[str, tuple[float, int]] = {
    "A>>B": (1.0, 3), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1), "B>>A": (0.0, 3)}
# Arena-Hard's game order: game 1 shows the baseline first (the model is assistant B), game 2 the model first.
GAMES: tuple[Position, Position] = ("BA", "AB")
_OUTCOME = {1.0: "win", 0.5: "tie", 0.0: "loss"}


def extract_v2(text: str, patterns: Sequence[str]) -> str | None:
    """gen_judgment.py's get_score (2025): the reply upper-cased; the patterns tried in order, the first that
    matches gives its last non-empty match (stripped of newlines); None when none matches."""
    for pattern in patterns:
        matches = [m for m in re.findall(pattern, text.upper()) if m != ""]
        if matches:
            return str(matches[-1]).strip("\n")
    return None


def extract_v01(text: str, pattern: str) -> tuple[str | None, bool]:
    """gen_judgment.py's get_score (July 2024): (label, try_again). No match: (None, True), and Arena-Hard asks the
    judge to continue; one distinct match: that label; several distinct matches: (None, False)."""
    matches = [m for m in re.findall(pattern, text) if m != ""]
    if not set(matches):
        return None, True
    if len(set(matches)) == 1:
        return str(matches[0]).strip("\n"), False
    return None, False


def framing_answers(texts: Sequence[str]) -> int:
    """How many of ``texts`` contain one of the template's frame markers (shown unchanged, as Arena-Hard shows
    them: such an answer can blur where the answers begin and end for the judge)."""
    return sum(1 for text in texts if any(marker in text for marker in FRAME_MARKERS))


# -- Arena-Hard's style metadata (utils/add_markdown_info.py) ---------------------------------------------------
_CODE = re.compile("```([^`]*)```")


def markdown_counts(answer: str) -> tuple[int, int, int]:
    """(headers, list items, bold spans) as add_markdown_info.py counts them, code blocks removed first."""
    for block in _CODE.findall(answer):
        answer = answer.replace(block, "")
    headers = sum(len(re.findall(rf"^#{{{n}}}\s", answer, re.MULTILINE)) for n in range(1, 7))
    lists = len(re.findall(r"^\s*\d+\.\s", answer, re.MULTILINE)) + len(re.findall(r"^\s*[-*+]\s", answer,
                                                                                   re.MULTILINE))
    bold = len(re.findall(r"\*\*[^*\n]+\*\*", answer)) + len(re.findall(r"__[^_\n]+__", answer))
    return headers, lists, bold


def token_count(text: str) -> int:
    """token_len as add_markdown_info.py counts it (tiktoken's gpt-4o encoding) where tiktoken is installed with
    its encoding at hand; otherwise an estimate, a token per four characters, for both answers alike."""
    encoder = _encoder()
    if encoder is not None:
        return len(encoder.encode(text, disallowed_special=()))
    return math.ceil(len(text) / 4)


_ENCODER: list[Any] = []


def _encoder() -> Any:
    if not _ENCODER:
        try:
            import tiktoken  # optional: see token_count

            _ENCODER.append(tiktoken.encoding_for_model("gpt-4o"))
        except Exception:
            _ENCODER.append(None)
    return _ENCODER[0]


class ArenaHard(PairwiseComparison):
    """What both versions share: two games per item against the baseline of its category, in Arena-Hard's order,
    answers shown verbatim (an empty one too: Arena-Hard judges it like any other)."""

    # Arena-Hard's judge gives its verdict in text ([[A>B]]): `validate` renders it with a text judge only.
    text_verdicts_only = True

    needs_reference = False
    version: ClassVar[str]
    labels: ClassVar[dict[str, tuple[float, int]]]

    # -- the protocol's files --------------------------------------------------------------------------------
    def config(self, task: Task) -> JudgeConfig:
        raise NotImplementedError

    def setting(self, task: Task, category: str) -> CategorySetting:
        raise NotImplementedError

    def check(self, task: Task, where: str) -> None:
        if task.judge.options:
            raise TaskError(f"{where}: an {self.name} task takes no judge.options")
        try:
            self.config(task)
            for category in sorted({i.category for i in task.items}):
                setting = self.setting(task, category)
                if setting.baseline not in dict(task.judge.files):
                    raise TaskError(f"{where}: category {category!r} is judged against {setting.baseline}: "
                                    f"name its answers in judge.files.{setting.baseline} (url and sha256, or path)")
                answers = baseline_answers(Path(task.judge.file(setting.baseline)))
                missing = [i.id for i in task.items if i.category == category and i.id not in answers]
                if missing:
                    raise TaskError(f"{where}: {setting.baseline}'s answers lack {len(missing)} item(s) of "
                                    f"{category!r}, e.g. {missing[0]}")
        except DataError as exc:
            raise TaskError(f"{where}: {exc}") from exc

    def baseline(self, task: Task, item: Item) -> tuple[str, Answer]:
        setting = self.setting(task, item.category)
        return setting.baseline, baseline_answers(Path(task.judge.file(setting.baseline)))[item.id]

    def messages(self, task: Task, item: Item, answer_a: str, answer_b: str) -> tuple[tuple[str, str], ...]:
        raise NotImplementedError

    # -- requests and verdicts -------------------------------------------------------------------------------
    def opponent_turns(self, task: Task, item: Item, opponent: Candidate | None) -> tuple[str, ...]:
        return (self.baseline(task, item)[1].text,)

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        """Game 1 (the baseline as A) then game 2 (the model as A), as gen_judgment.py asks them."""
        if judge.constrained:
            raise TaskError(f"{task.path}: Arena-Hard's judge answers in text ([[A>B]]); use a #text judge, not "
                            f"{judge.name}")
        name, base = self.baseline(task, item)
        config = self.config(task)
        temperature = config.temperature if judge.temperature is None else judge.temperature
        params = (("max_tokens", config.max_tokens), ("temperature", temperature))
        found = []
        for position in GAMES:
            a, b = (base.text, candidate.turns[0]) if position == "BA" else (candidate.turns[0], base.text)
            chat = ChatRequest(judge.endpoint, self.messages(task, item, a, b), params)
            found.append(JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name, 1,
                                      position, chat, opponent=name, protocol=task.protocol))
        return found

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        label, error = self.extract(task, reply.text)
        if label is None:
            return Verdict(error=error, truncated=cut_off(reply))
        if label not in self.labels:
            return Verdict(error=f"verdict {label!r} is not one of Arena-Hard's labels ({', '.join(self.labels)})")
        points, weight = self.labels[label]
        model_points = points if request.position == "AB" else 1.0 - points
        return Verdict(winner="A" if model_points == 1.0 else "B" if model_points == 0.0 else "tie",
                       margin=None if model_points == 0.5 else 2 if weight == 3 else 1)

    def extract(self, task: Task, text: str) -> tuple[str | None, str]:
        raise NotImplementedError

    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None,
                 parsed: Parsed | None = None) -> list[Judgment]:
        """One judgment of both games: ``verdict_ba`` is game 1's outcome for the model, ``verdict_ab`` game 2's
        (a Verdict's winner "A" here means the model won); a game without a verdict is recorded, never scored."""
        verdicts: dict[str, Verdict] = {}
        texts: dict[str, str] = {}
        records = []
        for request, outcome in zip(requests, outcomes, strict=True):
            records.append(call_record(request.chat, outcome, request.position))
            if isinstance(outcome, BackendError):
                verdicts[request.position], texts[request.position] = Verdict(error=_request_error(outcome)), ""
            else:
                verdicts[request.position] = self.verdict(task, request, outcome, parsed)
                texts[request.position] = outcome.text
        by_position: dict[str, Outcome] = {r.position: o for r, o in zip(requests, outcomes, strict=True)}
        results = {p: {"A": "win", "B": "loss", "tie": "tie"}[v.winner] if v.winner else None
                   for p, v in verdicts.items()}
        errors = [f"game {GAMES.index(p) + 1}: {verdicts[p].error}" for p in GAMES if verdicts[p].error]
        causes = [_failure(verdicts[p], by_position[p]) for p in GAMES if verdicts[p].error]
        failure = next((c for c in ("pending", "request") if c in causes), causes[0] if causes else None)
        first = requests[0]
        item = Item(first.item_id, first.category, ())
        base = self.baseline(task, item)[1]
        answer = candidate.turns[0]
        own, theirs = markdown_counts(answer), markdown_counts(base.text)
        ab, ba = results["AB"], results["BA"]
        pair = PairVerdict(ab, ba, combine_orders(ab, ba) if ab and ba else None,
                           verdicts["AB"].margin if ab else None, verdicts["BA"].margin if ba else None)
        return [Judgment(
            replace(first.judgment_id(), turn=1), self.name, first.category, pair_or_none(pair),
            failed(failure, "; ".join(errors)),
            answer=AnswerTraits(len(answer), token_count(answer), *own),
            opponent_answer=AnswerTraits(len(base.text), token_count(base.text), *theirs),
            raw=(texts["BA"], texts["AB"]), calls=tuple(records))]

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        return [Judgment(JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model,
                                    self.setting(task, item.category).baseline, item.id, 1),
                         self.name, item.category,
                         failure=Failure(_unanswered(candidate), f"no answer to judge ({candidate.error})"))]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        return []  # an empty answer is judged like any other, as Arena-Hard judges it

class ArenaHardV01(ArenaHard):
    """Arena-Hard v0.1 as the July 2024 code judged and ranked it (commit e883410)."""

    name = "arena-hard-v0.1"
    version = "v0.1"
    labels = V01_LABELS

    def config(self, task: Task) -> JudgeConfig:
        return read_v01_config(Path(task.judge.file("config")))

    def setting(self, task: Task, category: str) -> CategorySetting:
        config = self.config(task)
        return CategorySetting(str(config.baseline), str(config.system_prompt))

    def messages(self, task: Task, item: Item, answer_a: str, answer_b: str) -> tuple[tuple[str, str], ...]:
        config = self.config(task)
        user = config.template.format(question_1=item.turns[0], answer_1=answer_a, answer_2=answer_b)
        return (("system", str(config.system_prompt)), ("user", user))

    def extract(self, task: Task, text: str) -> tuple[str | None, str]:
        # Arena-Hard parses "\n" + the reply; a leading newline changes no match.
        label, try_again = extract_v01("\n" + text, self.config(task).patterns[0])
        if label is not None:
            return label, ""
        if try_again:
            return None, ("no verdict label (Arena-Hard v0.1 would ask once more: 'continue your judgment and finish "
                          "by outputting a final verdict label'; judgebench does not)")
        return None, "more than one distinct verdict label (Arena-Hard v0.1 scores none)"

class ArenaHardV2(ArenaHard):
    """Arena-Hard v2.0 (commit 196f6b8): scores as show_result.py prints them, and style control (length and
    markdown) as ``--control-features length markdown`` prints it, beside them."""

    name = "arena-hard-v2.0"
    version = "v2.0"
    labels = V2_LABELS

    def config(self, task: Task) -> JudgeConfig:
        return read_v2_config(Path(task.judge.file("config")))

    def setting(self, task: Task, category: str) -> CategorySetting:
        settings = read_judge_settings(Path(task.judge.file("judge_utils")))
        if category not in settings:
            raise DataError(f"judge_utils.py has no JUDGE_SETTINGS for category {category!r} (it has "
                            f"{', '.join(settings)})")
        return settings[category]

    def messages(self, task: Task, item: Item, answer_a: str, answer_b: str) -> tuple[tuple[str, str], ...]:
        user = self.config(task).template.format(QUESTION=item.turns[0], ANSWER_A=answer_a, ANSWER_B=answer_b)
        return (("system", self.setting(task, item.category).system_prompt), ("user", user))

    def extract(self, task: Task, text: str) -> tuple[str | None, str]:
        label = extract_v2(text, self.config(task).patterns)
        return label, "" if label is not None else "no verdict label (Arena-Hard v2.0 scores the judgment as null)"
