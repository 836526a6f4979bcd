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
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ...errors import BackendError, DataError, TaskError
from ...formats.arena_hard import Answer
from ...stats.arena_hard import (
    ARENA_HARD_ROUNDS,
    ArenaHardScore,
    StyleFeatures,
    style_features,
    v01_scores,
    v2_scores,
    v2_style_scores,
)
from ...stats.length_control import DifficultyTable
from ...types import (
    Candidate,
    ChatReply,
    ChatRequest,
    Item,
    Judge,
    JudgeRequest,
    Judgment,
    Position,
    ScoreRow,
    Task,
    Verdict,
)
from ..kinds import (
    Outcome,
    PairwiseComparison,
    _count_failures,
    _failure,
    _request_error,
    _unanswered,
    call_record,
)
from ..replies import cut_off
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
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None) -> list[Judgment]:
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
                verdicts[request.position] = self.parse(task, request, outcome)
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
        return [Judgment(
            benchmark=first.benchmark, protocol=first.protocol, item_id=first.item_id, category=first.category,
            model=first.model, judge=first.judge, turn=1, kind=self.name, opponent=first.opponent,
            verdict_ab=ab, verdict_ba=ba, preference=combine_orders(ab, ba) if ab and ba else None,
            raw=(texts["BA"], texts["AB"]), error="; ".join(errors) or None, failure=failure,
            calls=tuple(records), margin_ab=verdicts["AB"].margin if ab else None,
            margin_ba=verdicts["BA"].margin if ba else None, length=len(answer), opponent_length=len(base.text),
            headers=own[0], lists=own[1], bold=own[2], opponent_headers=theirs[0], opponent_lists=theirs[1],
            opponent_bold=theirs[2], tokens=token_count(answer), opponent_tokens=token_count(base.text))]

    def unanswered(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
                   opponent: Candidate | None = None) -> list[Judgment]:
        return [Judgment(benchmark=task.benchmark, protocol=task.protocol, item_id=item.id, category=item.category,
                         model=candidate.model, judge=judge.name, turn=1, kind=self.name,
                         opponent=self.setting(task, item.category).baseline,
                         error=f"no answer to judge ({candidate.error})", failure=_unanswered(candidate))]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        return []  # an empty answer is judged like any other, as Arena-Hard judges it

    # -- analysis ---------------------------------------------------------------------------------------------
    def aggregate(self, frame: pd.DataFrame, n_bootstrap: int,
                  difficulty: DifficultyTable | None = None) -> list[ScoreRow]:
        """A row per (baseline, model): show_result.py's score and interval over Arena-Hard's rounds (none when
        no bootstrap is asked for), whatever ``n_bootstrap`` says otherwise, so every surface shows the same."""
        rounds = ARENA_HARD_ROUNDS if n_bootstrap else 0
        rows = []
        for baseline, group in frame.groupby(frame["opponent"].fillna(""), sort=True):
            games = games_of(group, both=self.version == "v2.0")
            scores, styled, note = self.scores(games, rounds)
            for model, part in group.groupby("model", sort=True):
                fitted, controlled = scores.get(str(model)), styled.get(str(model))
                n_failed, n_parse, n_empty = _count_failures(part)
                both = part[part["verdict_ab"].notna() & part["verdict_ba"].notna()]
                outcomes = self.label(part)
                rows.append(ScoreRow(
                    benchmark=str(part["benchmark"].iloc[0]), judge=str(part["judge"].iloc[0]), kind=self.name,
                    model=str(model), opponent=str(baseline) or None, protocol=str(part["protocol"].iloc[0]),
                    score=fitted.score if fitted else None, ci_low=fitted.ci_low if fitted else None,
                    ci_high=fitted.ci_high if fitted else None,
                    n_judged=int(part["verdict_ab"].notna().sum() + part["verdict_ba"].notna().sum()) // 2
                    if self.version == "v0.1" else len(both),
                    n_failed=n_failed, n_parse_failures=n_parse, n_empty=n_empty,
                    n_wins=int((outcomes == "win").sum()), n_draws=int((outcomes == "tie").sum()),
                    n_losses=int((outcomes == "loss").sum()),
                    order_agreement=float((both["verdict_ab"] == both["verdict_ba"]).mean()) if len(both) else None,
                    # v2.0's style-controlled score ranks (as Arena-Hard's official configuration does), with the
                    # interval of its own bootstrap beside it.
                    length_controlled_winrate=controlled.score if controlled else None,
                    lc_ci_low=controlled.ci_low if controlled else None,
                    lc_ci_high=controlled.ci_high if controlled else None,
                    lc_note=note if controlled else None,
                    avg_length=float(part["length"].dropna().mean()) if part["length"].notna().any() else None,
                ))
        return rows

    def scores(self, games: pd.DataFrame, rounds: int
               ) -> tuple[dict[str, ArenaHardScore], dict[str, ArenaHardScore], str | None]:
        raise NotImplementedError


def games_of(frame: pd.DataFrame, *, both: bool) -> pd.DataFrame:
    """The games of judgments, in Arena-Hard's order (v2.0's score lists game 2 before game 1), from the model's
    side: points, weight (3 for "much better") and both answers' style. ``both``: a judgment counts only when both
    its games have a verdict (v2.0 drops it otherwise); else each game with a verdict counts (v0.1)."""
    parts = []
    for position, margin in (("verdict_ab", "margin_ab"), ("verdict_ba", "margin_ba")):
        judged = frame["verdict_ab"].notna() & frame["verdict_ba"].notna() if both else frame[position].notna()
        part = frame[judged]
        parts.append(pd.DataFrame({
            "order": np.arange(len(part)) * 2 + (0 if position == "verdict_ab" else 1),
            "model": part["model"].astype(str).to_numpy(),
            "points": part[position].map({"win": 1.0, "tie": 0.5, "loss": 0.0}).to_numpy(dtype=float),
            "weight": np.where(part[margin].to_numpy(dtype=float) == 2, 3, 1),
            **{c: part[c].to_numpy(dtype=float) for c in ("tokens", "headers", "lists", "bold", "opponent_tokens",
                                                           "opponent_headers", "opponent_lists", "opponent_bold")},
        }))
    games = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return games.sort_values("order", kind="stable").reset_index(drop=True)


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

    def scores(self, games: pd.DataFrame, rounds: int
               ) -> tuple[dict[str, ArenaHardScore], dict[str, ArenaHardScore], str | None]:
        if games.empty:
            return {}, {}, None
        found = v01_scores(games["model"].tolist(), games["points"].tolist(), games["weight"].tolist(), rounds)
        return {s.model: s for s in found}, {}, None


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

    def scores(self, games: pd.DataFrame, rounds: int
               ) -> tuple[dict[str, ArenaHardScore], dict[str, ArenaHardScore], str | None]:
        if games.empty:
            return {}, {}, None
        models, points, weights = games["model"].tolist(), games["points"].tolist(), games["weight"].tolist()
        plain = {s.model: s for s in v2_scores(models, points, weights, rounds)}
        style = games[["tokens", "headers", "lists", "bold", "opponent_tokens", "opponent_headers",
                       "opponent_lists", "opponent_bold"]]
        if style.isna().any().any() or len(games) < 3:
            return plain, {}, None
        own = [StyleFeatures(*r) for r in style.iloc[:, :4].itertuples(index=False)]
        base = [StyleFeatures(*r) for r in style.iloc[:, 4:].itertuples(index=False)]
        styled, _ = v2_style_scores(models, points, weights, style_features(own, base), rounds)
        return plain, {s.model: s for s in styled}, "style-controlled (length + markdown), as Arena-Hard v2.0"
