"""The human arena's database: its schema (judgebench.arena.store writes it), its votes read as they were cast, and
read as judgments: each counted vote is one judgment of
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

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..stats.style import answer_counts
from ..types import LEFT_OUT, AnswerTraits, Failure, Judgment, JudgmentId, PairVerdict, pair_or_none

SQLITE_HEADER = b"SQLite format 3\x00"
KIND = "battles"
JUDGE = "human"
_VERDICT = {"A": ("win", 2.0), "B": ("loss", 1.0), "tie": ("tie", 1.5), "both_bad": ("tie", 1.5)}
APP = "judgebench-arena"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE voters (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_sha256 TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, revoked TEXT);
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY, voter_id INTEGER NOT NULL REFERENCES voters(id), created TEXT NOT NULL);
CREATE TABLE battles (
    id TEXT PRIMARY KEY, voter_id INTEGER NOT NULL REFERENCES voters(id), item_id TEXT NOT NULL,
    category TEXT NOT NULL, questions TEXT NOT NULL, model_a TEXT NOT NULL, model_b TEXT NOT NULL,
    answer_a TEXT NOT NULL, answer_b TEXT NOT NULL, created TEXT NOT NULL,
    flagged TEXT,                                  -- why an answer gives its model away, or NULL
    check_of TEXT REFERENCES battles(id));         -- a consistency check: the battle it repeats, sides swapped
CREATE INDEX battles_by_voter ON battles(voter_id);
CREATE TABLE votes (
    battle_id TEXT PRIMARY KEY REFERENCES battles(id), voter_id INTEGER NOT NULL REFERENCES voters(id),
    winner TEXT NOT NULL CHECK (winner IN ('A', 'B', 'tie', 'both_bad')), reason TEXT,
    created TEXT NOT NULL, day TEXT NOT NULL);
CREATE INDEX votes_by_voter_day ON votes(voter_id, day);
"""


@dataclass(frozen=True)
class BattleRow:
    """A battle as it was shown: ``model_a``'s answer on the left/first (A)."""

    id: str
    voter_id: int
    item_id: str
    category: str
    questions: tuple[str, ...]
    model_a: str
    model_b: str
    answer_a: tuple[str, ...]
    answer_b: tuple[str, ...]
    created: str
    flagged: str | None = None
    check_of: str | None = None

    def public(self) -> dict[str, object]:
        """What the page may see before the vote: no model name, nor anything it follows from."""
        return {"battle_id": self.id, "category": self.category, "questions": list(self.questions),
                "answer_a": list(self.answer_a), "answer_b": list(self.answer_b)}


@dataclass(frozen=True)
class Vote:
    """One vote, as ``read_votes`` gives it. ``turn``: the number of turns shown; ``flagged``: why the battle gave
    a model away (the vote is left out of the ranking), or None; ``check_of``: the battle this consistency check
    repeated, or None."""

    battle_id: str
    voter: str
    benchmark: str
    item_id: str
    category: str
    turn: int
    model_a: str
    model_b: str
    winner: str
    reason: str | None
    created: str
    flagged: str | None
    check_of: str | None
    answer_a: tuple[str, ...] = ()
    answer_b: tuple[str, ...] = ()

    @property
    def counted(self) -> bool:
        """Whether the vote enters the ranking: not flagged, not a consistency repeat."""
        return self.flagged is None and self.check_of is None


def connect_read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.row_factory = sqlite3.Row
    return conn


def meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}


def is_arena(conn: sqlite3.Connection) -> bool:
    try:
        return meta(conn).get("app") == APP
    except sqlite3.DatabaseError:
        return False


def battle_from_row(row: sqlite3.Row) -> BattleRow:
    return BattleRow(row["id"], row["voter_id"], row["item_id"], row["category"], tuple(json.loads(row["questions"])),
                     row["model_a"], row["model_b"], tuple(json.loads(row["answer_a"])),
                     tuple(json.loads(row["answer_b"])), row["created"], row["flagged"], row["check_of"])


def read_votes(path: Path | str) -> list[Vote]:
    """Every vote in the arena database at ``path`` (opened read-only), oldest first."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such arena database")
    try:
        conn = connect_read_only(path)
        try:
            if not is_arena(conn):
                raise DataError(f"{path}: not an arena database (no judgebench-arena schema)")
            benchmark = meta(conn)["benchmark"]
            rows = conn.execute("SELECT b.*, v.winner, v.reason, v.created AS voted, r.name AS voter "
                                "FROM votes v JOIN battles b ON b.id = v.battle_id JOIN voters r ON r.id = v.voter_id "
                                "ORDER BY v.created, v.battle_id").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: cannot read the arena database ({exc})") from exc
    votes = []
    for row in rows:
        battle = battle_from_row(row)
        votes.append(Vote(battle.id, row["voter"], benchmark, battle.item_id, battle.category,
                          len(battle.questions), battle.model_a, battle.model_b, row["winner"], row["reason"],
                          row["voted"], battle.flagged, battle.check_of, battle.answer_a, battle.answer_b))
    return votes


def battle_questions(path: Path) -> dict[str, tuple[str, ...]]:
    """Each battle's questions as shown, by battle id (``read_votes`` gives a vote's answers, not its questions)."""
    try:
        conn = connect_read_only(path)
        try:
            rows = conn.execute("SELECT id, questions FROM battles").fetchall()
        finally:
            conn.close()
        return {str(row["id"]): tuple(json.loads(row["questions"])) for row in rows}
    except (sqlite3.DatabaseError, json.JSONDecodeError, TypeError) as exc:
        raise DataError(f"{path}: cannot read the arena's battles ({exc})") from exc


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
        JudgmentId(vote.benchmark, "", JUDGE, vote.model_a, vote.model_b, vote.item_id, vote.turn), KIND,
        vote.category, pair_or_none(PairVerdict(verdict, None, preference)),
        None if vote.flagged is None else Failure("excluded", f"{LEFT_OUT}{vote.flagged}"),
        answer=AnswerTraits(sum(map(len, vote.answer_a)), None, mine.headers, mine.lists, mine.bold),
        opponent_answer=AnswerTraits(sum(map(len, vote.answer_b)), None, theirs.headers, theirs.lists, theirs.bold),
        raw=(vote.winner,))


def judgments(path: Path) -> list[Judgment]:
    """The arena database's votes as judgments (consistency repeats left out; flagged votes with an error)."""
    return [judgment(v) for v in read_votes(path) if v.check_of is None]
