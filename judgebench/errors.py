"""judgebench's exceptions. Each says what went wrong, where (file:line when there is one) and what to do."""

from __future__ import annotations

import difflib
import errno
import io
import os
from collections.abc import Iterable, Iterator
from types import TracebackType


class JudgebenchError(Exception):
    """Base class: the CLI prints these as one clear message and exits non-zero."""


class TaskError(JudgebenchError):
    """A task file, its prompts or its data are wrong."""


class ConfigError(JudgebenchError):
    """A command-line option or endpoint specification is wrong."""


class DataError(JudgebenchError):
    """External data (answers, references, downloads) is missing or does not match."""


class BackendError(JudgebenchError):
    """A model server failed. ``retryable`` says whether asking again may help."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        # No answer at all (connection refused or dropped, a timeout): the server may be down, so a replica set
        # takes this replica out and sends the request to another.
        self.unreachable = unreachable


class BatchPending(BackendError):
    """A request waits in a provider's batch, or is queued for the next one (``judgebench run --batch``): not a
    failure; the run records it as pending and a later run with the same command collects its reply."""

    def __init__(self, message: str, *, batch_id: str | None = None) -> None:
        super().__init__(message, retryable=False)
        self.batch_id = batch_id


class ResultsError(JudgebenchError):
    """A results directory cannot be written without overwriting or cannot be read."""


# What to do about an operating-system error on a file, by its errno: the faults of the machine, not of judgebench.
_OS_FAULTS = {
    errno.ENOSPC: "the disk is full: free space there or {choose}",
    errno.EDQUOT: "the disk quota is used up: free space there or {choose}",
    errno.EFBIG: "the file is larger than this system allows: free space, raise the limit (ulimit -f) or {choose}",
    errno.EROFS: "a read-only file system: {choose} on a writable one",
    errno.EACCES: "permission denied: make it writable (and readable) by this user or {choose}",
    errno.EPERM: "not permitted: make it writable (and readable) by this user or {choose}",
    errno.ENOTDIR: "a part of the path is a file, not a folder: {choose}",
    errno.EEXIST: "a file is in the way of a folder this path needs: {choose}",
    errno.EISDIR: "a folder, not a file: name a file",
    errno.ENOENT: "no such file or folder: check the path or {choose}",
    errno.ENAMETOOLONG: "the name is too long: {choose}",
    errno.ELOOP: "too many symbolic links: {choose}",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or lower --concurrency",
    errno.ENFILE: "too many open files on this system: close some or lower --concurrency",
    errno.EIO: "an input/output error: the disk or file system is failing; {choose}",
    errno.ENXIO: "no such device: {choose}",
    errno.ENODEV: "no such device: {choose}",
}


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a mistyped one (for "did you mean"), or None when none is close."""
    found = difflib.get_close_matches(name, list(known), n=1)
    return found[0] if found else None


def os_fault(exc: OSError, path: object = None, choose: str = "choose another place") -> ResultsError | None:
    """A one-line error for an operating-system error on a file (a full disk, a read-only or unwritable folder, a
    file where a folder should be), naming the path, the cause and what to do; None for an error that is no such
    fault. ``path`` when the exception does not carry one (a write to an open file); ``choose``: the option that
    picks another place (e.g. "choose another --out")."""
    advice = _OS_FAULTS.get(exc.errno) if exc.errno is not None else None
    if advice is None:
        return None
    where = exc.filename if exc.filename is not None else path
    cause = exc.strerror or os.strerror(exc.errno or 0)
    shown = f"{os.fsdecode(where) if isinstance(where, (str, bytes, os.PathLike)) else where}: " \
        if where is not None else ""
    return ResultsError(f"{shown}{cause} ({advice.format(choose=choose)})")


# SQLite's primary result codes for a database that cannot be used through no fault of its own: the disk is full, the
# file or its folder cannot be opened or written. Its content is fine: the advice is never to move it aside.
_SQLITE_FAULTS = {
    13: "the disk is full: free space there or {choose}",  # SQLITE_FULL
    8: "read-only: make it and its folder writable or {choose}",  # SQLITE_READONLY
    14: "cannot open it: its folder is missing or unwritable, or the path is a folder; {choose}",  # SQLITE_CANTOPEN
    3: "permission denied: make it and its folder writable or {choose}",  # SQLITE_PERM
    23: "permission denied: make it and its folder writable or {choose}",  # SQLITE_AUTH
    10: "a disk input/output error (a full or failing disk?): free space there or {choose}",  # SQLITE_IOERR
}
# The same by message, for Pythons before 3.11 (no sqlite_errorcode).
_SQLITE_MESSAGES = {"database or disk is full": 13, "attempt to write a readonly database": 8,
                    "unable to open database file": 14, "disk i/o error": 10}


def sqlite_fault(exc: Exception, path: object, choose: str, what: str = "the database") -> ResultsError | None:
    """A one-line error for a SQLite database at ``path`` that the machine keeps from being used (a full disk, a
    read-only or unopenable file), naming it, the cause and what to do; None for any other SQLite error (a damaged
    file, one of another application)."""
    code = getattr(exc, "sqlite_errorcode", None)
    code = code & 0xFF if isinstance(code, int) else _SQLITE_MESSAGES.get(str(exc).lower())
    advice = _SQLITE_FAULTS.get(code) if code is not None else None
    return ResultsError(f"{path}: {what} cannot be used ({exc}): {advice.format(choose=choose)}") if advice else None


def _locals_innermost_first(traceback: TracebackType | None) -> Iterator[object]:
    """The local values of the frames an exception passed through, the innermost frame's first."""
    frames = []
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    for frame in reversed(frames):
        yield from frame.f_locals.values()


def _open_file_in(traceback: TracebackType | None) -> str | None:
    """The name of the file a failed write was writing to: a write or flush to an open file (a full disk) raises an
    OSError that carries no file name, and the frame that wrote holds the file."""
    for value in _locals_innermost_first(traceback):
        name = getattr(value, "name", None) if isinstance(value, io.IOBase) else None
        if isinstance(name, str):
            return name
    return None


def _database_in(traceback: TracebackType | None) -> str | None:
    """The file of the SQLite database a failed statement ran on (SQLite's errors carry no path)."""
    import sqlite3

    for value in _locals_innermost_first(traceback):
        if isinstance(value, sqlite3.Connection):
            try:
                rows = value.execute("PRAGMA database_list").fetchall()
            except sqlite3.Error:
                continue
            files = [str(row[2]) for row in rows if row[1] == "main" and row[2]]
            if files:
                return files[0]
    return None


def environment_fault(exc: BaseException) -> ResultsError | None:
    """The one-line error for an exception that is the machine's fault, not judgebench's (an OSError or a SQLite
    error of a full disk, a read-only or unwritable folder, a file where a folder should be), naming the file; None
    for anything else, which is a bug."""
    if isinstance(exc, OSError):
        return os_fault(exc, exc.filename if exc.filename is not None else _open_file_in(exc.__traceback__))
    if type(exc).__module__ == "sqlite3" and isinstance(exc, Exception):
        return sqlite_fault(exc, _database_in(exc.__traceback__) or "a SQLite database", "choose another place")
    return None
