"""Arena-Hard-Auto's files: questions (``question.jsonl``), model answers (``model_answer/<model>.jsonl``) and
judgments (``model_judgment/<judge>/<model>.jsonl``), in both of its layouts: the 2024 one (``question_id``,
``turns``, ``choices[0].turns``) and the 2025 one (``uid``, ``prompt``, ``messages[-1].content.answer`` with the
style ``metadata`` of utils/add_markdown_info.py); and arena-bench-v1's single grades (``model_judgment/<model>.jsonl``
beside ``arena-bench-v1_config.yaml``).

A file's benchmark and judge are the folder's, not its rows': every arena-bench-v1 file is arena-bench-v1 (one of
them carries FastChat's ``turn`` field, which must not make it MT-Bench), and its judge is the ``judge_model`` of
the YAML config arena-hard-auto keeps beside the judgments (the rows do not name it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError
from ..judging.verdicts import combine_orders
from ..types import Failure, Item, Judgment, JudgmentId, PairVerdict, pair_or_none
from . import fastchat
from .common import decode, iter_jsonl, read_bytes
from .identity import ARENA_BENCH_V1, ARENA_HARD, ARENA_HARD_V2

# A judge config is a few KB; anything larger beside the judgments is not one (and is not parsed).
MAX_CONFIG_BYTES = 256 * 1024
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


@dataclass(frozen=True)
class JudgeConfig:
    """The arena-hard-auto config beside a judgment file: where it is, its bytes (part of what the file parses to,
    so part of the parse cache's key) and the judge it names."""

    path: Path
    data: bytes
    judge_model: str


def _config_at(candidate: Path) -> JudgeConfig | None:
    """``candidate`` as a judge config, or None when it is not one (too large, not a mapping, no judge_model).
    A file that names judge_model but cannot be read as YAML is an error: its judge would silently be lost."""
    try:
        if candidate.stat().st_size > MAX_CONFIG_BYTES:
            return None
    except OSError:
        return None
    data = read_bytes(candidate)
    try:
        text = decode(data, str(candidate))
    except DataError:
        return None
    if "judge_model" not in text:
        return None
    try:
        value: Any = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested thousands deep
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DataError(f"{candidate}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the "
                        "judge config or move it away from the judgments") from exc
    judge = value.get("judge_model") if isinstance(value, dict) else None
    if judge is None:
        return None
    if not isinstance(judge, str) or not judge.strip():
        lineno = next((n for n, text_line in enumerate(text.splitlines(), 1) if "judge_model" in text_line), 1)
        raise DataError(f"{candidate}:{lineno}: judge_model must be a model name, not {judge!r}")
    return JudgeConfig(candidate, data, judge.strip())


def judge_config(path: Path) -> JudgeConfig | None:
    """The judge config of a judgment file: a YAML file in its folder, else in the folder above, that names
    ``judge_model`` (arena-hard-auto's layout); None when there is none. Two configs in the nearest folder that
    name different judges are an error: which one judged is not known."""
    for folder in (path.parent, path.parent.parent):
        found = [c for c in map(_config_at, sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])) if c]
        if len({c.judge_model for c in found}) > 1:
            raise DataError(f"{path}: the configs beside it name different judges ("
                            + ", ".join(f"{c.path.name}: {c.judge_model}" for c in found)
                            + "); keep the one that judged these files")
        if found:
            return found[0]
    return None


def judgments(path: Path, config: JudgeConfig | None = None) -> list[Judgment]:
    """``games`` holds two games, the baseline first in game 1 and second in game 2, each with a ``score`` label
    like "A>B". A file without ``games`` is arena-bench-v1's single 1-10 grading (FastChat's single format),
    always benchmark arena-bench-v1. The judge: the row's, else the ``judge_model`` of ``config`` (default: the
    config beside the file, ``judge_config``), else "unknown"."""
    config = judge_config(path) if config is None else config
    default_judge = config.judge_model if config is not None else "unknown"
    rows = list(iter_jsonl(path))
    if rows and "games" not in rows[0][1]:
        # arena-bench-v1 read its grades with "[[n]]" only (a reply without one has score null in its files, even
        # where "[2]" appears in quoted code): FastChat's looser fallback would invent grades.
        return fastchat.single_judgments(path, categories={}, benchmark=ARENA_BENCH_V1, protocol=ARENA_BENCH_V1,
                                         default_judge=default_judge,
                                         loose=False)
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
            # v0.1's files name questions by question_id, v2.0's by uid: two benchmarks, two protocols.
            JudgmentId(ARENA_HARD if "uid" not in row else ARENA_HARD_V2,
                       "arena-hard-v0.1" if "uid" not in row else "arena-hard-v2.0",
                       str(row.get("judge") or default_judge), str(row["model"]),
                       str(row.get("baseline", "baseline")), str(row.get("question_id", row.get("uid"))), 1),
            "pairwise", str(row.get("category", "arena-hard")),
            pair_or_none(PairVerdict(ab, ba, combine_orders(ab, ba) if ab and ba else None, margins[1], margins[0])),
            None if ab and ba else Failure("parse", "a game without a verdict label"),
            raw=tuple(str(g.get("judgment", "")) for g in games),
        ))
    return found
