"""Parsed judgment files, cached by content: `stats`, `leaderboard`, ``load()`` and the site parse a file once.

Where: ``$JUDGEBENCH_PARSE_CACHE`` if set (``off`` disables the cache), else ``parsed/`` in judgebench's user
cache directory (``$JUDGEBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/judgebench`` or ``~/.cache/judgebench``);
never beside the data, which may be read-only or shared.

The key names everything a parsed value depends on: the sha256 of the bytes parsed (every file read, as stored:
still compressed), the format they were read as, what else the reader was given (a FastChat file's categories),
this cache's schema, and a fingerprint of the code that parses (the source of ``judgebench.formats``,
``judgebench.judging`` and ``judgebench.types``, and the JSON library's version). A changed file, a changed
parser or a changed option is a different key: an entry is never stale, only unused.

An entry is MessagePack (msgspec, already what parses the JSON) of one typed record of plain values: text
columns as integer codes into the list of their distinct values, numbers as raw float64 arrays. Reading it is
data only: unlike a pickle, an entry written by someone else cannot run code. It is also fast (one read, one
checksum, one decode: the 42 AlpacaEval 2.0 files' judgments load in a few milliseconds, where an ``.npz`` of
the same arrays took tens, its zip members each opened and checked apart) and small (about 100 KB a file).
An entry starts with the sha256 of the rest, is written to a temporary file and renamed into place; an entry
that cannot be read back whole (truncated, a bad checksum, another schema or key, arrays of the wrong size) is
a miss, and the file is parsed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from ..version import __version__
from .table import NUMBER_COLUMNS, TEXT_COLUMNS, Columns, complete, n_rows

ENV_VAR = "JUDGEBENCH_PARSE_CACHE"
OFF = ("off", "0", "false", "no", "none")
SCHEMA = 3  # 3: AlpacaEval models named by their results folder; arena-bench-v1 keyed with its judge config
# The code that decides what a file parses to (readers, verdict parsers, the Judgment type, the markdown counts).
_PARSER_CODE = ("formats", "judging", "types.py", "stats/style.py")


def default_root() -> Path | None:
    """The cache directory the environment asks for, or None when ``$JUDGEBENCH_PARSE_CACHE`` turns it off."""
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting.lower() in OFF:
        return None
    if setting:
        return Path(setting).expanduser()
    from ..tasks.fetch import cache_dir

    return cache_dir() / "parsed"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of the parsing code's source, so that an entry written by other code is never served."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{__version__}|msgspec {msgspec.__version__}|numpy {np.__version__}".encode())
    for part in _PARSER_CODE:
        target = package / part
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for file in files:
            try:
                digest.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes())
            except OSError:  # installed without sources: the version string above still separates releases
                continue
    return digest.hexdigest()


@dataclass(frozen=True)
class ParseCache:
    """The parse cache at ``root``; ``root=None`` is the cache turned off (every get misses, put stores nothing)."""

    root: Path | None

    @classmethod
    def from_env(cls) -> ParseCache:
        return cls(default_root())

    def key(self, fmt: str, contents: Sequence[bytes], context: str = "") -> str:
        """The key of the value parsed as ``fmt`` from files with these bytes, given ``context`` (anything else
        the reader was given, as text)."""
        digest = hashlib.sha256(f"judgebench parse cache {SCHEMA}|{code_fingerprint()}|{fmt}".encode())
        for data in contents:
            digest.update(hashlib.sha256(data).digest())
        digest.update(hashlib.sha256(context.encode("utf-8", "surrogatepass")).digest())
        return digest.hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.root is None else self.root / key[:2] / f"{key}.msgpack"

    def get(self, key: str) -> dict[str, Any] | None:
        """The columns stored under ``key``, or None: not there, or not readable whole (then it is a miss)."""
        path = self._path(key)
        if path is None:
            return None
        try:
            return _decode(path.read_bytes(), key)
        except (OSError, msgspec.DecodeError, ValueError):
            return None

    def put(self, key: str, columns: Columns) -> bool:
        """Store ``columns`` under ``key`` (atomically); False when they were not stored: the cache is off or
        cannot be written (reading goes on without it), or a value has no exact stored form."""
        path = self._path(key)
        if path is None:
            return False
        data = _encode(columns, key)
        if data is None:
            return False
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{key[:16]}-", suffix=".tmp",
                                             delete=False) as tmp:
                temporary = tmp.name
                tmp.write(data)
            os.replace(temporary, path)
        except OSError:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            return False
        return True


class _Entry(msgspec.Struct, forbid_unknown_fields=True):
    """One stored value: text columns as int32 codes into their distinct values (-1: None), numbers as float64
    (NaN: None), turns as int64, ``empty`` as bool, each a raw little-endian array."""

    schema: int
    key: str
    rows: int
    text: dict[str, list[str]]
    codes: bytes
    numbers: bytes
    turn: bytes
    empty: bytes


_ENTRY_DECODER = msgspec.msgpack.Decoder(_Entry)
_DIGEST = 32  # an entry is the sha256 of its body, then its body
# Exactly these (not bool, not NumPy scalars): what comes back from a float64 is then the same value.
_NUMBER_TYPES = {int, float, type(None)}


def _encode(columns: Columns, key: str) -> bytes | None:
    """An entry's bytes, or None when a value would not come back exactly (a text column holding something
    other than text or None, a number column something other than a number or None, a turn not an int)."""
    n = n_rows(columns)
    columns = complete(columns)
    text: dict[str, list[str]] = {}
    codes = np.empty((len(TEXT_COLUMNS), n), dtype="<i4")
    for i, name in enumerate(TEXT_COLUMNS):
        values = columns[name]
        known = [v for v in dict.fromkeys(values) if v is not None]
        if not all(type(v) is str for v in known):
            return None
        index: dict[str | None, int] = {v: j for j, v in enumerate(known)}
        index[None] = -1
        codes[i] = np.fromiter(map(index.__getitem__, values), dtype="<i4", count=n)
        text[name] = known
    numbers = np.empty((len(NUMBER_COLUMNS), n), dtype="<f8")
    for i, name in enumerate(NUMBER_COLUMNS):
        values = columns[name]
        if not set(map(type, values)) <= _NUMBER_TYPES:
            return None
        numbers[i] = np.asarray(values, dtype=object).astype(np.float64)  # None: NaN
    turns, empty = columns["turn"], columns["empty"]
    if not set(map(type, turns)) <= {int} or not set(map(type, empty)) <= {bool}:
        return None
    entry = _Entry(SCHEMA, key, n, text, codes.tobytes(), numbers.tobytes(),
                   np.asarray(turns, dtype="<i8").reshape(n).tobytes(),
                   np.asarray(empty, dtype=bool).reshape(n).tobytes())
    body = msgspec.msgpack.encode(entry)
    return hashlib.sha256(body).digest() + body


def _decode(data: bytes, key: str) -> dict[str, Any] | None:
    """The columns of an entry's bytes, or None when they are not one whole entry of this schema under this
    key (a bad checksum, another schema or key, arrays of the wrong size, a code out of range)."""
    body = memoryview(data)[_DIGEST:]
    if len(data) < _DIGEST or hashlib.sha256(body).digest() != data[:_DIGEST]:
        return None
    entry = _ENTRY_DECODER.decode(body)
    n = entry.rows
    if entry.schema != SCHEMA or entry.key != key or set(entry.text) != set(TEXT_COLUMNS):
        return None
    codes = np.frombuffer(entry.codes, dtype="<i4")
    numbers = np.frombuffer(entry.numbers, dtype="<f8")
    turn, empty = np.frombuffer(entry.turn, dtype="<i8"), np.frombuffer(entry.empty, dtype=bool)
    if (codes.size != n * len(TEXT_COLUMNS) or numbers.size != n * len(NUMBER_COLUMNS) or turn.size != n
            or empty.size != n):
        return None
    codes, numbers = codes.reshape(len(TEXT_COLUMNS), n), numbers.reshape(len(NUMBER_COLUMNS), n)
    columns: dict[str, Any] = {}
    for i, name in enumerate(TEXT_COLUMNS):
        known = entry.text[name]
        if n and (codes[i].min() < -1 or codes[i].max() >= len(known)):
            return None
        # Code -1 (None) picks the None appended at the end.
        columns[name] = np.array([*known, None], dtype=object)[codes[i]]
    for i, name in enumerate(NUMBER_COLUMNS):
        columns[name] = numbers[i].astype(np.float64)
    columns["turn"], columns["empty"] = turn.astype(np.int64), empty.copy()
    return columns
