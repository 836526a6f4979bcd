"""judgebench's one retry policy: the limits of a request's attempts and the wait between two of them. The runner
(run.runner) and the Ray executor (run.ray_engine) both wait what ``RetryPolicy.wait_s`` says, so their backoff and
jitter cannot drift apart.

The loop itself stays with each executor: the runner picks a replica afresh for every attempt (a request a dead
replica dropped goes to a live one at once, without backoff), and Ray resends a round of failures as one dataset;
tenacity's retrying object per request cost a twentieth of the SDK's own time per request for what this
dataclass does."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..constants import DEFAULT_MAX_ELAPSED_S, DEFAULT_TIMEOUT_S  # shown by --help, so kept apart


@dataclass(frozen=True)
class RetryPolicy:
    """Limits of the retry loop. A server's Retry-After is honoured up to ``max_wait_s``. ``timeout_s`` bounds one
    attempt, ``max_elapsed_s`` a request's attempts and waits together (one attempt too); neither counts the time a
    request waits for a free slot before it is sent."""

    max_attempts: int = 5
    max_elapsed_s: float = DEFAULT_MAX_ELAPSED_S
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    timeout_s: float = DEFAULT_TIMEOUT_S

    def attempt_s(self, spent_s: float) -> float:
        """How long the next attempt may take, when the request has used ``spent_s`` of ``max_elapsed_s``."""
        return max(0.0, min(self.timeout_s, self.max_elapsed_s - spent_s))

    def wait_s(self, attempt: int, retry_after: float | None = None) -> float:
        """How long to wait after failed attempt number ``attempt`` (1-based): the server's Retry-After, or an
        exponential backoff with jitter of up to one initial wait."""
        if retry_after is not None:
            return min(self.max_wait_s, max(retry_after, 0.0))
        return min(self.max_wait_s, self.initial_wait_s * 2 ** (attempt - 1) + random.uniform(0, self.initial_wait_s))

    def may_retry(self, attempt: int, spent_s: float, wait_s: float) -> bool:
        """Whether a request that failed attempt ``attempt`` after ``spent_s`` may wait ``wait_s`` and try again."""
        return attempt < self.max_attempts and spent_s + wait_s < self.max_elapsed_s


__all__ = ["RetryPolicy"]
