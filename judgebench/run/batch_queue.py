"""``run --batch``: requests to OpenAI and Anthropic go through their batch APIs (half the price, replies within a
day) instead of one call each.

A run with batching on never sends a cache miss for a batched endpoint. The runner asks this queue instead
(``take``): a reply from a batch that has ended is handed out (and cached if the run's parser accepts it); a request
still in an unfinished batch, or not yet sent, fails with ``BatchPending``, which the run records as pending, not
as an error. At the end of the run (``submit``) the queued requests go out as one batch per endpoint, recorded in
the ledger (the cache's SQLite file) and in ``<run_dir>/batches.json``. The next run with the same command polls
the ledger's unfinished batches (``prepare``), waiting up to ``wait_s`` for them, and collects what ended; requests
that got no reply (a failed, expired or cancelled batch, a request the provider refused) are queued again.

Multi-turn generation advances one turn per batch: turn 2 needs turn 1's answer, so an MT-Bench run takes a batch
for each turn and one for the judge, each collected by the next run.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clients.batch.apis import BatchClient, BatchStatus, make_batch_client
from ..clients.batch.options import BATCHES_FILE, BatchOptions, BatchReport, SubmittedBatch, endpoint_label
from ..errors import BackendError, BatchPending
from ..formats.judgebench import write_json_atomic
from ..types import ChatReply, ChatRequest, Endpoint
from .batch_ledger import Ledger, LedgerBatch
from .cache import Cache

# Well under both providers' file limits (OpenAI 200 MB, Anthropic 256 MB).
MAX_BATCH_BYTES = 100_000_000


@dataclass
class _Queued:
    endpoint: Endpoint
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    resubmitted: set[str] = field(default_factory=set)


class BatchQueue:
    """The runner's way to batch APIs: ``prepare`` before the run, ``take`` for each cache miss of a batched
    endpoint, ``submit`` at the end."""

    def __init__(self, cache: Cache, options: BatchOptions,
                 client_factory: Callable[[Endpoint], BatchClient] = make_batch_client) -> None:
        self.cache = cache
        self.options = options
        self.ledger = Ledger(cache.path)
        self._client_factory = client_factory
        self._clients: dict[str, BatchClient] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._queued: dict[str, _Queued] = {}
        self._ended: list[str] = []
        self._waiting: list[str] = []
        self._errors: list[str] = []
        self._submitted: list[SubmittedBatch] = []
        self._resubmitted = 0
        self._counts = {"collected": 0, "rejected": 0, "pending": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def handles(self, endpoint: Endpoint) -> bool:
        return endpoint_label(endpoint) in self.options.endpoints

    def _client(self, endpoint: Endpoint) -> BatchClient:
        label = endpoint_label(endpoint)
        if label not in self._clients:
            self._clients[label] = self._client_factory(endpoint)
            self._endpoints.setdefault(label, endpoint)
        return self._clients[label]

    async def prepare(self, endpoints: Sequence[Endpoint]) -> None:
        """Poll the ledger's unfinished batches of these endpoints and store what ended; with ``wait_s``, keep
        polling until none is left unfinished or the time is up."""
        for endpoint in endpoints:
            if self.handles(endpoint):
                self._client(endpoint)  # a provider without a batch API, or a missing key, fails before any work
        deadline = time.monotonic() + self.options.wait_s
        while True:
            await asyncio.gather(*(self._poll(batch) for batch in self.ledger.unfinished(self._endpoints)))
            unfinished = self.ledger.unfinished(self._endpoints)
            remaining = deadline - time.monotonic()
            if not unfinished or remaining <= 0:
                break
            print(f"waiting for {len(unfinished)} batch(es): {', '.join(b.id for b in unfinished)} "
                  f"({remaining:.0f}s left of --batch-wait)", file=sys.stderr, flush=True)
            await asyncio.sleep(min(self.options.poll_s, remaining))
        self._waiting = [batch.id for batch in unfinished]

    async def _poll(self, batch: LedgerBatch) -> None:
        client = self._client(self._endpoints[batch.endpoint])
        try:
            status: BatchStatus = await client.status(batch.id)
        except BackendError as exc:
            return self._unreadable(batch, exc, f"is unknown to {batch.provider}")
        if not status.ended:
            return None
        try:
            results = await client.results(batch.id, status)
        except BackendError as exc:
            return self._unreadable(batch, exc, "ended, but its results are gone")
        if self.ledger.finish(batch.id, status.state, results, status.message):
            self._ended.append(batch.id)
        return None

    def _unreadable(self, batch: LedgerBatch, exc: BackendError, gone: str) -> None:
        if exc.status == 404:
            # The provider does not have it (deleted, expired files, another account's): its requests are asked
            # again. Any other error may pass: the batch is polled again by the next run.
            self.ledger.finish(batch.id, "failed", [], message=str(exc))
            self._errors.append(f"batch {batch.id} {gone} ({exc}); its requests are submitted again")
        else:
            self._errors.append(f"batch {batch.id} could not be read ({exc}); polled again by the next run")

    def take(self, request: ChatRequest, accept: Callable[[ChatReply], bool]) -> ChatReply:
        """A cache miss of a batched endpoint: its reply from an ended batch (cached when ``accept`` takes it), or
        ``BatchPending`` while it waits in a batch or is queued for this run's."""
        key = request.cache_key()
        entry = self.ledger.entry(key)
        name = request.endpoint.name
        if entry is not None and entry.state == "done" and entry.reply is not None:
            reply = entry.reply
            # Handed out once: an accepted reply is in the cache from now on; a rejected one is asked again.
            if accept(reply):
                self.cache.put(request, reply)
            else:
                self._counts["rejected"] += 1
            self.ledger.consume(key, entry.batch)
            self._counts["collected"] += 1
            self._counts["prompt_tokens"] += reply.prompt_tokens or 0
            self._counts["completion_tokens"] += reply.completion_tokens or 0
            return reply
        if entry is not None and entry.state == "waiting":
            self._counts["pending"] += 1
            raise BatchPending(f"{name}: waiting in batch {entry.batch}; run the same command again to collect it",
                               batch_id=entry.batch)
        client = self._client(request.endpoint)
        queued = self._queued.setdefault(endpoint_label(request.endpoint), _Queued(request.endpoint))
        queued.entries[key] = client.entry(request)
        again = ""
        if entry is not None:  # its earlier batch gave no reply
            queued.resubmitted.add(key)
            again = f" again (batch {entry.batch} gave no reply: {entry.error})"
        raise BatchPending(f"{name}: queued for a batch{again}, submitted when this run ends; run the same command "
                           "again to collect it")

    async def submit(self, run_dir: Path | None = None) -> BatchReport:
        """Submit the queued requests, one batch per endpoint (more when over a provider's limits); each recorded in
        the ledger the moment its id is known, and in ``run_dir``/batches.json."""
        for label, queued in self._queued.items():
            client = self._client(queued.endpoint)
            for chunk in _chunks(list(queued.entries.items()), client.max_requests):
                try:
                    batch_id = await client.submit([entry for _, entry in chunk])
                except BackendError as exc:
                    self._errors.append(f"{len(chunk)} requests for {queued.endpoint.name} could not be submitted "
                                        f"({exc}); queued again by the next run")
                    continue
                self.ledger.record(batch_id, client.provider, label, [key for key, _ in chunk])
                self._submitted.append(SubmittedBatch(batch_id, client.provider, queued.endpoint.name, len(chunk)))
                self._resubmitted += sum(1 for key, _ in chunk if key in queued.resubmitted)
                if run_dir is not None:
                    write_json_atomic(run_dir / BATCHES_FILE, self.report().to_json())
        self._queued.clear()
        report = self.report()
        if run_dir is not None:
            write_json_atomic(run_dir / BATCHES_FILE, report.to_json())
        return report

    def report(self) -> BatchReport:
        return BatchReport(
            submitted=tuple(self._submitted), ended=tuple(self._ended), waiting=tuple(self._waiting),
            collected=self._counts["collected"], rejected=self._counts["rejected"],
            queued=sum(batch.n_requests for batch in self._submitted), resubmitted=self._resubmitted,
            pending=self._counts["pending"],
            prompt_tokens=self._counts["prompt_tokens"], completion_tokens=self._counts["completion_tokens"],
            errors=tuple(self._errors))

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        self.ledger.close()


def _chunks(entries: list[tuple[str, dict[str, Any]]], max_requests: int) -> list[list[tuple[str, dict[str, Any]]]]:
    """Entries split to fit a provider's limits on requests and bytes per batch."""
    chunks: list[list[tuple[str, dict[str, Any]]]] = [[]]
    size = 0
    for key, entry in entries:
        length = len(json.dumps(entry, ensure_ascii=False).encode("utf-8")) + 1
        if chunks[-1] and (len(chunks[-1]) >= max_requests or size + length > MAX_BATCH_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append((key, entry))
        size += length
    return [chunk for chunk in chunks if chunk]
