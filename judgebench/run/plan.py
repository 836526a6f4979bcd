"""What a run would send and what it would cost, sending nothing: `judgebench run --dry-run`.

The dry run is the real run (run.evaluate's schedule, run.pipeline's steps) with an executor that sends nothing
(run.executors.DryRun), so it makes the requests the real run makes, by construction. Each request is looked up in
the cache: a cached reply is free and its text is what the next step sees (turn 2 is asked after turn 1's cached
answer, the judge sees the cached answer); an uncached request is counted and priced, and a placeholder answer of
its estimated length stands in for it. Nothing is written.

Token estimate: tiktoken is not a dependency (and fetches its vocabularies from the internet on first use), so
prompt tokens are the UTF-8 bytes of the rendered messages divided by 4 (rounded up per message: about right for
English with GPT and Claude tokenizers, low for text in non-Latin scripts), plus 4 tokens of framing per message
and 3 for the reply's start, plus the response schema's bytes / 4 where one is sent. Completion tokens are bounded
by the request's max_tokens. The typical completion length of an endpoint is learned from the replies of this run
that are already in the cache (their reported completion tokens as a share of their max_tokens); with none to
learn from, the typical length is the bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from ..clients.pricing import PriceEntry, PriceTable, is_provider_api
from ..types import Candidate, ChatReply, ChatRequest, Endpoint, Item, Judge, Task
from .cache import Cache
from .config import MIN_WINDOW, RunConfig
from .evaluate import run_sync, select_items, work_for
from .executors import DryRun, PlannedRequest, placeholder_answer
from .pipeline import NullSink, Pipeline, Work, asks_of, one_model_work

BYTES_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4
REPLY_OVERHEAD_TOKENS = 3
# A request without max_tokens (a task whose generation settings leave it out): the bound the Anthropic backend
# sends, since an OpenAI-compatible server has none of its own but its context length.
DEFAULT_MAX_TOKENS = 1024
ESTIMATOR = "UTF-8 bytes / 4 per message + 4 per message + 3; completions bounded by max_tokens"

Lookup = Callable[[ChatRequest], ChatReply | None]


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` by the bytes / 4 rule."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Prompt tokens a request's messages (and response schema) would be billed as, by the bytes / 4 rule."""
    messages = sum(estimate_tokens(content) + MESSAGE_OVERHEAD_TOKENS for _, content in request.messages)
    schema = estimate_tokens(request.response_schema) if request.response_schema else 0
    return messages + REPLY_OVERHEAD_TOKENS + schema


def max_tokens(request: ChatRequest) -> int:
    """The most completion tokens the request allows."""
    value = dict(request.params).get("max_tokens")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_TOKENS


def dry_run(task: Task, judges: Sequence[Judge], work: Work, lookup: Lookup,
            answer_tokens: Callable[[ChatRequest], int]) -> list[PlannedRequest]:
    """Every request ``work`` makes, in the order the run makes them, through the dry-run executor.
    ``answer_tokens``: the length of the placeholder that stands in for an uncached reply."""
    executor = DryRun(lookup, answer_tokens)

    async def run() -> None:
        await work.run(Pipeline(task, tuple(judges), executor, NullSink(), MIN_WINDOW))

    run_sync(run())
    return executor.planned


def walk(task: Task, items: Sequence[Item], model: Endpoint | None, judges: Sequence[Judge],
         supplied: Sequence[Candidate] | None, lookup: Lookup,
         answer_tokens: Callable[[ChatRequest], int]) -> list[PlannedRequest]:
    """Every request a one-model run of ``items`` would make, in the order it makes them."""
    return dry_run(task, judges, one_model_work(task, items, model, supplied, asks_of(judges)), lookup, answer_tokens)


@dataclass(frozen=True)
class EndpointPlan:
    """What one endpoint would be sent. input_tokens / output_tokens: estimates with answers of typical length;
    the _max figures: if every answer ran to max_tokens. typical_from: cached replies the typical completion
    length was learned from (0: typical = bound). Costs are None where the endpoint has no batch API (batch) or
    are 0.0 where no price entry names the model (price None)."""

    endpoint: str
    model: str
    to_send: int
    cached: int
    input_tokens: int
    input_tokens_max: int
    output_tokens: int
    output_tokens_max: int
    typical_from: int
    price: PriceEntry | None
    cost_usd: float
    cost_usd_max: float
    batch_cost_usd: float | None
    batch_cost_usd_max: float | None


@dataclass(frozen=True)
class RunPlan:
    """A dry run of one task: per endpoint, what would be sent and what it would cost."""

    task: str
    kind: str
    n_items: int
    endpoints: tuple[EndpointPlan, ...]
    prices: str
    estimator: str = ESTIMATOR

    @property
    def to_send(self) -> int:
        return sum(e.to_send for e in self.endpoints)

    @property
    def cached(self) -> int:
        return sum(e.cached for e in self.endpoints)


def _typical_shares(planned: Iterable[PlannedRequest]) -> dict[str, tuple[float, int]]:
    """Per endpoint name: cached completion tokens as a share of their max_tokens, and how many replies."""
    used: dict[str, list[int]] = {}
    for p in planned:
        if p.cached is not None and p.cached.completion_tokens is not None:
            totals = used.setdefault(p.request.endpoint.name, [0, 0, 0])
            totals[0] += p.cached.completion_tokens
            totals[1] += max_tokens(p.request)
            totals[2] += 1
    return {name: (min(1.0, done / bound), n) for name, (done, bound, n) in used.items()}


def _endpoint_plans(planned: list[PlannedRequest], bounded: list[PlannedRequest], prices: PriceTable,
                    shares: dict[str, tuple[float, int]]) -> tuple[EndpointPlan, ...]:
    plans: dict[str, EndpointPlan] = {}
    for p, p_max in zip(planned, bounded, strict=True):
        endpoint = p.request.endpoint
        name = endpoint.name
        if name not in plans:
            entry = prices.for_endpoint(endpoint)
            plans[name] = EndpointPlan(name, endpoint.model, 0, 0, 0, 0, 0, 0, shares.get(name, (1.0, 0))[1], entry,
                                       0.0, 0.0, 0.0 if is_provider_api(endpoint) else None,
                                       0.0 if is_provider_api(endpoint) else None)
        plan = plans[name]
        if p.cached is not None:
            plans[name] = replace(plan, cached=plan.cached + 1)
            continue
        bound = max_tokens(p.request)
        plans[name] = replace(plan, to_send=plan.to_send + 1,
                              input_tokens=plan.input_tokens + estimate_prompt_tokens(p.request),
                              input_tokens_max=plan.input_tokens_max + estimate_prompt_tokens(p_max.request),
                              output_tokens=plan.output_tokens + _typical(p.request, shares),
                              output_tokens_max=plan.output_tokens_max + bound)
    return tuple(_priced(plan) for plan in plans.values())


def _typical(request: ChatRequest, shares: dict[str, tuple[float, int]]) -> int:
    share = shares.get(request.endpoint.name, (1.0, 0))[0]
    return max(1, round(share * max_tokens(request)))


def _priced(plan: EndpointPlan) -> EndpointPlan:
    if plan.price is None:
        return plan
    price = plan.price.price
    batch = plan.batch_cost_usd is not None
    return replace(
        plan, cost_usd=price.cost(plan.input_tokens, plan.output_tokens),
        cost_usd_max=price.cost(plan.input_tokens_max, plan.output_tokens_max),
        batch_cost_usd=price.cost(plan.input_tokens, plan.output_tokens, batch=True) if batch else None,
        batch_cost_usd_max=price.cost(plan.input_tokens_max, plan.output_tokens_max, batch=True) if batch else None)


def _plan(task: Task, n_items: int, judges: Sequence[Judge], make_work: Callable[[], Work], lookup: Lookup,
          prices: PriceTable) -> RunPlan:
    """The dry run twice: with every uncached answer at its bound (the _max figures, and the cached replies that
    give each endpoint's typical completion length), then with answers of typical length. Which requests are
    cached is the same in both: a request that shows a placeholder can never be in the cache."""
    bounded = dry_run(task, judges, make_work(), lookup, max_tokens)
    shares = _typical_shares(bounded)
    typical = bounded if not shares else dry_run(task, judges, make_work(), lookup,
                                                 lambda request: _typical(request, shares))
    return RunPlan(task.name, task.kind, n_items, _endpoint_plans(typical, bounded, prices, shares), prices.describe())


def plan_task(task: Task, items: Sequence[Item], model: Endpoint | None, judges: Sequence[Judge],
              supplied: Sequence[Candidate] | None, lookup: Lookup, prices: PriceTable) -> RunPlan:
    """The dry run of a one-model task, given a cache lookup. Pure but for ``lookup``."""
    return _plan(task, len(items), judges, lambda: one_model_work(task, items, model, supplied, asks_of(judges)),
                 lookup, prices)


def plan_run(task: Task, config: RunConfig, prices: PriceTable) -> RunPlan:
    """The dry run of ``evaluate(task, config)``: the same schedule (one-model or battles), reading the task's
    answers files and the cache (if it exists; a missing cache is not created), sending nothing and writing no
    results."""
    items = select_items(task, config.limit, config.item_ids)

    def make_work() -> Work:  # the real run's schedule, and its checks
        return work_for(task, config, items, DryRun(lambda _: None, max_tokens))

    if not config.cache_path.exists():
        return _plan(task, len(items), config.judges, make_work, lambda _: None, prices)
    cache = Cache(config.cache_path)
    try:
        return _plan(task, len(items), config.judges, make_work, cache.get, prices)
    finally:
        cache.close()


def total(plans: Sequence[RunPlan]) -> tuple[EndpointPlan, ...]:
    """Several tasks' plans summed per endpoint (the typical length learned per task; costs add up)."""
    found: dict[str, EndpointPlan] = {}
    for plan in plans:
        for e in plan.endpoints:
            if e.endpoint not in found:
                found[e.endpoint] = e
                continue
            s = found[e.endpoint]
            found[e.endpoint] = replace(
                s, to_send=s.to_send + e.to_send, cached=s.cached + e.cached,
                input_tokens=s.input_tokens + e.input_tokens, input_tokens_max=s.input_tokens_max + e.input_tokens_max,
                output_tokens=s.output_tokens + e.output_tokens,
                output_tokens_max=s.output_tokens_max + e.output_tokens_max,
                typical_from=s.typical_from + e.typical_from, cost_usd=s.cost_usd + e.cost_usd,
                cost_usd_max=s.cost_usd_max + e.cost_usd_max,
                batch_cost_usd=_add(s.batch_cost_usd, e.batch_cost_usd),
                batch_cost_usd_max=_add(s.batch_cost_usd_max, e.batch_cost_usd_max))
    return tuple(found.values())


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


__all__ = ["EndpointPlan", "PlannedRequest", "RunPlan", "dry_run", "estimate_prompt_tokens", "estimate_tokens",
           "max_tokens", "placeholder_answer", "plan_run", "plan_task", "total", "walk"]
