"""What a judge costs per 1,000 judgments, from the tokens its recorded requests used: a judgebench run keeps each
judgment's calls (prompt and completion tokens) and, in its config.json, the endpoint each judge was served by, which
the price table (clients.pricing) prices as the run's own cost report does. Other harnesses' files keep no tokens:
their judges are priced by the user (`--cost-per-1000`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..clients.pricing import PriceEntry, PriceTable
from ..formats import judgebench as ours
from ..formats import read_sources
from ..formats.sources import Source
from ..types import Endpoint, Judgment

_ENDPOINT_FIELDS = {f.name for f in fields(Endpoint)}


def _endpoint(value: Any) -> Endpoint | None:
    """An endpoint as a run's config.json records it (Endpoint.public); None where it cannot be rebuilt."""
    if not isinstance(value, dict):
        return None
    known = {k: v for k, v in value.items() if k in _ENDPOINT_FIELDS}
    known["replicas"] = tuple(known.get("replicas") or ())
    try:
        return Endpoint(**known)
    except TypeError:
        return None


def run_endpoints(source: Source) -> dict[str, Endpoint]:
    """A run's judges by name -> their endpoints (none for another harness's file)."""
    if source.run_id is None:
        return {}
    judges = ours.read_config(Path(source.label)).get("judges")
    found = {}
    for judge in judges if isinstance(judges, list) else []:
        endpoint = _endpoint(judge.get("endpoint")) if isinstance(judge, dict) else None
        if endpoint is not None and isinstance(judge.get("name"), str):
            found[judge["name"]] = endpoint
    return found


def judgment_cost(judgment: Judgment, entry: PriceEntry) -> float | None:
    """USD for a judgment's requests at ``entry``'s prices; None when none of them recorded its tokens."""
    calls = [c for c in judgment.calls if c.prompt_tokens is not None or c.completion_tokens is not None]
    if not calls:
        return None
    return sum(entry.price.cost(c.prompt_tokens or 0, c.completion_tokens or 0) for c in calls)


def token_costs(paths: Sequence[Path], prices: PriceTable, fmt: str = "auto") -> dict[str, float]:
    """Per judge, USD per 1,000 judgments: the mean priced cost of its judgments that recorded tokens, for the
    judges whose endpoint the price table prices (a cached reply is counted at what it cost when it was asked)."""
    spent: dict[str, list[float]] = {}
    for path in paths:
        for source in read_sources(path, fmt):
            endpoints = run_endpoints(source)
            for judgment in source.judgments:
                endpoint = endpoints.get(judgment.judge)
                entry = prices.for_endpoint(endpoint) if endpoint is not None else None
                cost = judgment_cost(judgment, entry) if entry is not None else None
                if cost is not None:
                    spent.setdefault(judgment.judge, []).append(cost)
    return {judge: 1000 * sum(costs) / len(costs) for judge, costs in spent.items()}


__all__ = ["judgment_cost", "run_endpoints", "token_costs"]
