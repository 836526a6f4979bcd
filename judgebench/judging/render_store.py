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
before its batch leaves for the file. A store that held nothing when it opened (a run's first pass) asks the file only
for keys it put itself, until another process writes to it: every other look-up would miss. A look-up not made is a
prompt rendered again, never another prompt. A system message many prompts share is kept once, each of them naming
its sha256, and read only when its text has that sha256.

A run opens the store with ``kept_beside(cache_path)``; renders outside one (a dry run's check, a notebook) use the
in-process memo alone. The store is an optimisation: a store that cannot be opened or written is not used, and the
run renders as it always did (the request cache beside it reports a folder that cannot be written).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import sqlite3
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import orjson

from ..credentials import redactor

Messages = tuple[tuple[str, str], ...]

# Rows in the order they were written (``seq``: a new row goes at the table's end, beside the last ones, so a batch
# writes few pages), found through a unique index of the key's first 8 bytes (``_row_id``), the whole key kept to
# check. The layout before (``prompts``, the row id being the key's first 8 bytes) put each new row on a page of its
# own somewhere in the table: a batch of 256 wrote about as many pages, and a row cost the writer's thread 19 us of
# CPU at 8,000 rows, 29 us at 50,000 (measured; 5 and 7 us in this layout, a look-up the same). The layout before that
# (``renders``) kept at most about 1 KB of a row in its page. A file made by an older version keeps its tables,
# unread: their entries are misses, rendered again. AUTOINCREMENT: a row's ``seq`` is never given twice, so the
# largest one given (in sqlite_sequence) says whether anyone wrote since (``RenderStore._write``).
_TABLE = "prompts2"
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS {_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER NOT NULL UNIQUE, "
           "key BLOB NOT NULL, shared BLOB, messages BLOB NOT NULL)")
# A system message that the renders of a task share (their instructions: what varies with the answers is in the user
# message), about two thirds of a row, is kept once in its own table, found by the first 8 bytes of its sha256: a row
# that shows it names its whole sha256 (``shared``) and holds null in its place. A text is read only when its sha256
# is the one named. A system message is shared once a store puts it a second time (the one before is kept whole).
_TEXTS = "texts2"
_TEXTS_SCHEMA = f"CREATE TABLE IF NOT EXISTS {_TEXTS} (id INTEGER PRIMARY KEY, text BLOB NOT NULL)"
# Shared texts a store remembers (those it put, those it read and checked): the system messages of a few tasks.
_MOST_SHARED = 64
ROLES = ("system", "user")
# New renders are written this many at a time (and the rest when the run ends): one transaction, not one each. One
# batch may be waiting while the one before is written: at most 512 renders are in memory only.
WRITE_BATCH = 256


def path_beside(cache_path: Path) -> Path:
    """The store's file next to a request cache: ``cache.sqlite`` -> ``cache.renders.sqlite``."""
    return cache_path.with_name(f"{cache_path.stem}.renders{cache_path.suffix}")


def encode(messages: Messages, shared: bool = False) -> bytes | None:
    """The stored form of a prompt, with null for its first message's text where that is ``shared`` (kept apart);
    None for text JSON cannot hold as UTF-8 (a lone surrogate): not stored."""
    try:
        return orjson.dumps(((messages[0][0], None), *messages[1:]) if shared else messages)
    except orjson.JSONEncodeError:
        return None


def decode(payload: bytes, shared: str | None = None) -> Messages | None:
    """A stored prompt (its first message's text ``shared``, where the row names one), or None for an entry that is
    damaged or of another shape."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not list or not data:  # (orjson makes exact lists and strs)
        return None
    if shared is not None:  # the first message is a system message whose text is null, and only that one
        first = data[0]
        if type(first) is not list or len(first) != 2 or first[0] != "system" or first[1] is not None:
            return None
        first[1] = shared
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


def _digest(text: str) -> bytes | None:
    """sha256 of a text's UTF-8; None where it has none (a lone surrogate)."""
    try:
        return hashlib.sha256(text.encode()).digest()
    except UnicodeEncodeError:
        return None


def _row_id(key: bytes) -> int:
    """The row of ``key``: its first 8 bytes as a signed 64-bit integer (SQLite's rowid). Two keys that share them
    share a row: the later replaces the earlier, which is then rendered again."""
    return int.from_bytes(key[:8], "big", signed=True)


_TIMEOUT_S = 5


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=_TIMEOUT_S, isolation_level=None, check_same_thread=False)


def _wal(db: sqlite3.Connection) -> None:
    """The file in WAL mode. Another process making the same new file at this moment holds it, and switching the
    journal mode does not wait as ordinary statements do (the busy timeout): waited for here, as long (measured: of
    four processes opening a new store at once, 25 times, 9 lost it, each with a warning to delete the file)."""
    deadline = time.monotonic() + _TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# A store that held no prompt when it opened, and that no other process has written to since, holds only what it put
# itself: a look-up of a key it never put cannot hit, and is not made (in a run's first pass, every look-up would be
# a miss). The keys it put are kept as bits of this filter (one bit a key, by the key's row id): a clear bit is a key
# never put; a set one is looked up as ever (another key may share the bit). 256 KB, however many keys.
_FILTER_BITS = 1 << 21


def _given(db: sqlite3.Connection) -> int | None:
    """The largest ``seq`` ever given in the table (0 before its first row): it grows with every row written. None
    where the file says something else there (it was edited by hand): anyone may have written."""
    found = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (_TABLE,)).fetchone()
    if found is None:
        return 0
    return found[0] if type(found[0]) is int else None


class RenderStore:
    """A persistent map from a render's key to its messages (SQLite, WAL: several processes may share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Renders not yet handed to the writer, and the batch it is writing now: both are read as stored.
        self._pending: dict[bytes, tuple[Messages, bytes | None, bytes]] = {}
        self._in_flight: dict[bytes, tuple[Messages, bytes | None, bytes]] = {}
        # Shared texts: those put (text -> sha256) and those to write with the next batch (sha256 -> text), the
        # last system message put (shared when put again), and the texts read and checked (sha256 -> text, bytes).
        self._shared: dict[str, bytes] = {}
        self._texts_pending: dict[bytes, str] = {}
        self._last_system: str | None = None
        self._texts: dict[bytes, tuple[str, int]] = {}
        self._writing: Future[None] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._db = _connect(path)
        try:
            _wal(self._db)
            self._db.execute("PRAGMA synchronous=NORMAL")
            # No memory-mapped reads: the pages a run touched count in its resident memory, and a 100,000-item run's
            # store is a few hundred MB (measured: peak RSS 429 MB with a 256 MB map, 319 MB without).
            self._db.execute(_SCHEMA)
            self._db.execute(_TEXTS_SCHEMA)
            # Whether the file holds any prompt, and the last row given, in one snapshot: a row another process
            # writes after it gives a larger one.
            self._db.execute("BEGIN")
            try:
                empty = not self._db.execute(f"SELECT seq, id, key, shared, messages FROM {_TABLE} LIMIT 1").fetchall()
                self._db.execute(f"SELECT id, text FROM {_TEXTS} LIMIT 1").fetchall()
                self._given = _given(self._db)
            finally:
                self._db.execute("COMMIT")
            # The keys this store put, while they are all it can hold (``_FILTER_BITS``); None: look every key up.
            self._ours: bytearray | None = (bytearray(_FILTER_BITS // 8) if empty and self._given is not None
                                            else None)
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
        row_id = _row_id(key)
        ours = self._ours
        if ours is not None:
            bit = row_id & (_FILTER_BITS - 1)
            if not ours[bit >> 3] & (1 << (bit & 7)):
                return None  # never put, and the file holds only what this store put
        row = self._db.execute(f"SELECT key, shared, messages FROM {_TABLE} WHERE id = ? AND length(messages) <= ?",
                               (row_id, most_bytes)).fetchone()
        if row is None or row[0] != key or not isinstance(row[2], bytes):
            return None  # none, or another key's entry (the same first 8 bytes)
        if row[1] is None:
            return decode(row[2])
        shared = self._text(row[1], most_bytes - len(row[2]))
        return decode(row[2], shared) if shared is not None else None

    def _text(self, digest: object, most_bytes: int) -> str | None:
        """The shared text of sha256 ``digest``, if it is at most ``most_bytes`` long (as UTF-8); None where there is
        none, or what is kept does not have that sha256."""
        if type(digest) is not bytes or len(digest) != 32:
            return None
        found = self._texts.get(digest)
        if found is None:
            row = self._db.execute(f"SELECT text FROM {_TEXTS} WHERE id = ? AND length(text) <= ?",
                                   (_row_id(digest), most_bytes)).fetchone()
            if row is None or not isinstance(row[0], bytes) or hashlib.sha256(row[0]).digest() != digest:
                return None
            try:
                found = (row[0].decode(), len(row[0]))
            except UnicodeDecodeError:
                return None
            self._remember(digest, found)
        return found[0] if found[1] <= most_bytes else None

    def _remember(self, digest: bytes, text: tuple[str, int]) -> None:
        if len(self._texts) >= _MOST_SHARED:
            self._texts.clear()
        self._texts[digest] = text

    def _share(self, messages: Messages) -> bytes | None:
        """The sha256 of the prompt's system message where it is kept apart (``_TEXTS``): one this store put before."""
        if messages[0][0] != "system":
            return None
        text = messages[0][1]
        digest = self._shared.get(text)
        if digest is None:
            if text != self._last_system:
                self._last_system = text
                return None
            digest = _digest(text)
            if digest is None:
                return None
            if len(self._shared) >= _MOST_SHARED:
                self._shared.clear()
            self._shared[text] = digest
            self._texts_pending[digest] = text
            self._remember(digest, (text, len(text.encode())))
        return digest

    def put(self, key: bytes, messages: Messages) -> None:
        shared = self._share(messages)
        payload = encode(messages, shared is not None)
        if payload is None:
            return
        ours = self._ours
        if ours is not None:
            bit = _row_id(key) & (_FILTER_BITS - 1)
            ours[bit >> 3] |= 1 << (bit & 7)
        self._pending[key] = (messages, shared, payload)
        if len(self._pending) >= WRITE_BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        """The pending renders to the writer, once it has written the batch before (raising what that met), less
        any that holds a secret (rendered every time instead: the store is a file, and no file keeps a key)."""
        self._wait()
        pending, self._pending = self._pending, {}
        texts, self._texts_pending = self._texts_pending, {}
        clean = redactor()
        rows = sorted((_row_id(key), key, shared, payload) for key, (messages, shared, payload) in pending.items()
                      if all(clean(text) == text for _, text in messages))
        shared_rows = sorted((_row_id(digest), text.encode()) for digest, text in texts.items()
                             if clean(text) == text)
        self._in_flight = pending
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgebench-render-store")
        self._writing = self._writer.submit(self._write, rows, shared_rows)

    def _write(self, rows: list[tuple[int, bytes, bytes | None, bytes]], shared: list[tuple[int, bytes]]
               ) -> None:
        """One transaction (in the writer's thread), rows in the index's order: each page they share is written
        once. While the store looks up only what it put (``_ours``), a row given since its last transaction is
        another process's: from then on every key is looked up."""
        if not rows and not shared:
            return
        db = self._write_db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._ours is not None and (self._given is None or _given(db) != self._given):
                self._ours = None
            # The texts first: a row is never read without the text it names (one transaction, besides).
            db.executemany(f"INSERT OR REPLACE INTO {_TEXTS} (id, text) VALUES (?, ?)", shared)
            db.executemany(f"INSERT OR REPLACE INTO {_TABLE} (id, key, shared, messages) VALUES (?, ?, ?, ?)", rows)
            if self._ours is not None:
                self._given = _given(db)
                if self._given is None:
                    self._ours = None
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
        return int(self._db.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0]) + len(self._pending)

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
