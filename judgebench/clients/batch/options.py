"""What a run asks of batching and what batching did: plain data, importable without the providers' SDKs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ...types import ChatReply, Endpoint

# A batch is "in_progress" until its provider is done with it; then its provider's final word.
BatchState = Literal["in_progress", "completed", "expired", "cancelled", "failed"]


@dataclass(frozen=True)
class BatchResult:
    """One request's end in a finished batch: its reply, or why there is none (an error, expiry, cancellation)."""

    key: str
    reply: ChatReply | None = None
    error: str | None = None

BATCHES_FILE = "batches.json"


def endpoint_label(endpoint: Endpoint) -> str:
    """What batching knows an endpoint by (the ledger too): the parts of its cache key that name server and model."""
    return f"{endpoint.provider} {endpoint.identity()} {endpoint.model}"


@dataclass(frozen=True)
class BatchOptions:
    """Which endpoints go through their provider's batch API (by ``endpoint_label``: see ``of``); how long a run
    waits for unfinished batches before it starts (``wait_s``; 0: it polls them once) and how often it asks
    meanwhile (``poll_s``)."""

    endpoints: frozenset[str]
    wait_s: float = 0.0
    poll_s: float = 30.0

    @classmethod
    def of(cls, endpoints: Iterable[Endpoint], wait_s: float = 0.0, poll_s: float = 30.0) -> BatchOptions:
        """Batching for these endpoints (each must be OpenAI's API or Anthropic's; others are called directly)."""
        return cls(frozenset(endpoint_label(e) for e in endpoints), wait_s, poll_s)


@dataclass(frozen=True)
class SubmittedBatch:
    id: str
    provider: str
    endpoint: str
    n_requests: int


@dataclass(frozen=True)
class BatchReport:
    """What batching did in one run.

    submitted: the batches this run submitted. ended / waiting: ledger batches this run found ended, or still in
    progress. collected: replies handed to the run from ended batches, of which ``rejected`` did not pass its
    parser (asked again by the next run). queued: requests this run submitted, of which ``resubmitted`` got no
    reply from an earlier batch. pending: requests found waiting in unfinished batches. errors: polls and
    submissions that failed (their requests are asked again by a later run)."""

    submitted: tuple[SubmittedBatch, ...] = ()
    ended: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    collected: int = 0
    rejected: int = 0
    queued: int = 0
    resubmitted: int = 0
    pending: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """What a person needs to know, a line each."""
        found = [f"batches: {self.collected} replies collected from {len(self.ended)} ended batch(es)"
                 + (f" ({self.rejected} rejected by the parser, asked again next run)" if self.rejected else "")
                 + f", {self.pending} requests waiting in {len(self.waiting)} unfinished batch(es)"]
        for batch in self.submitted:
            found.append(f"submitted batch {batch.id} ({batch.provider}, {batch.n_requests} requests for "
                         f"{batch.endpoint})")
        if self.resubmitted:
            found.append(f"{self.resubmitted} of the submitted requests got no reply from an earlier batch "
                         "(failed, expired or refused) and were submitted again")
        found += [f"batch error: {error}" for error in self.errors]
        if self.submitted or self.waiting:
            found.append("run the same command again to collect them (add --batch-wait SECONDS to wait for them)")
        return found
