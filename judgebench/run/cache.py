"""The request cache: SQLite in WAL mode, keyed by ChatRequest.cache_key(). Only accepted replies are stored,
so a failure or an unparseable verdict is asked again on the next run.

Several processes may share one cache: before sending a request a process *claims* it; another process that
needs the same request waits for the reply instead of paying for it again. A claim expires, so a process that
was killed blocks nobody for long.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import asdict, replace
from pathlib import Path

from ..errors import ResultsError
from ..secrets import redact
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


class Cache:
    """A persistent map from request hash to reply. Safe for several processes (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._owner = uuid.uuid4().hex
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        deadline = time.monotonic() + 30
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._db.execute("SELECT key, model, reply, created FROM replies LIMIT 1").fetchall()
                break
            except sqlite3.OperationalError as exc:
                # Another process creating the same cache at this moment holds it: wait, as the busy timeout
                # does for ordinary statements (it does not cover switching the journal mode).
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._unusable(exc) from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None

    def get(self, request: ChatRequest) -> ChatReply | None:
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (request.cache_key(),)).fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
        except json.JSONDecodeError:
            return None  # a damaged entry is a miss: the request is asked again and the entry replaced
        data["logprobs"] = tuple((token, tuple((alt, lp) for alt, lp in alternatives))
                                 for token, alternatives in data.get("logprobs", ()))
        return replace(ChatReply(**data), from_cache=True)

    def put(self, request: ChatRequest, reply: ChatReply) -> None:
        # Only what the server said is stored: the request's endpoint (and so nothing secret) is not.
        payload = redact(json.dumps({k: v for k, v in asdict(reply).items() if k != "from_cache"}))
        self._db.execute(
            "INSERT OR REPLACE INTO replies (key, model, reply, created) VALUES (?, ?, ?, ?)",
            (request.cache_key(), request.endpoint.model, payload, time.time()),
        )

    def _unusable(self, exc: Exception) -> ResultsError:
        self._db.close()
        return ResultsError(f"{self.path}: not a usable judgebench cache ({exc}); move it aside (the next run "
                            "rebuilds it, asking every request again) or pass another --cache")

    def claim(self, request: ChatRequest, ttl_s: float) -> bool:
        """Claim a request for this process for ``ttl_s`` seconds: True if it is ours to send (unclaimed, ours
        already, or another's claim expired), False while another process holds it."""
        now = time.time()
        with self._db:
            self._db.execute("DELETE FROM claims WHERE key = ? AND expires < ?", (request.cache_key(), now))
            self._db.execute("INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                             (request.cache_key(), self._owner, now + ttl_s))
            row = self._db.execute("SELECT owner FROM claims WHERE key = ?", (request.cache_key(),)).fetchone()
        return row is not None and row[0] == self._owner

    def release(self, request: ChatRequest) -> None:
        """Give up a claim (the reply is stored, or the request failed and another process may try)."""
        self._db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (request.cache_key(), self._owner))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self._db.close()
