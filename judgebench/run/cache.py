"""The request cache: SQLite in WAL mode, keyed by ChatRequest.cache_key(). Only accepted replies are stored,
so a failure or an unparseable verdict is asked again on the next run.

Several processes may share one cache: before sending a request a process *claims* it; another process that
needs the same request waits for the reply instead of paying for it again. A claim expires, so a process that
was killed blocks nobody for long.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..credentials import redact, redactor
from ..errors import ResultsError, os_fault, sqlite_fault
from ..types import ChatReply, ChatRequest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    reply TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


# SQLite takes at most 32,766 parameters a statement (999 before 3.32).
_CHUNK = 500


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start:start + _CHUNK]


def encode_reply(reply: ChatReply, clean: Callable[[str], str] = redact) -> str:
    """What is stored of a reply: what the server said (never the request's endpoint, so nothing secret), passed
    through ``clean`` (``redact``, or a batch's ``redactor()``)."""
    value = {
        "text": reply.text, "finish_reason": reply.finish_reason, "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens, "latency_s": reply.latency_s,
        "logprobs": [[token, [list(a) for a in alternatives]] for token, alternatives in reply.logprobs],
        "reasoning": reply.reasoning,
    }
    # orjson where it writes what json reads back the same (several times faster): not a log-probability of -inf,
    # which it would write as null, nor a lone surrogate a server sent (valid JSON, not storable UTF-8), which it
    # refuses; those are written by json, escaped.
    if all(math.isfinite(lp) for _, alternatives in reply.logprobs for _, lp in alternatives):
        with contextlib.suppress(orjson.JSONEncodeError):
            return clean(orjson.dumps(value).decode("utf-8"))
    return clean(json.dumps(value, ensure_ascii=True))


def _loads(payload: str) -> Any:
    """orjson where it reads the payload (several times faster), else the json module: what orjson refuses and json
    takes (an escaped lone surrogate, NaN, an integer past 64 bits) reads as it always did."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def decode_reply(payload: str) -> ChatReply | None:
    """A stored reply, or None for an entry that is damaged or of another shape (a miss: asked again)."""
    try:
        data = _loads(payload)
        stored = data.get("logprobs", ())
        logprobs = () if stored == [] or stored == () else tuple(  # (most replies: none)
            (str(token), tuple((str(alt), float(lp)) for alt, lp in alternatives)) for token, alternatives in stored)
        text, finish_reason, reasoning = data["text"], data.get("finish_reason"), data.get("reasoning")
        prompt_tokens, completion_tokens = data.get("prompt_tokens"), data.get("completion_tokens")
        latency_s = data.get("latency_s", 0.0)
    except (json.JSONDecodeError, TypeError, ValueError, AttributeError, KeyError, RecursionError):
        return None
    typed = (isinstance(text, str) and (finish_reason is None or isinstance(finish_reason, str))
             and (prompt_tokens is None or (isinstance(prompt_tokens, int) and not isinstance(prompt_tokens, bool)))
             and (completion_tokens is None
                  or (isinstance(completion_tokens, int) and not isinstance(completion_tokens, bool)))
             and isinstance(latency_s, (int, float)) and (reasoning is None or isinstance(reasoning, str)))
    if not typed:
        return None
    return ChatReply(text=text, finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                     completion_tokens=completion_tokens, latency_s=latency_s, logprobs=logprobs, reasoning=reasoning,
                     from_cache=True)


def _rows(replies: Sequence[tuple[str, str, ChatReply]], now: float) -> list[tuple[str, str, str, float]]:
    """The rows of ``(key, model, reply)`` entries, encoded before the transaction (it holds the database)."""
    if not replies:
        return []
    clean = redactor()
    return [(key, model, encode_reply(reply, clean), now) for key, model, reply in replies]


CHOOSE = "choose another --cache"


def cache_fault(path: Path, exc: sqlite3.Error | OSError) -> ResultsError:
    """One line for a cache that cannot be used: the disk, the file's permissions or its place (say so, and what to
    do: its content is fine, so never move it aside), or the file itself, damaged or not a cache (move it aside)."""
    if isinstance(exc, OSError):
        return os_fault(exc, path, CHOOSE) or ResultsError(f"{path}: cannot use the request cache ({exc})")
    return sqlite_fault(exc, path, CHOOSE, "the request cache") or ResultsError(
        f"{path}: not a usable judgebench cache ({exc}); move it aside (the next run rebuilds it, asking every "
        "request again) or pass another --cache")


_HOST = socket.gethostname().replace("/", "_")

# The WAL's size, in pages, past which it is copied into the database (SQLite's own automatic checkpoint's default).
CHECKPOINT_PAGES = 1000


class _Checkpointer:
    """Copies a cache's WAL into its database (a checkpoint, PASSIVE as SQLite's automatic one: it waits for no lock
    and holds up no transaction) on a thread of its own with a connection of its own, once the WAL has grown past
    CHECKPOINT_PAGES. SQLite's automatic checkpoint runs inside the commit that passes the limit, on the event loop's
    thread, and fsyncs twice there (measured: ten times a run of 8,000 judgments, 5-25 ms each on a busy disk).
    A checkpoint that fails is tried again after the next commit; the last connection closed checkpoints whatever is
    left, as before.

    The WAL starts again from its beginning (and is cut back to the limit) only when a transaction begins with every
    frame in it copied. Commits that follow each other closer than a checkpoint takes add frames while the thread
    copies, so the WAL may never start again and grows with every commit (measured: 1.4 GB past a 913 MB database in
    20 s of back-to-back commits, 34 MB with 2 ms between them; 4 MB at most with SQLite's own). Past
    ``OVERDUE`` times the limit, a checkpoint that the thread has not made in time is made by the committing connection
    (``db``), between its transactions, as SQLite's own would: it copies every frame, and the next transaction starts
    the WAL again."""

    OVERDUE = 4

    def __init__(self, path: Path, limit_bytes: int, db: sqlite3.Connection) -> None:
        self._path = path
        self._wal = path.with_name(path.name + "-wal")
        self._limit = limit_bytes
        self._db = db
        self._thread: threading.Thread | None = None

    def after_commit(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        try:
            size = os.stat(self._wal).st_size
        except OSError:
            return
        if size <= self._limit:
            return
        if size > self.OVERDUE * self._limit:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            return
        self._thread = threading.Thread(target=self._checkpoint, name="judgebench-cache-checkpoint", daemon=True)
        self._thread.start()

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error, OSError):
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                db.close()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _owner_ended(owner: str) -> bool:
    """True for a claim owner (host/pid/random) that was a process of this host and is gone. An owner of another
    host, of an older format, or whose process id is alive (or reused) is not: its claims expire as before."""
    host, _, rest = owner.partition("/")
    pid_text, _, _ = rest.partition("/")
    if host != _HOST or not pid_text.isdigit() or int(pid_text) in (0, os.getpid()):
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False
    return False


class Cache:
    """A persistent map from request hash to reply. Safe for several processes (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # host/pid/random: a claim whose owner is a process of this host that has ended is taken at once, not waited
        # out (a run killed mid-way leaves its claims; a rerun would otherwise sit idle until they expire).
        self._owner = f"{_HOST}/{os.getpid()}/{uuid.uuid4().hex}"
        if path.exists() and not path.is_file():  # a device or a pipe: SQLite would put its journal beside it
            raise ResultsError(f"{path}: not a regular file, so not a cache: choose another --cache (a file path)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise cache_fault(path, exc) from None
        deadline = time.monotonic() + 30
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._db.execute("SELECT key, model, reply, created FROM replies LIMIT 1").fetchall()
                # The checkpointer's thread copies the WAL into the database, not the committing connection; a WAL
                # it emptied is cut back to the limit when next written to, so past it, its size is what waits.
                limit = CHECKPOINT_PAGES * int(self._db.execute("PRAGMA page_size").fetchone()[0])
                self._db.execute("PRAGMA wal_autocheckpoint=0")
                self._db.execute(f"PRAGMA journal_size_limit={limit}")
                break
            except sqlite3.OperationalError as exc:
                # Another process creating the same cache at this moment holds it: wait, as the busy timeout
                # does for ordinary statements (it does not cover switching the journal mode).
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._unusable(exc) from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None
        # (By its absolute path: the same file if the process changes directory.)
        self._checkpointer = _Checkpointer(path.absolute(), limit, self._db)

    def get(self, request: ChatRequest) -> ChatReply | None:
        return self.get_many([request.cache_key()]).get(request.cache_key())

    def get_many(self, keys: Sequence[str]) -> dict[str, ChatReply]:
        """The stored replies of those ``keys`` that have one."""
        found: dict[str, ChatReply] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            for key, payload in self._db.execute(f"SELECT key, reply FROM replies WHERE key IN ({marks})", chunk):
                reply = decode_reply(payload)
                if reply is not None:  # a damaged entry is a miss: asked again, and the entry replaced
                    found[key] = reply
        return found

    def put(self, request: ChatRequest, reply: ChatReply) -> None:
        self.write_many([(request.cache_key(), request.endpoint.model, reply)], ())

    def write_many(self, replies: Sequence[tuple[str, str, ChatReply]], releases: Sequence[str]) -> None:
        """Store ``(key, model, reply)`` entries and give up claims, in one transaction: a runner writes what a
        moment's worth of requests produced at once instead of one transaction per request."""
        now = time.time()
        rows = _rows(replies, now)
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO replies (key, model, reply, created) VALUES (?, ?, ?, ?)",
                                 rows)
            self._db.executemany("DELETE FROM claims WHERE key = ? AND owner = ?",
                                 [(key, self._owner) for key in releases])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): a look-up and the claims that follow it see
        no other process's write in between, and many rows cost one commit instead of one each."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._checkpointer.after_commit()

    def _unusable(self, exc: sqlite3.Error) -> ResultsError:
        self._db.close()
        return cache_fault(self.path, exc)

    def exchange(self, replies: Sequence[tuple[str, str, ChatReply]], releases: Sequence[str],
                 lookups: Sequence[str], ttl_s: float) -> tuple[dict[str, ChatReply], set[str]]:
        """One transaction for a moment's worth of a runner's cache work: store ``replies`` and give up
        ``releases`` first (a process waiting on one of those claims then finds the reply), then look ``lookups``
        up and claim those not stored. Returns (the stored replies found, the keys now this process's to send)."""
        now = time.time()
        found: dict[str, ChatReply] = {}
        mine: set[str] = set()
        rows = _rows(replies, now)
        with self._transaction():
            if rows:
                self._db.executemany("INSERT OR REPLACE INTO replies (key, model, reply, created) VALUES (?, ?, ?, ?)",
                                     rows)
            if releases:
                self._db.executemany("DELETE FROM claims WHERE key = ? AND owner = ?",
                                     [(key, self._owner) for key in releases])
            for chunk in _chunks(lookups):
                marks = ",".join("?" * len(chunk))
                for key, payload in self._db.execute(f"SELECT key, reply FROM replies WHERE key IN ({marks})", chunk):
                    reply = decode_reply(payload)
                    if reply is not None:
                        found[key] = reply
                missing = [key for key in chunk if key not in found]
                if not missing:
                    continue
                mine |= self._claim_chunk(missing, now, ttl_s)
        return found, mine

    def claim(self, request: ChatRequest, ttl_s: float) -> bool:
        """Claim a request for this process for ``ttl_s`` seconds: True if it is ours to send (unclaimed, ours
        already, or another's claim expired), False while another process holds it."""
        return request.cache_key() in self.claim_many([request.cache_key()], ttl_s)

    def claim_many(self, keys: Sequence[str], ttl_s: float) -> set[str]:
        """Claim ``keys`` in one transaction; returns those that are now this process's to send."""
        now = time.time()
        mine: set[str] = set()
        with self._transaction():
            for chunk in _chunks(keys):
                mine |= self._claim_chunk(chunk, now, ttl_s)
        return mine

    def _claim_chunk(self, keys: Sequence[str], now: float, ttl_s: float) -> set[str]:
        """Inside a transaction: claim ``keys`` (unclaimed, expired, or claimed by a process of this host that has
        ended) and return those now this process's."""
        marks = ",".join("?" * len(keys))
        self._db.execute(f"DELETE FROM claims WHERE key IN ({marks}) AND expires < ?", (*keys, now))
        self._db.executemany("INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                             [(key, self._owner, now + ttl_s) for key in keys])
        held = dict(self._db.execute(f"SELECT key, owner FROM claims WHERE key IN ({marks})", keys))
        ended = {owner for owner in set(held.values()) - {self._owner} if _owner_ended(owner)}
        if ended:
            taken = [(key, owner) for key, owner in held.items() if owner in ended]
            self._db.executemany("UPDATE claims SET owner = ?, expires = ? WHERE key = ? AND owner = ?",
                                 [(self._owner, now + ttl_s, key, owner) for key, owner in taken])
            held.update((key, self._owner) for key, _ in taken)
        return {key for key, owner in held.items() if owner == self._owner}

    def release(self, request: ChatRequest) -> None:
        """Give up a claim (the reply is stored, or the request failed and another process may try)."""
        self.write_many((), [request.cache_key()])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self._checkpointer.close()
        self._db.close()
