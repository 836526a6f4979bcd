"""The human arena's database (judgebench.arena.store) read as judgments: each counted vote is one judgment of
kind "battles" by judge "human", answer A's model against answer B's, from A's point of view.

verdict_ab is A's outcome ("win", "loss", "tie"; "both bad" is a tie, as Chatbot Arena counts it), verdict_ba is
None (a human sees one order), preference is 2 / 1 / 1.5, turn is the number of turns shown. Lengths and markdown
counts come from the answers as shown.

What is left out, so counts stay honest:
- a consistency check (a battle shown again, sides swapped) is not a judgment at all: its original vote is
  already one, and counting the repeat would count the voter's opinion twice;
- a vote on a battle whose answer gave its model away is a judgment with ``error`` set ("left out: ..."), so
  it enters no game and every reader counts it among the judgments without a value; ``failure`` stays None, since
  nothing failed (it is not a parse or request failure).
Votes of different voters on the same item and pair are all judgments: one database is one source, and records of
the same identity within one source all count (analysis.records).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..arena.store import Vote, read_votes
from ..stats.style import answer_counts
from ..types import LEFT_OUT, Judgment

SQLITE_HEADER = b"SQLite format 3\x00"
KIND = "battles"
JUDGE = "human"
_VERDICT = {"A": ("win", 2.0), "B": ("loss", 1.0), "tie": ("tie", 1.5), "both_bad": ("tie", 1.5)}


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


@dataclass(frozen=True)
class VoteCounts:
    """How an arena's votes split: counted in the ranking, flagged (identity leak), consistency repeats."""

    n_votes: int
    n_counted: int
    n_flagged: int
    n_checks: int


def vote_counts(votes: list[Vote]) -> VoteCounts:
    checks = sum(v.check_of is not None for v in votes)
    flagged = sum(v.flagged is not None and v.check_of is None for v in votes)
    return VoteCounts(len(votes), sum(v.counted for v in votes), flagged, checks)


def judgment(vote: Vote) -> Judgment:
    verdict, preference = _VERDICT[vote.winner]
    mine, theirs = answer_counts(vote.answer_a), answer_counts(vote.answer_b)
    return Judgment(
        benchmark=vote.benchmark, item_id=vote.item_id, category=vote.category, model=vote.model_a, judge=JUDGE,
        turn=vote.turn, kind=KIND, opponent=vote.model_b, verdict_ab=verdict, verdict_ba=None,
        preference=preference, raw=(vote.winner,),
        error=None if vote.flagged is None else f"{LEFT_OUT}{vote.flagged}",
        failure=None if vote.flagged is None else "excluded",
        length=sum(map(len, vote.answer_a)), opponent_length=sum(map(len, vote.answer_b)),
        headers=mine.headers, lists=mine.lists, bold=mine.bold, opponent_headers=theirs.headers,
        opponent_lists=theirs.lists, opponent_bold=theirs.bold)


def judgments(path: Path) -> list[Judgment]:
    """The arena database's votes as judgments (consistency repeats left out; flagged votes with an error)."""
    return [judgment(v) for v in read_votes(path) if v.check_of is None]
