"""Read task files, kept by content: a large task file (thousands of inline items) is parsed once, and read back from
the cache while its bytes stay the same (measured on 8,000 items: 0.17 s of YAML parsing, 0.03 s from the cache).

What is kept is exactly what ``yamlsrc.load_yaml`` returned for the file: its values, and the line of each mapping,
key and list element (what errors name as file:line). Everything the loader checks is checked on the values as
before, every time; a file that is not valid YAML, or not a mapping, is never kept, so its error is the parser's,
every time. The key names everything the values depend on: the bytes of the file, the file's name as errors show
it, the code that parses (yamlsrc's source, PyYAML's version and whether libyaml is there, judgebench's version)
and this cache's schema. An include is a file of its own, kept by its own bytes.

Where: ``tasks/`` in judgebench's user cache directory (tasks.fetch.cache_dir: ``$JUDGEBENCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/judgebench`` or ``~/.cache/judgebench``); ``$JUDGEBENCH_TASK_CACHE=off`` turns it off. An entry is
MessagePack of plain values (msgspec) behind the sha256 of the rest: reading one runs no code, unlike a pickle.
An entry that does not read back whole and well-formed (truncated, another key, a bad checksum, values of the wrong
shape, too deep) is a miss, never an error: the file is parsed again. Files smaller than MIN_BYTES parse faster
than an entry reads and are not kept; at most MAX_ENTRIES entries are kept, the least recently written removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from ..version import __version__
from .yamlsrc import MAX_EXPANSION, MAX_NESTING, SourcedDict, SourcedList, parse_yaml, read_yaml_bytes

ENV_VAR = "JUDGEBENCH_TASK_CACHE"
OFF = ("off", "0", "false", "no", "none")
SCHEMA = 1
MIN_BYTES = 64 << 10
MAX_ENTRIES = 32
SUFFIX = ".task.msgpack"
_MAPPING, _LIST = 0, 1
_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_new_dict = dict.__new__


class _Unkept(Exception):
    """Values this cache does not keep (an alias shared by two places, a date, a binary value): parsed each time."""


class _Malformed(Exception):
    """An entry that is not what this cache writes."""


def most_bytes(raw_size: int) -> int:
    """The largest entry kept for a file of ``raw_size`` bytes: what it stands for is at most its characters and
    MAX_EXPANSION more (yamlsrc's alias check), each scalar and container with a line and a header of a few bytes.
    An entry past it is not written, and is not read (a forged one, or not an entry: it would be read whole)."""
    return 16 * (raw_size + MAX_EXPANSION)


def _read_entry(path: Path, most: int) -> bytes | None:
    """An entry's bytes; None where there is no regular file of at most ``most`` bytes there. (Not opened blocking:
    a named pipe put there would wait for a writer for ever; not read past ``most``: /dev/zero has no end.)"""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(handle, "rb") as entry:
        try:
            found = os.fstat(handle)
            if not stat.S_ISREG(found.st_mode) or found.st_size > most:
                return None
            data = entry.read(most + 1)
        except OSError:
            return None
    return data if len(data) <= most else None


def _root() -> Path | None:
    if os.environ.get(ENV_VAR, "").strip().lower() in OFF:
        return None
    from .fetch import cache_dir

    return cache_dir() / "tasks"


@lru_cache(maxsize=1)
def _code() -> bytes:
    """What decides a file's values and lines: the parsing code (yamlsrc, and formats.common, whose ``decode`` turns
    the file's bytes into its text), PyYAML and this schema."""
    import yaml

    from ..formats import common
    from . import yamlsrc

    digest = hashlib.sha256(f"{SCHEMA}|{__version__}|{yaml.__version__}|{getattr(yaml, '__with_libyaml__', False)}"
                            f"|msgspec {msgspec.__version__}".encode())
    for module in (yamlsrc, common):
        with contextlib.suppress(OSError, TypeError):  # installed without sources: the versions above still separate
            digest.update(Path(str(module.__file__)).read_bytes())
    return digest.digest()


def _key(raw: bytes, filename: str) -> str:
    digest = hashlib.sha256(_code())
    digest.update(filename.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(raw)
    return digest.hexdigest()


def _line(origin: str, at: str) -> int:
    if not origin.startswith(at):
        raise _Unkept
    return int(origin[len(at):])


def _encode(value: Any, at: str, seen: set[int]) -> Any:
    """Plain values: a mapping as [0, line, key, key line, value, ...], a list as [1, line, element line, element,
    ...], scalars as they are. A container met twice (an alias) is not kept: rebuilt, the two would be copies."""
    kind = type(value)
    if kind is SourcedDict:
        if id(value) in seen:
            raise _Unkept
        seen.add(id(value))
        found: list[Any] = [_MAPPING, _line(value.origin, at)]
        origins = value.key_origins
        for key, item in value.items():
            if type(key) not in _SCALARS:
                raise _Unkept
            found += (key, _line(origins[key], at), _encode(item, at, seen))
        return found
    if kind is SourcedList:
        if id(value) in seen:
            raise _Unkept
        seen.add(id(value))
        found = [_LIST, _line(value.origin, at)]
        for origin, item in zip(value.item_origins, value, strict=True):
            found += (_line(origin, at), _encode(item, at, seen))
        return found
    if kind in _SCALARS:
        return value
    raise _Unkept  # a timestamp, !!binary, !!set, !!omap ...: PyYAML's own types


def _decode(value: list[Any], at: str, depth: int) -> SourcedDict | SourcedList:
    """The container ``_encode`` wrote as ``value``; _Malformed for anything else. (Called once per mapping and list
    of the file: scalars are taken in place, and the checks are those of types and counts, which are quick.)"""
    size = len(value)
    if depth > MAX_NESTING + 1 or size < 2 or type(value[1]) is not int:
        raise _Malformed
    if value[0] == _MAPPING and size % 3 == 2:
        mapping = _new_dict(SourcedDict)  # (empty: SourcedDict.__init__'s work is the key_origins set here)
        mapping.origin = f"{at}{value[1]}"
        mapping.key_origins = origins = {}
        for i in range(2, size, 3):
            key, line, item = value[i], value[i + 1], value[i + 2]
            if type(key) not in _SCALAR_TYPES or type(line) is not int:
                raise _Malformed
            kind = type(item)
            if kind is list:
                item = _decode(item, at, depth + 1)
            elif kind not in _SCALAR_TYPES:
                raise _Malformed
            mapping[key] = item
            origins[key] = f"{at}{line}"
        if len(mapping) * 3 + 2 != size:  # a key twice: no YAML file this cache wrote
            raise _Malformed
        return mapping
    if value[0] == _LIST and size % 2 == 0:
        items = value[3::2]
        for k, item in enumerate(items):
            kind = type(item)
            if kind is list:
                items[k] = _decode(item, at, depth + 1)
            elif kind not in _SCALAR_TYPES:
                raise _Malformed
        lines = value[2::2]
        if not all(type(line) is int for line in lines):
            raise _Malformed
        sequence = SourcedList(items)
        sequence.origin = f"{at}{value[1]}"
        sequence.item_origins = [f"{at}{line}" for line in lines]
        return sequence
    raise _Malformed


def load_yaml(path: Path, what: str = "task file") -> SourcedDict:
    """``yamlsrc.load_yaml`` through the cache: the same values, lines and errors."""
    raw = read_yaml_bytes(path, what)
    filename = str(path)
    found = get(raw, filename)
    if found is None:
        found = parse_yaml(raw, filename, what)
        put(raw, filename, found)
    return found


def get(raw: bytes, filename: str) -> SourcedDict | None:
    """The values ``load_yaml`` read from a file of these bytes and this name, or None (not kept, or unreadable)."""
    root = _root()
    if root is None or len(raw) < MIN_BYTES:
        return None
    key = _key(raw, filename)
    entry = _read_entry(root / f"{key}{SUFFIX}", most_bytes(len(raw)))
    if entry is None:
        return None
    try:
        if hashlib.sha256(entry[32:]).digest() != entry[:32]:
            return None
        stored_key, values = msgspec.msgpack.decode(entry[32:])
        if stored_key != key:
            return None
        found = _decode(values, f"{filename}:", 0) if type(values) is list else None
    except (_Malformed, msgspec.DecodeError, ValueError, TypeError, RecursionError):
        return None
    return found if type(found) is SourcedDict else None


def put(raw: bytes, filename: str, data: SourcedDict) -> None:
    """Keep what ``load_yaml`` read from a file of these bytes and this name. Best effort: a cache that cannot be
    written (read-only, full) is no error, only no cache."""
    root = _root()
    if root is None or len(raw) < MIN_BYTES:
        return
    key = _key(raw, filename)
    try:
        payload = msgspec.msgpack.encode([key, _encode(data, f"{filename}:", set())])
    except (_Unkept, ValueError, TypeError, OverflowError, RecursionError):  # (an integer past 64 bits)
        return
    if len(payload) + 32 > most_bytes(len(raw)):  # (no file's is: see most_bytes)
        return
    with contextlib.suppress(OSError):
        root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=root, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(hashlib.sha256(payload).digest() + payload)
            os.replace(temporary, root / f"{key}{SUFFIX}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        _prune(root)


def _prune(root: Path) -> None:
    """At most MAX_ENTRIES entries: the least recently written go first."""
    entries = []
    for path in root.glob(f"*{SUFFIX}"):
        with contextlib.suppress(OSError):
            entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        with contextlib.suppress(OSError):
            path.unlink()
