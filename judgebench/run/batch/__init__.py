"""Provider batch APIs (``judgebench run --batch``): OpenAI's Batch API and Anthropic's Message Batches, at half the
price of direct calls. See ``queue`` for how a run uses them, ``ledger`` for what survives the run."""

from __future__ import annotations

from ..endpoints import KNOWN_HOSTS, is_local, judge_base
from .clients import BatchClient, BatchStatus, make_batch_client
from .ledger import BatchResult, Ledger
from .queue import BATCHES_FILE, BatchOptions, BatchQueue, BatchReport, SubmittedBatch, endpoint_label


def has_batch_api(spec: str) -> bool:
    """Whether a model or judge spec names a provider with a batch API: NAME@openai or NAME@anthropic (a server
    given by URL and the embedded model have none)."""
    base = judge_base(spec)
    return not is_local(base) and "@" in base and base.rpartition("@")[2] in KNOWN_HOSTS


__all__ = ["BATCHES_FILE", "BatchClient", "BatchOptions", "BatchQueue", "BatchReport", "BatchResult", "BatchStatus",
           "Ledger", "SubmittedBatch", "endpoint_label", "has_batch_api", "make_batch_client"]
