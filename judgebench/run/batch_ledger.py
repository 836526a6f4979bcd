"""The ledger of submitted batches: two tables in the request cache's SQLite file, so that a batch outlives the run
(and the process) that submitted it. Any later run over the same cache finds it, polls it and collects it.

``batches`` maps a provider's batch id to its provider, its endpoint and its state; ``batch_requests`` maps each
request's cache key (the batch's custom_id) to the batch that carries it, then to its reply or error once the batch
has ended. A reply waits here until a run asks for that request: the runner checks it with the same parser as a
direct reply before it enters the cache, so a verdict that does not parse is asked again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..clients.batch.options import BatchResult, BatchState
from ..credentials import redact
from ..types import ChatReply
from .cache import cache_fault

# A request waits in its batch, then has a reply ("done") or does not ("failed": asked again by a later run).
RequestState = Literal["waiting", "done", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    state TEXT NOT NULL,
    n_requests INTEGER NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_requests (
    key TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    state TEXT NOT NULL,
    reply TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS batch_requests_by_batch ON batch_requests (batch);
"""


@dataclass(frozen=True)
class LedgerBatch:
    id: str
    provider: str
    endpoint: str
    state: BatchState
    n_requests: int
    created: float


@dataclass(frozen=True)
class LedgerEntry:
    """Where one request stands: in which batch, and its reply or error once that batch ended."""

    key: str
    batch: str
    state: RequestState
    reply: ChatReply | None
    error: str | None


def encode_reply(reply: ChatReply) -> str:
    return redact(json.dumps({k: v for k, v in asdict(reply).items() if k != "from_cache"}))


def decode_reply(text: str) -> ChatReply | None:
    try:
        data = json.loads(text)
        data["logprobs"] = tuple((token, tuple((alt, lp) for alt, lp in alternatives))
                                 for token, alternatives in data.get("logprobs", ()))
        return ChatReply(**data)
    except (json.JSONDecodeError, TypeError, ValueError, RecursionError):
        return None  # a damaged entry is no reply: the request is asked again


class Ledger:
    """Submitted batches and their requests, in the cache's SQLite file (its own connection; WAL, several
    processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise cache_fault(path, exc) from None
        try:
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise cache_fault(path, exc) from None

    def record(self, batch_id: str, provider: str, endpoint: str, keys: Sequence[str]) -> None:
        """A batch the provider accepted, with the cache keys it carries. Written the moment its id is known, so a
        process killed right after still leaves it to the next run. A key moves from any earlier batch to this one."""
        now = time.time()
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO batches (id, provider, endpoint, state, n_requests, message, "
                             "created, updated) VALUES (?, ?, ?, 'in_progress', ?, '', ?, ?)",
                             (batch_id, provider, endpoint, len(keys), now, now))
            self._db.executemany("INSERT OR REPLACE INTO batch_requests (key, batch, state, reply, error) "
                                 "VALUES (?, ?, 'waiting', NULL, NULL)", [(key, batch_id) for key in keys])

    def unfinished(self, endpoints: Iterable[str]) -> list[LedgerBatch]:
        """The batches of these endpoints that have not ended, oldest first."""
        wanted = sorted(set(endpoints))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(f"SELECT id, provider, endpoint, state, n_requests, created FROM batches "
                                f"WHERE state = 'in_progress' AND endpoint IN ({marks}) ORDER BY created, id",
                                wanted).fetchall()
        return [LedgerBatch(*row) for row in rows]

    def finish(self, batch_id: str, state: BatchState, results: Iterable[BatchResult], message: str = "") -> bool:
        """A batch ended: store each request's reply or error. Requests it carried with no result are failed (asked
        again). Only requests still carried by this batch are touched, and a batch ends once: False when another
        process had already ended it."""
        now = time.time()
        with self._db:
            ended = self._db.execute("UPDATE batches SET state = ?, message = ?, updated = ? "
                                     "WHERE id = ? AND state = 'in_progress'",
                                     (state, redact(message), now, batch_id)).rowcount
            if not ended:
                return False
            for result in results:
                if result.reply is not None:
                    self._db.execute("UPDATE batch_requests SET state = 'done', reply = ?, error = NULL "
                                     "WHERE key = ? AND batch = ? AND state = 'waiting'",
                                     (encode_reply(result.reply), result.key, batch_id))
                else:
                    self._db.execute("UPDATE batch_requests SET state = 'failed', error = ? "
                                     "WHERE key = ? AND batch = ? AND state = 'waiting'",
                                     (redact(result.error or "no result"), result.key, batch_id))
            self._db.execute("UPDATE batch_requests SET state = 'failed', error = ? "
                             "WHERE batch = ? AND state = 'waiting'",
                             (redact(f"no result in batch {batch_id} ({state}{': ' + message if message else ''})"),
                              batch_id))
        return True

    def entry(self, key: str) -> LedgerEntry | None:
        row = self._db.execute("SELECT key, batch, state, reply, error FROM batch_requests WHERE key = ?",
                               (key,)).fetchone()
        if row is None:
            return None
        reply = decode_reply(row[3]) if row[3] is not None else None
        state = row[2]
        if state == "done" and reply is None:
            state = "failed"
        return LedgerEntry(row[0], row[1], state, reply, row[4])

    def consume(self, key: str, batch_id: str) -> None:
        """A collected reply was handed to the run: it is in the cache now (or was rejected and is asked again)."""
        self._db.execute("DELETE FROM batch_requests WHERE key = ? AND batch = ?", (key, batch_id))

    def batch(self, batch_id: str) -> LedgerBatch | None:
        row = self._db.execute("SELECT id, provider, endpoint, state, n_requests, created FROM batches WHERE id = ?",
                               (batch_id,)).fetchone()
        return LedgerBatch(*row) if row else None

    def close(self) -> None:
        self._db.close()
