"""Rendered judge prompts kept on disk beside the request cache, so a rerun reads each prompt instead of rendering
it again (a render is a pure function of its templates and its variables: judging.prompts).

The key (``prompts.stored_key``) is a sha256 of everything a render depends on: the code that renders (the modules
of the sandbox and the renderer, jinja2's version), the name and the content hash of every template the render
reaches (the file, what it extends, includes or imports), and the variables' exact JSON. An edited template, include
or input is a new key, never a stale render. Only renders that succeeded are stored: a refused render is refused
again on every run. Entries that do not read back as a prompt are misses (rendered again, and replaced). A render
that holds a secret (an answer that echoes a key: credentials.redact) is never stored: nothing on disk keeps a key.

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
# New renders are written this many at a time (and the rest when the run ends): one transaction, not one each.
WRITE_BATCH = 512


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


class RenderStore:
    """A persistent map from a render's key to its messages (SQLite, WAL: several processes may share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: dict[bytes, bytes] = {}
        self._db = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # No memory-mapped reads: the pages a run touched count in its resident memory, and a 100,000-item run's
            # store is a few hundred MB (measured: peak RSS 429 MB with a 256 MB map, 319 MB without).
            self._db.execute(_SCHEMA)
            self._db.execute("SELECT id, key, messages FROM prompts LIMIT 1").fetchall()
        except sqlite3.Error:
            self._db.close()
            raise

    def get(self, key: bytes, most_bytes: int) -> Messages | None:
        """The stored render of ``key``; None where there is none, or the entry is longer than ``most_bytes`` (no
        render within the sandbox's output limit is: the entry is forged or damaged, and not read)."""
        waiting = self._pending.get(key)
        if waiting is not None:
            return decode(waiting)
        row = self._db.execute("SELECT key, messages FROM prompts WHERE id = ? AND length(messages) <= ?",
                               (_row_id(key), most_bytes)).fetchone()
        if row is None or row[0] != key or not isinstance(row[1], bytes):
            return None  # none, or another key's entry (the same first 8 bytes)
        return decode(row[1])

    def put(self, key: bytes, messages: Messages) -> None:
        clean = redactor()
        if any(clean(text) != text for _, text in messages):
            return  # rendered every time instead: the store is a file, and no file keeps a key
        payload = encode(messages)
        if payload is None:
            return
        self._pending[key] = payload
        if len(self._pending) >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._db.in_transaction:  # a read transaction (``reading``) is open: written when it ends
            return
        pending, self._pending = self._pending, {}
        if not pending:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO prompts (id, key, messages) VALUES (?, ?, ?)",
                                 [(_row_id(key), key, payload) for key, payload in pending.items()])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Look-ups inside the block share one read transaction: one lock of the WAL and one snapshot for a window of
        prompts, not one each (renders stored meanwhile are written when it ends)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")
        if len(self._pending) >= WRITE_BATCH:
            self.flush()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM prompts").fetchone()[0]) + len(self._pending)

    def close(self) -> None:
        try:
            self.flush()
        finally:
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
