"""Arena-Hard-Auto's files: questions (``question.jsonl``), model answers (``model_answer/<model>.jsonl``) and
judgments (``model_judgment/<judge>/<model>.jsonl``), in both of its layouts: the 2024 one (``question_id``,
``turns``, ``choices[0].turns``) and the 2025 one (``uid``, ``prompt``, ``messages[-1].content.answer`` with the
style ``metadata`` of utils/add_markdown_info.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..judging.verdicts import combine_orders
from ..types import Item, Judgment
from . import fastchat
from .common import iter_jsonl
from .identity import ARENA_HARD

ARENA_BENCH = "arena-bench"
# Arena-Hard's five labels, from the second answer's side: game 1 shows the baseline as A and the model as B.
_POINTS = {"A>>B": 0.0, "A>B": 0.0, "A=B": 0.5, "B>A": 1.0, "B>>A": 1.0}
_DECISIVE = ("A>>B", "B>>A")


@dataclass(frozen=True)
class Answer:
    """One model answer of an Arena-Hard answer file: its text, and the style metadata the file carries (token_len,
    header_count, list_count, bold_count; None in the 2024 layout, which records only token_len)."""

    text: str
    metadata: dict[str, Any] | None = None
    token_len: int | None = None


def questions(path: Path) -> list[Item]:
    """``question.jsonl``: one single-turn item per row, its id the row's ``uid`` (``question_id`` in 2024)."""
    items = []
    for lineno, row in iter_jsonl(path):
        try:
            uid = row["uid"] if "uid" in row else row["question_id"]
            prompt = row["prompt"] if "prompt" in row else row["turns"][0]["content"]
            items.append(Item(id=str(uid), category=str(row["category"]), turns=(str(prompt),),
                              source=f"{path}:{lineno}"))
        except (KeyError, IndexError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: an Arena-Hard question needs uid (or question_id), category and "
                            f"prompt (or turns[0].content); missing {exc}") from exc
    return items


def answers(path: Path) -> dict[str, Answer]:
    """``model_answer/<model>.jsonl``: item id -> the answer as Arena-Hard's judge is shown it (the last message's
    ``answer``; ``choices[0].turns[0].content`` in 2024)."""
    found: dict[str, Answer] = {}
    for lineno, row in iter_jsonl(path):
        try:
            if "messages" in row:
                metadata = row.get("metadata")
                found[str(row["uid"])] = Answer(
                    str(row["messages"][-1]["content"]["answer"]), metadata if isinstance(metadata, dict) else None,
                    metadata.get("token_len") if isinstance(metadata, dict) else None)
            else:
                turn = row["choices"][0]["turns"][0]
                found[str(row["question_id"])] = Answer(str(turn["content"]), None, turn.get("token_len"))
        except (KeyError, IndexError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: an Arena-Hard answer needs uid and messages[-1].content.answer (or "
                            f"question_id and choices[0].turns[0].content); missing {exc}") from exc
    return found


def judgments(path: Path) -> list[Judgment]:
    """``games`` holds two games, the baseline first in game 1 and second in game 2, each with a ``score`` label
    like "A>B". A file without ``games`` is arena-bench's single 1-10 grading (FastChat's single format)."""
    rows = list(iter_jsonl(path))
    if rows and "games" not in rows[0][1]:
        return fastchat.single_judgments(path, categories={}, benchmark=ARENA_BENCH)
    found = []
    for lineno, row in rows:
        games = row.get("games") or []
        if len(games) != 2:
            raise DataError(f"{path}:{lineno}: an Arena-Hard judgment needs two games")
        outcomes: list[str | None] = []
        margins: list[int | None] = []
        for game, model_first in ((games[0], False), (games[1], True)):
            label = game.get("score")
            if label not in _POINTS:
                outcomes.append(None)
                margins.append(None)
                continue
            # "much better" (A>>B, B>>A) counts as three games in Bradley-Terry (stats.battle_ranking).
            margins.append(2 if label in _DECISIVE else None if _POINTS[label] == 0.5 else 1)
            points = _POINTS[label]  # the second answer's points
            model_points = 1 - points if model_first else points
            outcomes.append({1.0: "win", 0.0: "loss", 0.5: "tie"}[model_points])
        ab, ba = outcomes[1], outcomes[0]  # "AB" = the model shown first
        found.append(Judgment(
            benchmark=ARENA_HARD, item_id=str(row.get("question_id", row.get("uid"))),
            category=str(row.get("category", "arena-hard")), model=str(row["model"]),
            judge=str(row.get("judge", "unknown")), turn=1, kind="pairwise",
            opponent=str(row.get("baseline", "baseline")), verdict_ab=ab, verdict_ba=ba, margin_ab=margins[1],
            margin_ba=margins[0], preference=combine_orders(ab, ba) if ab and ba else None,
            error=None if ab and ba else "a game without a verdict label",
            failure=None if ab and ba else "parse",
            raw=tuple(str(g.get("judgment", "")) for g in games),
        ))
    return found
