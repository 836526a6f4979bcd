"""Rendered judge prompts kept on disk beside the request cache, so a rerun reads each prompt instead of rendering
it again (a render is a pure function of its templates and its variables: judging.prompts).

The key (``prompts.stored_key``) is a sha256 of everything a render depends on: the code that renders (the modules
of the sandbox and the renderer, jinja2's version), the name and the content hash of every template the render
reaches (the file, what it extends, includes or imports), and the variables' exact JSON. An edited template, include
or input is a new key, never a stale render. Only renders that succeeded are stored: a refused render is refused
again on every run. Entries that do not read back as a prompt are misses (rendered again, and replaced). A render
that holds a secret (an answer that echoes a key: credentials.redact) is never stored: nothing on disk keeps a key.

New renders are written in batches by a thread of their own (SQLite lets go of the interpreter while it writes), so a
live run's event loop does not wait on the disk; at most ``2 * WRITE_BATCH`` renders (512, as when a batch of 512 was
written on the loop) are in memory only, and a run that ends writes them first. A render is checked for secrets
before its batch leaves for the file.

A run opens the store with ``kept_beside(cache_path)``; renders outside one (a dry run's check, a notebook) use the
in-process memo alone. The store is an optimisation: a store that cannot be opened or written is not used, and the
run renders as it always did (the request cache beside it reports a folder that cannot be written).
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import orjson

from ..credentials import redactor

Messages = tuple[tuple[str, str], ...]

# A rowid table, found by the key's first 8 bytes (``_row_id``), the whole key kept to check: a prompt of up to about
# 4 KB lies in its leaf page. The first layout (``renders``, a WITHOUT ROWID table keyed by the whole key) kept at most
# about 1 KB of a row in its page: every longer prompt, which is most prompts, took an overflow page of its own (an
# 8,000-prompt store of 1 KB prompts was 37.6 MB, not 10, and each look-up read two pages). A file made by an older
# version keeps its ``renders`` table, unread.
_SCHEMA = "CREATE TABLE IF NOT EXISTS prompts (id INTEGER PRIMARY KEY, key BLOB NOT NULL, messages BLOB NOT NULL)"
ROLES = ("system", "user")
# New renders are written this many at a time (and the rest when the run ends): one transaction, not one each. One
# batch may be waiting while the one before is written: at most 512 renders are in memory only.
WRITE_BATCH = 256


def path_beside(cache_path: Path) -> Path:
    """The store's file next to a request cache: ``cache.sqlite`` -> ``cache.renders.sqlite``."""
    return cache_path.with_name(f"{cache_path.stem}.renders{cache_path.suffix}")


def encode(messages: Messages) -> bytes | None:
    """The stored form of a prompt; None for text JSON cannot hold as UTF-8 (a lone surrogate): not stored."""
    try:
        return orjson.dumps(messages)
    except orjson.JSONEncodeError:
        return None


def decode(payload: bytes) -> Messages | None:
    """A stored prompt, or None for an entry that is damaged or of another shape."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not list or not data:  # (orjson makes exact lists and strs)
        return None
    user = False
    for message in data:
        if type(message) is not list or len(message) != 2 or type(message[1]) is not str:
            return None
        role = message[0]
        if role == "user":
            user = True
        elif role not in ROLES:
            return None
    return tuple(map(tuple, data)) if user else None


def _row_id(key: bytes) -> int:
    """The row of ``key``: its first 8 bytes as a signed 64-bit integer (SQLite's rowid). Two keys that share them
    share a row: the later replaces the earlier, which is then rendered again."""
    return int.from_bytes(key[:8], "big", signed=True)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)


class RenderStore:
    """A persistent map from a render's key to its messages (SQLite, WAL: several processes may share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Renders not yet handed to the writer, and the batch it is writing now: both are read as stored.
        self._pending: dict[bytes, tuple[Messages, bytes]] = {}
        self._in_flight: dict[bytes, tuple[Messages, bytes]] = {}
        self._writing: Future[None] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._db = _connect(path)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # No memory-mapped reads: the pages a run touched count in its resident memory, and a 100,000-item run's
            # store is a few hundred MB (measured: peak RSS 429 MB with a 256 MB map, 319 MB without).
            self._db.execute(_SCHEMA)
            self._db.execute("SELECT id, key, messages FROM prompts LIMIT 1").fetchall()
            # The writer's own connection (a connection is one transaction at a time): used by its thread alone.
            self._write_db = _connect(path)
        except sqlite3.Error:
            self._db.close()
            raise
        try:
            self._write_db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            self._write_db.close()
            self._db.close()
            raise

    def get(self, key: bytes, most_bytes: int) -> Messages | None:
        """The stored render of ``key``; None where there is none, or the entry is longer than ``most_bytes`` (no
        render within the sandbox's output limit is: the entry is forged or damaged, and not read)."""
        waiting = self._pending.get(key) or self._in_flight.get(key)
        if waiting is not None:
            return waiting[0]
        row = self._db.execute("SELECT key, messages FROM prompts WHERE id = ? AND length(messages) <= ?",
                               (_row_id(key), most_bytes)).fetchone()
        if row is None or row[0] != key or not isinstance(row[1], bytes):
            return None  # none, or another key's entry (the same first 8 bytes)
        return decode(row[1])

    def put(self, key: bytes, messages: Messages) -> None:
        payload = encode(messages)
        if payload is None:
            return
        self._pending[key] = (messages, payload)
        if len(self._pending) >= WRITE_BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        """The pending renders to the writer, once it has written the batch before (raising what that met), less
        any that holds a secret (rendered every time instead: the store is a file, and no file keeps a key)."""
        self._wait()
        pending, self._pending = self._pending, {}
        clean = redactor()
        rows = sorted((_row_id(key), key, payload) for key, (messages, payload) in pending.items()
                      if all(clean(text) == text for _, text in messages))
        self._in_flight = pending
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgebench-render-store")
        self._writing = self._writer.submit(self._write, rows)

    def _write(self, rows: list[tuple[int, bytes, bytes]]) -> None:
        """One transaction (in the writer's thread), rows in the table's order: each page they share is written
        once."""
        if not rows:
            return
        db = self._write_db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO prompts (id, key, messages) VALUES (?, ?, ?)", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _wait(self) -> None:
        """Until the batch being written is (raising the sqlite3.Error it met)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            try:
                writing.result()
            finally:
                self._in_flight = {}

    def flush(self) -> None:
        """Write every pending render now, and wait until it is written."""
        if self._pending:
            self._hand_over()
        self._wait()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Look-ups inside the block share one read transaction: one lock of the WAL and one snapshot for a window of
        prompts, not one each. Renders stored meanwhile go to the writer as its batches fill, as at any time: it
        writes through its own connection, which this snapshot does not hold back (a render it wrote meanwhile may
        read here as a miss, and is rendered again)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        self._wait()
        return int(self._db.execute("SELECT COUNT(*) FROM prompts").fetchone()[0]) + len(self._pending)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
            self._write_db.close()
            self._db.close()


_current: contextvars.ContextVar[RenderStore | None] = contextvars.ContextVar("judgebench_render_store",
                                                                            default=None)


def current() -> RenderStore | None:
    """The store of the run rendering now, if it has one."""
    return _current.get()


def _unusable(path: Path, error: BaseException) -> None:
    """Said once, on standard error: the run goes on without the store, rendering every prompt as before."""
    print(f"warning: the render store {path} cannot be used ({error}); prompts are rendered anew (delete the "
          "file to rebuild it)", file=sys.stderr, flush=True)


def get(key: bytes, most_bytes: int) -> Messages | None:
    """The stored render of ``key`` in the running store; None when there is none, or the store failed (it is then
    no longer used: the run renders)."""
    store = _current.get()
    if store is None:
        return None
    try:
        return store.get(key, most_bytes)
    except sqlite3.Error as error:
        _current.set(None)
        _unusable(store.path, error)
        return None


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """The running store's look-ups inside the block in one read transaction (``RenderStore.reading``)."""
    store = _current.get()
    if store is None:
        yield
        return
    try:
        held = store.reading()
        held.__enter__()
    except sqlite3.Error as error:
        _current.set(None)
        _unusable(store.path, error)
        yield
        return
    try:
        yield
    finally:
        try:
            held.__exit__(None, None, None)
        except sqlite3.Error as error:
            if _current.get() is store:
                _current.set(None)
                _unusable(store.path, error)


def put(key: bytes, messages: Messages) -> None:
    store = _current.get()
    if store is None:
        return
    try:
        store.put(key, messages)
    except sqlite3.Error as error:
        _current.set(None)
        _unusable(store.path, error)


@contextlib.contextmanager
def kept_beside(cache_path: Path) -> Iterator[RenderStore | None]:
    """Renders inside the block are looked up in, and stored to, the store beside the request cache at
    ``cache_path``; written and closed when the block ends, however it ends."""
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        store: RenderStore | None = RenderStore(path_beside(cache_path))
    except (OSError, sqlite3.Error) as error:
        store = None
        _unusable(path_beside(cache_path), error)
    token = _current.set(store)
    try:
        yield store
    finally:
        _current.reset(token)
        if store is not None:
            with contextlib.suppress(sqlite3.Error):
                store.close()
