"""What tokens cost: the price table (USD per million tokens, standard and batch), looking a model up in it,
counting a reply's tokens, and the cost of a run's usage per endpoint. The one place that turns token counts into
usage and cost: the runner and the executors count through ``add_tokens``, the run's summary prices through
``usage_report``, the dry run through ``Price.cost``.

The built-in table (judgebench/builtin/prices.yaml) prices the providers' own APIs only; a user's table
(``--prices FILE``, the same format) replaces or adds entries and applies to every endpoint, so a model on a URL
server or the embedded model costs nothing unless the user's table names it. A model is found by its exact name,
else by the longest entry it starts with followed by "-", "@" or ":" (dated snapshots: gpt-4o-2024-08-06 ->
gpt-4o). "." is not a boundary, so gpt-5.1 is not priced as gpt-5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..errors import ConfigError, DataError
from ..formats.common import decode
from ..types import ChatReply, Endpoint, canonical_json, sha256_text
from .providers import provider_of

FIELDS = ("input", "output", "batch_input", "batch_output")
PER_TOKENS = 1_000_000
# What may follow a table entry in a model name for the entry to price it (a snapshot date, a Vertex "@version").
BOUNDARIES = ("-", "@", ":")
BUILTIN_NAME = "judgebench/builtin/prices.yaml"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_FORMAT_HINT = "expected 'models:' mapping each model name to {input: USD, output: USD, batch_input: USD, " \
               "batch_output: USD} per million tokens (batch prices optional)"


@dataclass(frozen=True)
class Price:
    """USD per million tokens, standard and through the provider's batch API."""

    input: float
    output: float
    batch_input: float
    batch_output: float

    def cost(self, prompt_tokens: int, completion_tokens: int, batch: bool = False) -> float:
        """USD for these tokens."""
        per_input, per_output = (self.batch_input, self.batch_output) if batch else (self.input, self.output)
        return (prompt_tokens * per_input + completion_tokens * per_output) / PER_TOKENS


@dataclass(frozen=True)
class PriceEntry:
    """One row of a price table. source: "file:line" where it was defined; builtin: from judgebench's table."""

    model: str
    price: Price
    source: str
    builtin: bool


@dataclass(frozen=True)
class PriceTable:
    """The prices in force: the built-in entries, with a user's file's entries replacing or adding to them."""

    entries: tuple[PriceEntry, ...]
    files: tuple[str, ...] = ()

    @cached_property
    def _by_model(self) -> dict[str, PriceEntry]:
        return {entry.model: entry for entry in self.entries}

    def lookup(self, model: str, *, provider_api: bool = True) -> PriceEntry | None:
        """The entry pricing ``model``: its exact name, else the longest entry it extends past a boundary.
        ``provider_api`` False (a URL server, the embedded model) considers the user's entries only."""
        def usable(entry: PriceEntry | None) -> bool:
            return entry is not None and (provider_api or not entry.builtin)

        exact = self._by_model.get(model)
        if usable(exact):
            return exact
        best: PriceEntry | None = None
        for entry in self.entries:
            if (usable(entry) and len(model) > len(entry.model) and model.startswith(entry.model)
                    and model[len(entry.model)] in BOUNDARIES and (best is None or len(entry.model) > len(best.model))):
                best = entry
        return best

    def for_endpoint(self, endpoint: Endpoint) -> PriceEntry | None:
        """The entry pricing an endpoint's model (the built-in entries only on the providers' own APIs)."""
        return self.lookup(endpoint.model, provider_api=is_provider_api(endpoint))

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int, batch: bool = False, *,
             provider_api: bool = True) -> float:
        """USD for these tokens of ``model``; 0.0 when no entry prices it."""
        entry = self.lookup(model, provider_api=provider_api)
        return entry.price.cost(prompt_tokens, completion_tokens, batch) if entry else 0.0

    @cached_property
    def sha256(self) -> str:
        """A hash of the prices in force (not of where they came from), recorded with every run."""
        return sha256_text(canonical_json({e.model: [getattr(e.price, f) for f in FIELDS] for e in self.entries}))

    def describe(self) -> str:
        return " + ".join(("built-in table", *self.files))


def is_provider_api(endpoint: Endpoint) -> bool:
    """Anthropic, or OpenAI at api.openai.com: the endpoints the built-in table prices (and the ones with a batch
    API). NAME@openai redirected elsewhere with OPENAI_BASE_URL is a server like any other."""
    return provider_of(endpoint).is_own_api(endpoint)


def builtin_path() -> Path:
    return Path(str(files("judgebench") / "builtin" / "prices.yaml"))


def _where(filename: str, node: yaml.Node) -> str:
    return f"{filename}:{node.start_mark.line + 1}"


def _number(filename: str, model: str, field: str, node: yaml.Node) -> float:
    value = None
    if node.tag in _NUMBER_TAGS and isinstance(node.value, str):
        try:
            value = float(node.value.replace("_", ""))
        except ValueError:  # YAML's own spellings (.inf, 0x1f, 1:30) are not prices
            value = None
    if value is None or not math.isfinite(value) or value < 0:
        shown = node.value if isinstance(node.value, str) else "a " + type(node).__name__.replace("Node", "").lower()
        raise ConfigError(f"{_where(filename, node)}: {model}: {field} must be a number of US dollars per million "
                          f"tokens (0 or more), not {shown!r}")
    return value


def _entry(filename: str, model: str, node: yaml.Node, builtin: bool) -> PriceEntry:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{_where(filename, node)}: {model}: {_FORMAT_HINT}")
    values: dict[str, float] = {}
    for key_node, value_node in node.value:
        field = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if field not in FIELDS:
            raise ConfigError(f"{_where(filename, key_node)}: {model}: unknown field {field!r}; the fields are "
                              f"{', '.join(FIELDS)}")
        if field in values:
            raise ConfigError(f"{_where(filename, key_node)}: {model}: {field} is given twice")
        values[field] = _number(filename, model, field, value_node)
    missing = [f for f in ("input", "output") if f not in values]
    if missing:
        raise ConfigError(f"{_where(filename, node)}: {model}: {' and '.join(missing)} missing (USD per million "
                          "tokens)")
    price = Price(values["input"], values["output"], values.get("batch_input", values["input"]),
                  values.get("batch_output", values["output"]))
    return PriceEntry(model, price, _where(filename, node), builtin)


def parse_prices(text: str, filename: str, *, builtin: bool = False) -> list[PriceEntry]:
    """The entries of a price file; anything malformed is a ConfigError naming file:line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{filename}{line}: YAML syntax error: {exc.problem or exc.context or 'syntax'}") from None
    except yaml.reader.ReaderError as exc:  # a NUL byte or another character YAML refuses: not a text file
        at = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{filename}:{at}: a character YAML does not allow ({exc.reason}): is this a text "
                          "file?") from None
    except RecursionError:
        raise ConfigError(f"{filename}: nested thousands of levels deep: not a price file; {_FORMAT_HINT}") from None
    if root is None:
        raise ConfigError(f"{filename}:1: the price file is empty; {_FORMAT_HINT}")
    models = None
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if key_node.value != "models":
                raise ConfigError(f"{_where(filename, key_node)}: unknown key {key_node.value!r}; {_FORMAT_HINT}")
            if models is not None:
                raise ConfigError(f"{_where(filename, key_node)}: 'models' appears twice")
            models = value_node
    if not isinstance(models, yaml.MappingNode):
        raise ConfigError(f"{_where(filename, models or root)}: {_FORMAT_HINT}")
    entries: dict[str, PriceEntry] = {}
    for key_node, value_node in models.value:
        if not isinstance(key_node, yaml.ScalarNode) or not str(key_node.value).strip():
            raise ConfigError(f"{_where(filename, key_node)}: a model name must be a plain string")
        model = str(key_node.value)
        if model in entries:
            raise ConfigError(f"{_where(filename, key_node)}: model {model!r} appears twice (first at "
                              f"{entries[model].source})")
        entries[model] = _entry(filename, model, value_node, builtin)
    return list(entries.values())


def _read(path: Path) -> str:
    try:
        return decode(path.read_bytes(), str(path))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the price file: {exc.strerror}") from None
    except DataError as exc:
        raise ConfigError(str(exc)) from None


@lru_cache(maxsize=1)
def builtin_prices() -> PriceTable:
    # Named as in the source tree, not by its install path: the name is recorded with every run's prices.
    return PriceTable(tuple(parse_prices(_read(builtin_path()), BUILTIN_NAME, builtin=True)))


def load_prices(path: Path | None = None) -> PriceTable:
    """The built-in table, with the entries of ``path`` (a user's price file) replacing or adding to it."""
    table = builtin_prices()
    if path is None:
        return table
    user = parse_prices(_read(path), str(path))
    replaced = {entry.model for entry in user}
    kept = tuple(entry for entry in table.entries if entry.model not in replaced)
    return PriceTable((*kept, *user), (*table.files, str(path)))


def cost(model: str, prompt_tokens: int, completion_tokens: int, batch: bool = False,
         table: PriceTable | None = None) -> float:
    """USD for ``model``'s tokens at the prices of ``table`` (default: the built-in one)."""
    return (table or builtin_prices()).cost(model, prompt_tokens, completion_tokens, batch)


def price_json(entry: PriceEntry | None) -> dict[str, Any] | None:
    """An entry as recorded in a run's summary: which entry priced the model, its prices and where they came from."""
    if entry is None:
        return None
    return {"entry": entry.model, "source": entry.source, **{f: getattr(entry.price, f) for f in FIELDS}}


class TokenCounts(Protocol):
    """What a run counts, in all and per endpoint (run.runner.Counters): calls sent (each retry included), cache
    hits, retries, failed calls, and the tokens the servers reported."""

    requests: int
    cache_hits: int
    retries: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int


def add_tokens(reply: ChatReply, *counts: TokenCounts) -> None:
    """Count the tokens of a reply this run paid for in each of ``counts`` (the run's totals, its endpoint's); a
    server that reports none counts 0."""
    prompt, completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
    for count in counts:
        count.prompt_tokens += prompt
        count.completion_tokens += completion


@dataclass(frozen=True)
class EndpointUsage:
    """What one endpoint was sent in a run and what it cost. cost_usd: at the batch prices when ``batch``.
    price: the table entry used (None: no entry prices the model, so it cost nothing)."""

    endpoint: str
    model: str
    requests: int
    cache_hits: int
    retries: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    batch: bool = False
    price: PriceEntry | None = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "requests": self.requests, "cache_hits": self.cache_hits,
                "retries": self.retries, "failed_calls": self.failed_calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd, "batch": self.batch,
                "price": price_json(self.price)}


def usage_report(usage: Mapping[str, TokenCounts], endpoints: Iterable[Endpoint], prices: PriceTable,
                 batch: Iterable[str] = ()) -> tuple[EndpointUsage, ...]:
    """Tokens and cost per endpoint name, from the runner's per-endpoint counters. ``batch``: names of endpoints
    whose requests went through the provider's batch API (charged the batch prices)."""
    by_name = {endpoint.name: endpoint for endpoint in endpoints}
    batched = set(batch)
    report = []
    for name, counters in sorted(usage.items()):
        endpoint = by_name.get(name)
        entry = prices.for_endpoint(endpoint) if endpoint else prices.lookup(name, provider_api=False)
        in_batch = name in batched
        spent = entry.price.cost(counters.prompt_tokens, counters.completion_tokens, in_batch) if entry else 0.0
        report.append(EndpointUsage(name, endpoint.model if endpoint else name, counters.requests,
                                    counters.cache_hits, counters.retries, counters.failed_calls,
                                    counters.prompt_tokens, counters.completion_tokens, spent, in_batch, entry))
    return tuple(report)


__all__ = ["EndpointUsage", "Price", "PriceEntry", "PriceTable", "TokenCounts", "add_tokens", "builtin_prices", "cost",
           "is_provider_api", "load_prices", "parse_prices", "usage_report"]
