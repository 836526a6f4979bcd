"""Provider batch APIs (``judgebench run --batch``): OpenAI's Batch API and Anthropic's Message Batches, at half the
price of direct calls. ``apis`` says how each provider is asked, ``options`` what a run asks for and gets back. How a
run uses them (judgebench.run.batch_queue) and what survives the run (judgebench.run.batch_ledger, in the request
cache's database) belong to running a task. This package's top level imports neither provider's SDK."""

from __future__ import annotations

from ..endpoints import is_local, judge_base
from ..providers import by_host
from .options import BATCHES_FILE, BatchOptions, BatchReport, SubmittedBatch, endpoint_label


def has_batch_api(spec: str) -> bool:
    """Whether a model or judge spec names a provider with a batch API: NAME@openai or NAME@anthropic (a server
    given by URL and the embedded model have none)."""
    base = judge_base(spec)
    named = by_host(base.rpartition("@")[2]) if "@" in base and not is_local(base) else None
    return named is not None and named.batch_api


__all__ = ["BATCHES_FILE", "BatchOptions", "BatchReport", "SubmittedBatch", "endpoint_label", "has_batch_api"]
