"""What a run would send and what it would cost, sending nothing: `judgebench run --dry-run`.

The run is walked as evaluate runs it, with the same request builders: every item's turns in order, then every
judge's requests for every answer. Each request is looked up in the cache: a cached reply is free and its text is
what the next step sees (turn 2 is asked after turn 1's cached answer, the judge sees the cached answer); an
uncached request is counted and priced, and a placeholder answer of its estimated length stands in for it.

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
from ..errors import ConfigError
from ..formats import read_answers
from ..judging.answers import split_reasoning
from ..judging.kinds import kind_of
from ..judging.requests import generation_request
from ..types import Candidate, ChatReply, ChatRequest, Endpoint, Item, Judge, Task
from .cache import Cache
from .evaluate import RunConfig, select_items

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


def placeholder_answer(tokens: int) -> str:
    """Text that the bytes / 4 rule counts as ``tokens`` tokens (at least one): what stands in for an answer that
    is not in the cache, so that later prompts have the length they would have."""
    return "xxx " * max(1, tokens)


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the walk and its cached reply (None: it would be sent)."""

    request: ChatRequest
    cached: ChatReply | None


def walk(task: Task, items: Sequence[Item], model: Endpoint | None, judges: Sequence[Judge],
         supplied: Sequence[Candidate] | None, lookup: Lookup,
         answer_tokens: Callable[[ChatRequest], int]) -> list[PlannedRequest]:
    """Every request the run would make, in the order evaluate makes them. ``answer_tokens``: the length of the
    placeholder that stands in for an uncached generation's answer."""
    planned: list[PlannedRequest] = []

    def ask(request: ChatRequest) -> ChatReply | None:
        reply = lookup(request)
        planned.append(PlannedRequest(request, reply))
        return reply

    if supplied is not None:
        candidates = list(supplied)
    else:
        if model is None:
            raise ValueError("a run without answers needs a model endpoint")
        candidates = []
        for item in items:
            answers: list[str] = []
            for _ in item.turns:
                request = generation_request(task, item, model, tuple(answers))
                reply = ask(request)
                answers.append(split_reasoning(reply.text, reply.reasoning)[0] if reply
                               else placeholder_answer(answer_tokens(request)))
            candidates.append(Candidate(task.benchmark, item.id, model.name, tuple(answers),
                                        task.generation_for(item.category)))
    kind = kind_of(task.kind)
    by_id = {item.id: item for item in items}
    for judge in judges:
        for candidate in candidates:
            if candidate.ok:
                for judge_request in kind.requests(task, candidate, by_id[candidate.item_id], judge):
                    ask(judge_request.chat)
    return planned


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


def plan_task(task: Task, items: Sequence[Item], model: Endpoint | None, judges: Sequence[Judge],
              supplied: Sequence[Candidate] | None, lookup: Lookup, prices: PriceTable) -> RunPlan:
    """The dry run of one task, given a cache lookup. Pure but for ``lookup``.

    The walk is made twice: with every uncached answer at its bound (the _max figures, and the cached replies
    that give each endpoint's typical completion length), then with answers of typical length. Which requests
    are cached is the same in both: a request that shows a placeholder can never be in the cache."""
    bounded = walk(task, items, model, judges, supplied, lookup, max_tokens)
    shares = _typical_shares(bounded)
    typical = bounded if not shares else walk(task, items, model, judges, supplied, lookup,
                                              lambda request: _typical(request, shares))
    return RunPlan(task.name, task.kind, len(items), _endpoint_plans(typical, bounded, prices, shares),
                   prices.describe())


def plan_run(task: Task, config: RunConfig, prices: PriceTable) -> RunPlan:
    """The dry run of ``evaluate(task, config)``: reads the task's answers file and the cache (if it exists; a
    missing cache is not created), sends nothing and writes no results."""
    if kind_of(task.kind).compares_models:
        raise ConfigError(f"--dry-run does not plan battles yet (task {task.name!r}): run without it")
    items = select_items(task, config.limit)
    supplied = read_answers(config.answers_file, task, items) if config.answers_file else None
    if not config.cache_path.exists():
        return plan_task(task, items, config.model, config.judges, supplied, lambda _: None, prices)
    cache = Cache(config.cache_path)
    try:
        return plan_task(task, items, config.model, config.judges, supplied, cache.get, prices)
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


__all__ = ["EndpointPlan", "PlannedRequest", "RunPlan", "estimate_prompt_tokens", "estimate_tokens", "max_tokens",
           "plan_run", "plan_task", "total", "walk"]
