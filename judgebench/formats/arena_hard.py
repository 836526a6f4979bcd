"""Arena-Hard-Auto's judgment files: ``model_judgment/<judge>/<model>.jsonl``."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..judging.verdicts import combine_orders
from ..types import Judgment
from . import fastchat
from .common import iter_jsonl
from .identity import ARENA_HARD

ARENA_BENCH = "arena-bench"
# Arena-Hard's five labels, from the second answer's side: game 1 shows the baseline as A and the model as B.
_POINTS = {"A>>B": 0.0, "A>B": 0.0, "A=B": 0.5, "B>A": 1.0, "B>>A": 1.0}
_DECISIVE = ("A>>B", "B>>A")


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
