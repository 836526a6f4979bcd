"""judgebench's exceptions. Each says what went wrong, where (file:line when there is one) and what to do."""

from __future__ import annotations


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
