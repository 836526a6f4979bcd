"""External data by URL with a sha256, or from a local path: the only place that downloads.

A URL is looked for first in the local data mirrors (``--data-dir DIR``, ``JUDGEBENCH_DATA_DIR``): the file
``DIR/<host>/<path of the URL>``, or a gzip copy of it with ``.gz`` added, checked by the same sha256. So a
machine with no network runs every task that reads by URL from a folder that ``judgebench download`` filled
elsewhere (or a copy of the files under the same layout), with no change to any task file.
"""

from __future__ import annotations

import contextlib
import contextvars
import gzip
import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DataError, TaskError

DATA_DIR_ENV = "JUDGEBENCH_DATA_DIR"
# Folders besides a task's own that its `path:` fields may name (--allow-path DIR); os.pathsep between them.
ALLOW_PATH_ENV = "JUDGEBENCH_ALLOW_PATH"
# A download larger than this is refused: task data is text (the largest public file a task reads is ~2 MB).
MAX_DOWNLOAD_BYTES = 512 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SCHEMES = ("https", "http")


def cache_dir() -> Path:
    root = os.environ.get("JUDGEBENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "judgebench"
    )
    return Path(root)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _gzip_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


TASK_HINT = ("run `judgebench download TASK --data-dir DIR` on a machine with network and pass `--data-dir DIR` "
             "(or set JUDGEBENCH_DATA_DIR) here, or set 'path:' in the task to a local copy")


@dataclass(frozen=True)
class Fetched:
    """One URL a command resolved: where its file came from ("mirror", "cache" or "download") and where it is."""

    url: str
    sha256: str
    path: Path
    origin: str


# Set by the command line (--data-dir) for one command; the environment's folders come after them.
_data_dirs: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("judgebench_data_dirs", default=())
# While `judgebench download` runs: the folder downloads are written to, in the mirror's layout.
_fill_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar("judgebench_fill_dir", default=None)
# Every URL resolved while a recorder is active (``recording``), for `download` to report.
_record: contextvars.ContextVar[list[Fetched] | None] = contextvars.ContextVar("judgebench_fetch_record",
                                                                              default=None)


# Set by the command line (--allow-path) or load_task(allow_paths=...) for one command or call.
_allowed: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("judgebench_allowed_dirs", default=())
# While `judgebench validate` runs: nothing is downloaded (data not in a mirror or the cache is NotLocal).
_offline: contextvars.ContextVar[bool] = contextvars.ContextVar("judgebench_no_downloads", default=False)


class NotLocal(TaskError):
    """Data a task reads by URL is in no data mirror and not in the cache, and downloads are off (``validate``)."""


@contextlib.contextmanager
def allowing_paths(folders: tuple[Path, ...] | list[Path]) -> Iterator[None]:
    """Inside the block, a task's `path:` fields may also name files in these folders (what --allow-path gives)."""
    token = _allowed.set((*_allowed.get(), *(Path(f) for f in folders)))
    try:
        yield
    finally:
        _allowed.reset(token)


def allowed_dirs() -> tuple[Path, ...]:
    from_env = tuple(Path(p) for p in os.environ.get(ALLOW_PATH_ENV, "").split(os.pathsep) if p.strip())
    return tuple(dict.fromkeys((*_allowed.get(), *from_env)))


def confined(task_dir: Path, local: object, where: str) -> Path:
    """The file a task's `path:` names: inside the task's folder once symlinks are resolved, or inside a folder the
    user allowed. Task files are shared, and a path could otherwise send any file on the machine to the models."""
    if not isinstance(local, str) or not local.strip() or "\x00" in local:
        raise TaskError(f"{where}: path must be the name of a file, not {str(local)[:200]!r}")
    path = (task_dir / local).resolve()
    folders = (task_dir, *allowed_dirs())
    if not any(path.is_relative_to(folder.resolve()) for folder in folders):
        raise TaskError(f"{where}: the path {local[:200]!r} leads outside the task's folder ({task_dir}); move the "
                        "file into it, or allow its folder with --allow-path DIR (or JUDGEBENCH_ALLOW_PATH)")
    return path


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Inside the block, data by URL comes only from a data mirror or the cache (`judgebench validate`)."""
    token = _offline.set(True)
    try:
        yield
    finally:
        _offline.reset(token)


@contextlib.contextmanager
def using_data_dirs(folders: tuple[Path, ...] | list[Path]) -> Iterator[None]:
    """Inside the block, look in these data mirrors first (before those of JUDGEBENCH_DATA_DIR): what --data-dir
    gives one command."""
    token = _data_dirs.set(tuple(Path(f) for f in folders))
    try:
        yield
    finally:
        _data_dirs.reset(token)


def data_dirs() -> tuple[Path, ...]:
    from_env = tuple(Path(p) for p in os.environ.get(DATA_DIR_ENV, "").split(os.pathsep) if p.strip())
    return tuple(dict.fromkeys((*_data_dirs.get(), *from_env)))


@contextlib.contextmanager
def recording(fill: Path | None = None) -> Iterator[list[Fetched]]:
    """Record every URL resolved inside the block; with ``fill``, a URL found in no mirror is downloaded into
    ``fill`` in the mirror's layout (what `judgebench download` does)."""
    found: list[Fetched] = []
    record_token, fill_token = _record.set(found), _fill_dir.set(fill)
    try:
        yield found
    finally:
        _record.reset(record_token)
        _fill_dir.reset(fill_token)


def check_sha256(sha256: str, where: str) -> str:
    value = sha256.strip().lower()
    if not _SHA256.fullmatch(value):
        raise DataError(f"{where}: sha256 must be 64 hexadecimal digits (quoted in YAML), not {sha256[:80]!r}")
    return value


def mirror_path(url: str, where: str) -> PurePosixPath:
    """``<host>/<path>`` of a URL: where a data mirror keeps its file. Only http(s) URLs with a plain path."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() not in _SCHEMES or not parsed.hostname:
        raise DataError(f"{where}: only https:// (or http://) URLs can be read, not {url[:200]!r}")
    segments = [urllib.parse.unquote(s) for s in parsed.path.split("/") if s]
    if not segments or any(s in (".", "..") or "/" in s or "\\" in s or "\x00" in s for s in segments) \
            or parsed.query or parsed.fragment:
        raise DataError(f"{where}: the URL {url[:200]!r} must name a file by a plain path (no '..', query or "
                        "fragment)")
    host = parsed.hostname.lower() + (f"_{parsed.port}" if parsed.port else "")
    return PurePosixPath(host, *segments)


def _note(fetched: Fetched) -> Path:
    found = _record.get()
    if found is not None:
        found.append(fetched)
    return fetched.path


def _from_mirrors(url: str, sha256: str, relative: PurePosixPath, where: str) -> Path | None:
    for folder in data_dirs():
        plain = folder.joinpath(*relative.parts)
        packed = plain.with_name(plain.name + ".gz")
        if plain.is_file():
            if file_sha256(plain) != sha256:
                raise DataError(f"{where}: {plain} (the data mirror's copy of {url}) does not match sha256 {sha256}: "
                                "a different version of the file; remove it and download again")
            return _note(Fetched(url, sha256, plain, "mirror"))
        if packed.is_file():
            try:
                actual = _gzip_sha256(packed)
            except (OSError, EOFError) as exc:
                raise DataError(f"{where}: {packed} is not a readable gzip file ({exc})") from None
            if actual != sha256:
                raise DataError(f"{where}: {packed} (the data mirror's copy of {url}) does not match sha256 "
                                f"{sha256} once decompressed: remove it and download again")
            # Readers take plain files: the checked content is unpacked once into the cache.
            target = cache_dir() / "data" / sha256 / relative.name
            if not (target.is_file() and file_sha256(target) == sha256):
                with gzip.open(packed, "rb") as fh:
                    _write_atomic(target, fh.read())
            return _note(Fetched(url, sha256, target, "mirror"))
    return None


def _write_atomic(target: Path, payload: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(payload)
    os.replace(tmp.name, target)


def _download(url: str, where: str, offline_hint: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            payload = response.read(MAX_DOWNLOAD_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataError(
            f"{where}: cannot download {url} ({getattr(exc, 'reason', exc)}). Offline? {offline_hint[0].upper()}"
            f"{offline_hint[1:]}."
        ) from exc
    if len(payload) > MAX_DOWNLOAD_BYTES:
        raise DataError(f"{where}: {url} is larger than {MAX_DOWNLOAD_BYTES >> 20} MB; not using it")
    return payload


def local_data(url: str, sha256: str, where: str) -> Path | None:
    """A local copy of ``url`` (a data mirror's, or the download cache's), checked by ``sha256``; None where there
    is none. Never downloads: for data a command uses when it is at hand (AlpacaEval's difficulty table)."""
    sha256 = check_sha256(sha256, where)
    relative = mirror_path(url, where)
    mirrored = _from_mirrors(url, sha256, relative, where)
    if mirrored is not None:
        return mirrored
    cached = cache_dir() / "data" / sha256 / relative.name
    return cached if cached.is_file() and file_sha256(cached) == sha256 else None


def resolve_data(*, path: Path | None, url: str | None, sha256: str | None, where: str,
                 offline_hint: str = TASK_HINT) -> Path:
    """A local file for a task's data: ``path`` if given, else ``url`` from a data mirror, the download cache, or
    downloaded once; always checked against ``sha256``.

    ``where`` is the "file:line" of the task field, for messages.
    """
    if path is not None:
        if not path.exists():
            raise DataError(f"{where}: data file {path} does not exist")
        # A device or a pipe (/dev/zero) would be read or hashed forever: only a regular file of a sane size.
        if not path.is_file() or path.stat().st_size > MAX_DOWNLOAD_BYTES:
            raise DataError(f"{where}: {path} is not a regular data file under {MAX_DOWNLOAD_BYTES >> 20} MB")
        if sha256:
            expected = check_sha256(sha256, where)
            # The sha256 is the original file's: a gzip copy is checked once decompressed.
            try:
                actual = _gzip_sha256(path) if path.name.endswith(".gz") else file_sha256(path)
            except (OSError, EOFError) as exc:
                raise DataError(f"{where}: {path} is not a readable gzip file ({exc})") from None
            if actual != expected:
                raise DataError(f"{where}: {path} does not match sha256 {sha256}: wrong version of the file?")
        return path
    if not url:
        raise DataError(f"{where}: give a path or a url for the data")
    if not sha256:
        raise DataError(f"{where}: a url needs a sha256 so the download can be checked")
    url = str(url)
    sha256 = check_sha256(str(sha256), where)
    relative = mirror_path(url, where)
    mirrored = _from_mirrors(url, sha256, relative, where)
    if mirrored is not None:
        return mirrored
    fill = _fill_dir.get()
    target = fill.joinpath(*relative.parts) if fill is not None else cache_dir() / "data" / sha256 / relative.name
    if target.is_file() and file_sha256(target) == sha256:
        return _note(Fetched(url, sha256, target, "mirror" if fill is not None else "cache"))
    if _offline.get():
        raise NotLocal(f"{where}: {url} is in no data mirror and not in the cache, and validate downloads nothing; "
                       f"to check this task's items, {offline_hint}")
    payload = _download(url, where, offline_hint)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise DataError(f"{where}: {url} has sha256 {actual}, expected {sha256}; not using it")
    _write_atomic(target, payload)
    return _note(Fetched(url, sha256, target, "download"))
