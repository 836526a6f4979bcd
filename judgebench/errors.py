"""judgebench's exceptions. Each says what went wrong, where (file:line when there is one) and what to do."""

from __future__ import annotations

import errno
import io
import os
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


def _open_file_in(traceback: TracebackType | None) -> str | None:
    """The name of the file a failed write was writing to, from the frames the error passed through: a write or
    flush to an open file (a full disk) raises an OSError that carries no file name."""
    frames = []
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    for frame in reversed(frames):  # the innermost first: the file closest to the failed write
        for value in frame.f_locals.values():
            name = getattr(value, "name", None) if isinstance(value, io.IOBase) else None
            if isinstance(name, str):
                return name
    return None


def environment_fault(exc: BaseException) -> ResultsError | None:
    """The one-line error for an exception that is the machine's fault, not judgebench's (an OSError of a full disk,
    a read-only or unwritable folder, a file where a folder should be), naming the file; None for anything else,
    which is a bug."""
    if not isinstance(exc, OSError):
        return None
    return os_fault(exc, exc.filename if exc.filename is not None else _open_file_in(exc.__traceback__))
