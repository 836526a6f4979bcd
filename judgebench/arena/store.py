"""The arena's SQLite database: voters (a hash of each invite token, never the token), sessions, the battles as
shown (question turns, both answers, which model on which side) and the votes. The database alone is enough to
read the votes later (formats.arena_db reads them, as votes and as judgments).

WAL mode with a busy timeout, so readers never block the server; every write that must not race (issuing a
battle, recording a vote) runs in ``BEGIN IMMEDIATE``, which takes the write lock before reading, so twenty
voters at once neither get the same battle twice nor have a vote counted twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import ConfigError, DataError, JudgebenchError, sqlite_fault

# The database's schema and reading it are the arena format's (formats.arena_db): the web app writes what the
# format reads, and imports it, never the reverse.
from ..formats.arena_db import (
    APP,
    SCHEMA_VERSION,
    BattleRow,
    Vote,
    battle_from_row,
    connect_read_only,
    is_arena,
    meta,
    read_votes,
)
from ..formats.arena_db import SCHEMA as _SCHEMA

WINNERS = ("A", "B", "tie", "both_bad")
MAX_NAME = 100
# Control, format (bidi overrides such as U+202E, zero-width joiners), surrogate and line/paragraph separator
# characters: a name with one could rewrite the terminal line `arena voters` prints.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# A session (the page's cookie) lasts as long as its cookie; the server checks its age on every use. A voter keeps
# at most MAX_SESSIONS_PER_VOTER (their newest): logging in again and again cannot grow the table.
SESSION_LIFETIME = timedelta(days=30)
MAX_SESSIONS_PER_VOTER = 20

class ArenaError(JudgebenchError):
    """A request the arena refuses; ``status`` is the HTTP status the API answers with."""

    status = 400


class BattleNotFound(ArenaError):
    status = 404


class AlreadyVoted(ArenaError):
    status = 409


class OverDailyCap(ArenaError):
    status = 429


class NoBattleLeft(ArenaError):
    status = 404


@dataclass(frozen=True)
class Voter:
    id: int
    name: str


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def connect(path: Path | str) -> sqlite3.Connection:
    """A read-write connection in autocommit mode (transactions are explicit: ``immediate``)."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that holds the write lock from its first read."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_db(path: Path, benchmark: str | None = None, task: str | None = None) -> sqlite3.Connection:
    """The arena database at ``path``, created when missing (``benchmark`` and ``task`` are then required). An
    existing database must be an arena's, of the same benchmark when ``benchmark`` is given."""
    created = not path.exists() or path.stat().st_size == 0
    if created and benchmark is None:
        raise DataError(f"{path}: no arena database here; `judgebench arena serve --db {path}` creates one")
    try:
        conn = connect(path)
        with immediate(conn):
            if created or not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                if not created:
                    raise DataError(f"{path}: an SQLite database, but not an arena's: give a new --db path")
                _create(conn, benchmark or "", task or "")
    except sqlite3.DatabaseError as exc:
        raise sqlite_fault(exc, path, "choose another --db", "the arena database") or \
            DataError(f"{path}: not an arena database ({exc}): give a new --db path") from None
    found = meta(conn)
    if found.get("app") != APP:
        raise DataError(f"{path}: an SQLite database, but not an arena's: give a new --db path")
    if int(found.get("schema_version", "0")) != SCHEMA_VERSION:
        raise DataError(f"{path}: arena schema version {found.get('schema_version')}, this judgebench reads "
                        f"{SCHEMA_VERSION}: use the judgebench that wrote it")
    if benchmark is not None and found.get("benchmark") != benchmark:
        raise ConfigError(f"{path}: this arena database holds votes on benchmark {found.get('benchmark')!r}, "
                          f"not {benchmark!r}: give another --db for this benchmark")
    return conn


def _create(conn: sqlite3.Connection, benchmark: str, task: str) -> None:
    # executescript would commit the open transaction; run the statements one by one inside it instead.
    for statement in _SCHEMA.split(";"):
        lines = [line.split("--")[0] for line in statement.splitlines()]
        if "".join(lines).strip():
            conn.execute("\n".join(lines))
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                     [("app", APP), ("schema_version", str(SCHEMA_VERSION)), ("benchmark", benchmark),
                      ("task", task), ("created", timestamp(now_utc()))])


# --- voters and sessions -------------------------------------------------------------------------------------

def unprintable(text: str) -> list[tuple[int, str]]:
    """The (position, character) of each control, format or separator character in ``text``."""
    return [(i, c) for i, c in enumerate(text) if unicodedata.category(c) in UNPRINTABLE_CATEGORIES]


def escaped(text: str) -> str:
    """``text`` for a terminal, each unprintable character as ``\\uXXXX`` (names stored before they were refused)."""
    bad = {i for i, _ in unprintable(text)}
    return "".join(f"\\u{ord(c):04x}" if i in bad else c for i, c in enumerate(text))


def check_name(name: str) -> str:
    """``name`` without surrounding blanks, or a one-line ConfigError saying what is wrong with it."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ConfigError(f"a voter's name must have 1 to {MAX_NAME} characters")
    found = unprintable(name)
    if found:
        position, char = found[0]
        # repr escapes the character, so the message cannot carry it to the terminal either.
        raise ConfigError(f"voter name {name!r} has a control or formatting character "
                          f"(U+{ord(char):04X}, {unicodedata.category(char)}) at position {position + 1}: "
                          "use printable characters only")
    return name


def add_voter(conn: sqlite3.Connection, name: str) -> str:
    """Invite ``name``: returns the token that admits them (only its sha256 is stored). A revoked voter is invited
    again under the same name (their votes stay theirs) with a new token; their old token stays refused."""
    name = check_name(name)
    token = "arena-" + secrets.token_urlsafe(32)
    with immediate(conn):
        row = conn.execute("SELECT id, revoked FROM voters WHERE name = ?", (name,)).fetchone()
        if row is not None and row["revoked"] is None:
            raise ConfigError(f"voter {name!r} is already invited: to give them a new token, revoke theirs "
                              f"(`judgebench arena revoke --db DB {name}`) and invite them again; or pick another "
                              "name")
        if row is not None:
            conn.execute("UPDATE voters SET token_sha256 = ?, revoked = NULL WHERE id = ?",
                         (token_hash(token), row["id"]))
        else:
            conn.execute("INSERT INTO voters (name, token_sha256, created) VALUES (?, ?, ?)",
                         (name, token_hash(token), timestamp(now_utc())))
    return token


def revoke_voter(conn: sqlite3.Connection, name: str) -> None:
    with immediate(conn):
        row = conn.execute("SELECT id FROM voters WHERE name = ? AND revoked IS NULL", (name,)).fetchone()
        if row is None:
            raise ConfigError(f"no voter {name!r} to revoke (`judgebench arena voters` lists them)")
        conn.execute("UPDATE voters SET revoked = ?, token_sha256 = token_sha256 || ':revoked' WHERE id = ?",
                     (timestamp(now_utc()), row["id"]))
        conn.execute("DELETE FROM sessions WHERE voter_id = ?", (row["id"],))


def voter_for_token(conn: sqlite3.Connection, token: str) -> Voter | None:
    """The voter a token admits, or None. The hash is looked up, then compared in constant time."""
    digest = token_hash(token)
    row = conn.execute("SELECT id, name, token_sha256 FROM voters WHERE token_sha256 = ? AND revoked IS NULL",
                       (digest,)).fetchone()
    if row is None or not hmac.compare_digest(row["token_sha256"], digest):
        return None
    return Voter(row["id"], row["name"])


def new_session(conn: sqlite3.Connection, voter: Voter, moment: datetime | None = None) -> str:
    """A session id for the page's cookie (stored hashed, like tokens). Expired sessions (everyone's) and the
    voter's sessions beyond their newest ``MAX_SESSIONS_PER_VOTER`` are deleted on the way."""
    moment = moment or now_utc()
    session = secrets.token_urlsafe(32)
    with immediate(conn):
        conn.execute("DELETE FROM sessions WHERE created < ?", (timestamp(moment - SESSION_LIFETIME),))
        conn.execute("INSERT INTO sessions (id_sha256, voter_id, created) VALUES (?, ?, ?)",
                     (token_hash(session), voter.id, timestamp(moment)))
        conn.execute("DELETE FROM sessions WHERE voter_id = ? AND rowid NOT IN (SELECT rowid FROM sessions "
                     "WHERE voter_id = ? ORDER BY created DESC, rowid DESC LIMIT ?)",
                     (voter.id, voter.id, MAX_SESSIONS_PER_VOTER))
    return session


def voter_for_session(conn: sqlite3.Connection, session: str, moment: datetime | None = None) -> Voter | None:
    """The voter of a session that has not expired (``SESSION_LIFETIME``), or None."""
    digest = token_hash(session)
    oldest = timestamp((moment or now_utc()) - SESSION_LIFETIME)
    row = conn.execute("SELECT v.id, v.name, s.id_sha256 FROM sessions s JOIN voters v ON v.id = s.voter_id "
                       "WHERE s.id_sha256 = ? AND s.created >= ? AND v.revoked IS NULL", (digest, oldest)).fetchone()
    if row is None or not hmac.compare_digest(row["id_sha256"], digest):
        return None
    return Voter(row["id"], row["name"])


def end_session(conn: sqlite3.Connection, session: str) -> None:
    conn.execute("DELETE FROM sessions WHERE id_sha256 = ?", (token_hash(session),))


# --- battles and votes ---------------------------------------------------------------------------------------

def insert_battle(conn: sqlite3.Connection, battle: BattleRow) -> None:
    conn.execute("INSERT INTO battles (id, voter_id, item_id, category, questions, model_a, model_b, answer_a, "
                 "answer_b, created, flagged, check_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (battle.id, battle.voter_id, battle.item_id, battle.category, json.dumps(list(battle.questions)),
                  battle.model_a, battle.model_b, json.dumps(list(battle.answer_a)),
                  json.dumps(list(battle.answer_b)), battle.created, battle.flagged, battle.check_of))


def pending_battle(conn: sqlite3.Connection, voter: Voter) -> BattleRow | None:
    row = conn.execute("SELECT b.* FROM battles b LEFT JOIN votes v ON v.battle_id = b.id "
                       "WHERE b.voter_id = ? AND v.battle_id IS NULL ORDER BY b.created LIMIT 1",
                       (voter.id,)).fetchone()
    return None if row is None else battle_from_row(row)


def votes_on_day(conn: sqlite3.Connection, voter_id: int, day: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM votes WHERE voter_id = ? AND day = ?",
                            (voter_id, day)).fetchone()[0])


def record_vote(conn: sqlite3.Connection, voter: Voter, battle_id: str, winner: str, reason: str | None,
                cap: int | None, moment: datetime) -> BattleRow:
    """Record ``voter``'s vote on their battle ``battle_id``; returns the battle (to reveal its models)."""
    day = moment.astimezone(timezone.utc).date().isoformat()
    with immediate(conn):
        row = conn.execute("SELECT * FROM battles WHERE id = ?", (battle_id,)).fetchone()
        if row is None or row["voter_id"] != voter.id:
            raise BattleNotFound("no such battle of yours: ask GET /api/battle for one")
        if conn.execute("SELECT 1 FROM votes WHERE battle_id = ?", (battle_id,)).fetchone():
            raise AlreadyVoted("this battle has been voted on already: each battle takes one vote")
        if cap is not None and votes_on_day(conn, voter.id, day) >= cap:
            raise OverDailyCap(f"you have cast today's {cap} votes (the cap per voter and UTC day): "
                               "thank you, come back tomorrow")
        conn.execute("INSERT INTO votes (battle_id, voter_id, winner, reason, created, day) VALUES (?, ?, ?, ?, ?, ?)",
                     (battle_id, voter.id, winner, reason, timestamp(moment), day))
    return battle_from_row(row)


__all__ = ["APP", "SCHEMA_VERSION", "AlreadyVoted", "ArenaError", "BattleNotFound", "BattleRow", "NoBattleLeft",
           "OverDailyCap", "Vote", "Voter", "battle_from_row", "connect", "connect_read_only", "is_arena", "meta",
           "open_db", "read_votes"]
