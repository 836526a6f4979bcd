"""Tokens and cost as plain-text tables: what a dry run would send (`judgebench run --dry-run`) and what a run
sent (printed after every run)."""

from __future__ import annotations

from collections.abc import Sequence

from ..clients.pricing import EndpointUsage, PriceEntry
from ..run.plan import EndpointPlan, RunPlan
from .tables import render_table


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if value < 100 else f"{value:,.2f}"


def _price(entry: PriceEntry | None) -> str:
    return "free (no price)" if entry is None else f"{entry.model} {entry.price.input:g}/{entry.price.output:g}"


def _upto(typical: str, most: str) -> str:
    return typical if typical == most else f"{typical} (up to {most})"


def format_plan_rows(endpoints: Sequence[EndpointPlan]) -> str:
    """One line per endpoint: requests to send and cached, tokens and cost (typical, and at most: every answer
    running to max_tokens)."""
    header = ["endpoint", "model", "send", "cached", "input tokens", "output tokens", "cost USD", "batch USD",
              "price per 1M in/out"]
    body = [[e.endpoint, e.model, str(e.to_send), str(e.cached),
             _upto(f"{e.input_tokens:,}", f"{e.input_tokens_max:,}"),
             _upto(f"{e.output_tokens:,}", f"{e.output_tokens_max:,}"),
             _upto(_usd(e.cost_usd), _usd(e.cost_usd_max)),
             _upto(_usd(e.batch_cost_usd), _usd(e.batch_cost_usd_max)), _price(e.price)] for e in endpoints]
    return render_table(header, body)


def format_plan(plan: RunPlan) -> str:
    """A task's dry run: the table, and how its numbers were estimated."""
    typical = [f"{e.endpoint} from {e.typical_from} cached replies" for e in plan.endpoints if e.typical_from]
    notes = [f"dry run of {plan.task} ({plan.kind}, {plan.n_items} items): {plan.to_send} requests to send, "
             f"{plan.cached} in the cache; nothing was sent or written",
             format_plan_rows(plan.endpoints),
             f"tokens estimated: {plan.estimator}; typical output length: "
             + ("; ".join(typical) if typical else "the max_tokens bound (no cached reply to learn from)"),
             f"prices: {plan.prices}; batch = the provider's batch API ('-': the endpoint has none)"]
    return "\n".join(notes)


def format_usage(usage: Sequence[EndpointUsage]) -> str:
    """What each endpoint was sent in a run and what it cost."""
    header = ["endpoint", "model", "requests", "cached", "prompt tokens", "completion tokens", "cost USD", "price"]
    body = [[u.endpoint, u.model, str(u.requests), str(u.cache_hits), f"{u.prompt_tokens:,}",
             f"{u.completion_tokens:,}", _usd(u.cost_usd) + (" (batch)" if u.batch else ""), _price(u.price)]
            for u in usage]
    return render_table(header, body)
