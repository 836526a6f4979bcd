"""The boundary types: frozen dataclasses that pass between judgebench's modules.

Nothing here does I/O. A missing score is ``None`` with a reason, never a sentinel string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal

import orjson

# The name of a task kind ("single", "pairwise"); its behaviour lives in one strategy object
# (judgebench.judging.kinds), looked up by this name.
TaskKind = str
# "pending": waiting in a provider's batch (run --batch); never scored, collected by a later run. "excluded": left out
# on purpose, not failed (a human arena's vote on a battle where an answer gave its model away); never scored.
# "filtered": the server stopped the judge's reply for its content (a content filter, a refusal); failed, asked again.
# "split": a judge asked K times (``,repeats=K``) whose asks split evenly on a rubric criterion: no majority verdict.
# Failed and final: every ask parsed and is cached, so a rerun reads the same split (FINAL_FAILURES).
FailureKind = Literal["parse", "truncated", "request", "filtered", "no_answer", "empty", "pending", "excluded",
                      "split"]
# Failures a rerun cannot change (what it asks again gets the same cached replies): never advertised as retryable.
FINAL_FAILURES: tuple[FailureKind, ...] = ("split",)
# Judgments without a value that have not failed: counted apart, never as failures.
NOT_FAILED: tuple[FailureKind, ...] = ("pending", "excluded")
# The error of an "excluded" judgment starts so, followed by why (an arena vote: what gave the model away).
LEFT_OUT = "left out: "
Position = Literal["single", "AB", "BA"]
Provider = Literal["openai", "anthropic", "local"]
# How an OpenAI-compatible endpoint is spoken to: the openai SDK, or the lean aiohttp client (clients/backends/lean.py).
Transport = Literal["sdk", "lean"]
Winner = Literal["A", "B", "tie"]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# orjson's options for ``canonical_json``'s bytes: keys sorted, and every subclass, dataclass or date left to json.
_CANONICAL = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
              | orjson.OPT_PASSTHROUGH_DATETIME)


def _orjson_writes_as_json(value: Any) -> bool:
    """Whether orjson writes ``value`` byte for byte as ``canonical_json`` does, if it writes it at all: plain
    values only (no subclass, no other type), and floats only where both write the same digits (json switches to
    an exponent below 1e-4 and from 1e16 on; orjson writes non-finite floats as null). Strings are written alike
    (orjson refuses a lone surrogate, which json writes)."""
    kind = type(value)
    if kind is float:
        return value == 0 or 1e-4 <= abs(value) < 1e16
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is list or kind is tuple:
        return all(_orjson_writes_as_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _orjson_writes_as_json(v) for k, v in value.items())
    return False


_WHOLE = object()


def canonical_sha256(value: Any, plain: Any = _WHOLE) -> str:
    """sha256 of ``canonical_json(value)``, written by orjson (several times faster) when ``plain`` (the parts of
    ``value`` that may hold more than strings; by default the whole of it) passes ``_orjson_writes_as_json``: the
    same bytes, so the same hash."""
    if _orjson_writes_as_json(value if plain is _WHOLE else plain):
        try:
            return hashlib.sha256(orjson.dumps(value, option=_CANONICAL)).hexdigest()
        except (orjson.JSONEncodeError, TypeError):
            pass
    return sha256_text(canonical_json(value))


@dataclass(frozen=True, slots=True)
class Item:
    """One question of a task.

    id: unique within the task. category: e.g. "writing" or "math". turns: the user's messages, in
    order. reference: a reference answer per turn for categories that grade against one (empty when
    none). source: "file:line" where the item was defined, for error messages.
    """

    id: str
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] = ()
    source: str = ""
    # A rubric task's criteria for this item: the task's own (``rubric:`` at the top), then the item's. Empty for
    # every other kind.
    criteria: tuple[Criterion, ...] = ()
    # The conversation before the first turn as a benchmark wrote it, (role, text) each (HealthBench's and
    # WildBench's multi-turn conversations: formats.conversations): the judged model answers the turns after it,
    # and a rubric's judge is shown it. Empty for items of the task's own turns.
    context: tuple[tuple[str, str], ...] = ()


CriterionScope = Literal["task", "item"]
# What joins a criterion's tags in a table's ``tags`` column (formats.criteria): a tag cannot hold it (task files,
# sources and judgment records refuse one that does), so splitting the column on it gives the tags back.
TAG_SEPARATOR = ","


@dataclass(frozen=True)
class Criterion:
    """One criterion of a rubric task (judging.rubric).

    id: unique within its item ("c1", "c2", ... by position when the file gives none); a task-level criterion has
    the same id in every item. text: what the judge checks. points: nonzero; negative for what an answer must not do
    (met = a penalty). tags: free labels results are grouped by. source: "file:line" of its definition. scope:
    "task" (the task's ``rubric:``, applied to every item) or "item" (the item's own). levels: a score rubric's
    description of each level, lowest first (``judge.style: score``); empty for a yes/no criterion.
    """

    id: str
    text: str
    points: float
    tags: tuple[str, ...] = ()
    source: str = ""
    scope: CriterionScope = "item"
    levels: tuple[str, ...] = ()


# How a rubric task asks its judge: one request per criterion, or one structured reply with every verdict.
RubricMode = Literal["per_criterion", "all_at_once"]
# The variants of the rubric kind: criteria with points (HealthBench), yes/no questions worth a point each
# (WildBench's checklists), or one criterion with a description per level (Prometheus 2's score rubrics).
RubricStyle = Literal["points", "checklist", "score"]


@dataclass(frozen=True)
class RubricSpec:
    """A rubric task's settings (``judge.mode``, ``judge.style``) and its task-level criteria (``rubric:``), which
    every item's ``criteria`` already starts with."""

    mode: RubricMode = "all_at_once"
    style: RubricStyle = "points"
    criteria: tuple[Criterion, ...] = ()


@dataclass(frozen=True)
class CriterionVerdict:
    """The judge's verdict on one criterion of one answer. met: whether the answer meets it (None where the verdict
    is missing or did not parse, or for a score rubric); level: the level picked (score rubrics). The criterion's
    text, points, tags and scope travel with it, so results describe themselves without the task file."""

    id: str
    met: bool | None
    points: float
    tags: tuple[str, ...] = ()
    text: str = ""
    scope: CriterionScope = "item"
    level: float | None = None


@dataclass(frozen=True)
class RubricVerdict:
    """A rubric judgment's verdict: every criterion's (those that did not parse with ``met`` None) and the item's
    score in [0, 1] (stats.rubric.rubric_score), None unless every criterion has a verdict. level: a score rubric's
    picked level (1 = lowest; a repeated judge's mean level, so maybe fractional)."""

    criteria: tuple[CriterionVerdict, ...]
    score: float | None = None
    level: float | None = None

    @property
    def complete(self) -> bool:
        return all(c.met is not None or c.level is not None for c in self.criteria)


@dataclass(frozen=True)
class JudgeSpec:
    """How a task asks its judge.

    prompt / reference_prompt: jinja template names (reference_prompt is used for categories in
    ``reference_categories``). scale: inclusive score range for single grading. labels: verdict labels
    for pairwise grading, in the order (first answer better, second answer better, tie).
    """

    prompt: str
    reference_prompt: str | None = None
    reference_categories: tuple[str, ...] = ()
    scale: tuple[int, int] = (1, 10)
    labels: tuple[str, ...] = ("A", "B", "C")
    max_tokens: int = 512
    temperature: float = 0.0
    # An empty (or whitespace-only) answer is never shown to the judge: "lowest" scores it as the scale's lowest
    # grade / a loss, "skip" records it as failed ("empty") and leaves it out of the score.
    on_empty: Literal["lowest", "skip"] = "lowest"
    # FastChat's own judge prompts (judging.fastchat_prompts), when the task names them: ``prompt`` and
    # ``reference_prompt`` are then FastChat prompt names (single-v1, single-math-v1).
    fastchat_prompts: tuple[Any, ...] = ()
    # A published protocol's own files (its prompt template, its config), by the name the task kind reads them
    # by: name -> local path, each read by URL with a sha256 (or from a local path) by the task loader.
    files: tuple[tuple[str, str], ...] = ()
    # A task kind's own settings (``judge.options:``), checked by that kind (JudgingKind.check).
    options: tuple[tuple[str, Any], ...] = ()

    def file(self, name: str) -> str:
        """The local path of the protocol file ``name`` (the task loader checked it is there)."""
        return dict(self.files)[name]

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class BattlesSpec:
    """How a ``battles`` task schedules its battles between candidate models (judgebench.judging.schedule).

    schedule: "all-pairs" (every pair on every item), "baseline" (every model against ``baseline`` on every item)
    or "sampled" (``budget`` battles in rounds: ``cover`` per pair first, then where the ranking is least
    certain). budget / cover: None for the defaults (run.battles.sampled_budget). seed: the sampled schedule's
    random seed, so a rerun schedules the same battles (and is served from the cache).
    """

    schedule: str = "all-pairs"
    baseline: str | None = None
    budget: int | None = None
    cover: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Task:
    """A benchmark: items, how candidates are generated, how the judge is asked.

    benchmark: the benchmark's canonical name (judgebench.formats.identity), shared with every other harness's
    files of the same benchmark; defaults to the task's name. protocol: how the judge is asked and its verdicts
    scored (a published protocol's name, e.g. "alpaca-eval-2.0", or the task's name): part of every judgment's
    identity, so judgments of one protocol never supersede another's. kind: "single" (score each turn on
    ``judge.scale``), "pairwise" (compare with the reference model's answers in both orders) or "battles" (compare
    candidate models with each other, scheduled by ``battles``). reference_model / reference_answers: pairwise
    only, answers keyed by item id. path: the YAML file the task came from.
    """

    name: str
    kind: TaskKind
    items: tuple[Item, ...]
    judge: JudgeSpec
    benchmark: str = ""
    description: str = ""
    generation: tuple[tuple[str, Any], ...] = (("max_tokens", 256), ("temperature", 0.0))
    reference_model: str | None = None
    reference_answers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    path: str = ""
    prompt_dirs: tuple[str, ...] = ()
    battles: BattlesSpec | None = None  # kind "battles" only
    rubric: RubricSpec | None = None  # kind "rubric" only
    protocol: str = ""
    # category -> sampling parameters that replace ``generation``'s for its items (``generation.by_category``).
    generation_by_category: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def __repr__(self) -> str:
        # Not the dataclass's: it would write out every item, and a repr is asked for where nobody reads it
        # (asyncio formats the main task's result when asyncio.run restores the SIGINT handler: a run's result
        # holds its task, so `asyncio.run(aevaluate(...))` of 100,000 items built a repr of some 30 MB).
        return (f"Task(name={self.name!r}, kind={self.kind!r}, protocol={self.protocol!r}, "
                f"items={len(self.items):,}, path={self.path!r})")

    def generation_params(self) -> dict[str, Any]:
        return dict(self.generation)

    def generation_for(self, category: str) -> tuple[tuple[str, Any], ...]:
        """The sampling parameters sent for an item of ``category``: ``generation`` with that category's own."""
        own = dict(self.generation_by_category).get(category)
        return tuple(sorted({**dict(self.generation), **dict(own)}.items())) if own else self.generation

    @cached_property
    def _references(self) -> dict[str, tuple[str, ...]]:
        # Built once per task: a lookup per judged item must not rebuild the map (quadratic in the items).
        return dict(self.reference_answers)

    def reference_for(self, item_id: str) -> tuple[str, ...]:
        return self._references[item_id]

    @cached_property
    def _items(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def item(self, item_id: str) -> Item:
        """The item with this id (KeyError when there is none)."""
        return self._items[item_id]


@dataclass(frozen=True)
class Endpoint:
    """Where a model is served.

    provider: "openai" (any OpenAI-compatible server: vLLM, llama.cpp, SGLang, OpenAI), "anthropic",
    or "local" (a llama.cpp server started by judgebench: the embedded one, or ``llamacpp:PATH.gguf``). name: the
    label used in results.
    model: the model id sent to the server. api_key_env: the *name* of the environment variable that
    holds the key; the key itself never enters an Endpoint, so it cannot reach a result or a log.
    cache_identity: what identifies the server in the cache key (defaults to the base URL; the embedded
    server uses the model file, since its port changes on every start). transport: the client for an
    OpenAI-compatible endpoint ("sdk" or "lean"); it cannot change an answer, so it is not part of ``identity``;
    nor are ``concurrency`` and ``slots`` (how many requests are sent at once, and the most there may be).
    """

    provider: Provider
    name: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = 4
    cache_identity: str | None = None
    # Further base URLs serving the same model (``NAME@URL1,URL2``): requests are spread over all of them.
    replicas: tuple[str, ...] = ()
    transport: Transport = "sdk"
    # The most requests each replica's server answers at once (a served llama.cpp server's slots): more in flight
    # would only queue inside the server, where the wait counts against the client's timeout. None: no known limit.
    slots: int | None = None

    def identity(self) -> str:
        if self.cache_identity:
            return self.cache_identity
        if self.replicas:  # any replica may answer: the set, in any order, is the server
            return ",".join(sorted({self.base_url or "", *self.replicas}))
        return self.base_url or self.provider

    def replica_urls(self) -> tuple[str | None, ...]:
        return (self.base_url, *self.replicas)

    def public(self) -> dict[str, Any]:
        """What may be written to disk about this endpoint (no secret lives here anyway)."""
        return asdict(self)


@dataclass(frozen=True)
class ServerLaunch:
    """A server judgebench started for a run (judgebench.clients.serve), as the run's manifest records it: the spec,
    the exact command (argv), the package that served it and its version, where it listened, its log."""

    spec: str
    command: tuple[str, ...]
    package: str
    version: str | None
    base_url: str
    cache_identity: str
    log: str

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "command": list(self.command)}


@dataclass(frozen=True)
class ChatRequest:
    """One call to a chat model: what is sent, and nothing that cannot change the answer."""

    endpoint: Endpoint
    messages: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, Any], ...] = ()
    response_schema: str | None = None  # canonical JSON of a JSON schema, when output is constrained
    # Which ask of the same prompt this is (a judge with ``,repeats=K`` asks it K times: 0 .. K-1). Never sent; it
    # keeps the K asks apart in the cache, so each is a request of its own and a rerun finds each of them.
    repeat: int = 0

    def cache_key(self) -> str:
        """Hash of everything that changes the answer: provider, server, model, messages, sampling
        parameters and response format, and which ask of a repeated prompt it is. Timeouts, retries, concurrency
        and keys are left out."""
        return self._cache_key

    @cached_property
    def _cache_key(self) -> str:
        # Computed once per request: the cache, the claims, the records and the batch ledger all ask for it.
        payload: dict[str, Any] = {
            "provider": self.endpoint.provider,
            "server": self.endpoint.identity(),
            "model": self.endpoint.model,
            "messages": [list(m) for m in self.messages],
            "params": dict(self.params),
            "schema": self.response_schema,
        }
        if self.repeat:
            # Only from the second ask on: the first ask's key, and every key written before repeats existed, stay
            # as they were (the caches, the replay recordings and the published-number tests depend on them).
            payload["repeat"] = self.repeat
        # The messages and the other fields are strings (orjson refuses a lone surrogate, and json writes it): only
        # the parameters may hold numbers.
        return canonical_sha256(payload, payload["params"])


@dataclass(frozen=True)
class ChatReply:
    """A model's reply. from_cache: served from the cache (no request made)."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    from_cache: bool = False
    # The first generated tokens, each with its most likely alternatives: (token, ((alt, logprob), ...)).
    logprobs: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    # A reasoning model's thinking, where the server returns it apart (vLLM's reasoning_content).
    reasoning: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A model's answer to an item, all turns. params: the sampling parameters used. reasoning: a reasoning
    model's thinking per turn, kept with the answer but never shown to a judge nor counted in its length.
    pending: the answer is not failed but waits in a provider's batch (run --batch)."""

    benchmark: str
    item_id: str
    model: str
    turns: tuple[str, ...]
    params: tuple[tuple[str, Any], ...] = ()
    error: str | None = None
    calls: tuple[CallRecord, ...] = ()
    reasoning: tuple[str, ...] = ()
    pending: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CallRecord:
    """What one request cost: its cache key, tokens, latency, whether the cache answered it."""

    cache_key: str
    label: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    from_cache: bool = False
    finish_reason: str | None = None
    error: str | None = None

    @property
    def cost_usd(self) -> float | None:
        """What the request cost where a file records it (``PricedCall``); judgebench prices its own from tokens."""
        return None


@dataclass(frozen=True)
class PricedCall(CallRecord):
    """A request whose price another harness's file records (AlpacaEval's price_per_example), with its time."""

    price_usd: float | None = None

    @property
    def cost_usd(self) -> float | None:
        return self.price_usd


def call_record(fields: dict[str, Any]) -> CallRecord:
    """A call from its record's fields (a priced one where they hold ``price_usd``)."""
    return PricedCall(**fields) if "price_usd" in fields else CallRecord(**fields)


@dataclass(frozen=True)
class JudgeRequest:
    """One question put to the judge.

    position: "single" for single grading; for pairwise, "AB" puts the candidate first and the
    reference second, "BA" the reverse. turn: 1-based turn being judged.
    """

    benchmark: str
    item_id: str
    category: str
    model: str
    judge: str
    turn: int
    position: Position
    chat: ChatRequest
    opponent: str | None = None
    protocol: str = ""
    # The untrusted texts the prompt shows the judge (the answers, as written): a JSON verdict that copies one of
    # them is not the judge's (judging.replies.copied). Not part of the cache key: the messages already are.
    answers: tuple[str, ...] = ()
    # A rubric request: the ids of the criteria it asks about, in order (judging.rubric). Not part of the cache
    # key: the messages already name them.
    criteria: tuple[str, ...] = ()

    def cache_key(self) -> str:
        return self.chat.cache_key()

    def judgment_id(self) -> JudgmentId:
        """The identity of the judgment this request is part of."""
        return JudgmentId(self.benchmark, self.protocol, self.judge, self.model, self.opponent, self.item_id,
                          self.turn)


@dataclass(frozen=True)
class Verdict:
    """A parsed judge reply: a score (single) or a pairwise winner, or a parse error, never both."""

    score: float | None = None
    winner: Winner | None = None
    error: str | None = None
    truncated: bool = False  # the reply was cut off by max_tokens before its verdict was complete
    margin: int | None = None  # five-level verdicts: 1 = better, 2 = much better; None for three levels and ties
    # A rubric reply's verdict on each criterion it was asked about, by id, in the order asked (None: missing or
    # unreadable); ``error`` then says what was wrong with the others.
    criteria: tuple[tuple[str, bool | None], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class JudgmentId:
    """What one judgment is of: the identity that deduplication, caches and joins across judges use
    (analysis.records.IDENTITY). ``opponent``: None for single grading; ``protocol``: "" for older records."""

    benchmark: str
    protocol: str
    judge: str
    model: str
    opponent: str | None
    item_id: str
    turn: int


@dataclass(frozen=True)
class Grade:
    """A single-grading verdict: ``score`` on the judgment's scale; ``expected_score`` the probability-weighted grade
    where the judge's token log-probabilities were returned."""

    score: float
    expected_score: float | None = None


@dataclass(frozen=True)
class PairVerdict:
    """A pairwise verdict from the judged model's side: each order's outcome ("win", "tie", "loss"; None where that
    order failed), how decisive it was (1 better, 2 much better, None for three levels and ties), and both orders
    combined into AlpacaEval's preference in [1, 2] (None unless both parsed). A judge asked for its token
    log-probabilities (``,logprobs``) adds ``probability``, the probability that the candidate is the better (a tie
    counting half), the mean over the orders whose verdict token carried them, and ``logprob_margin``, the top
    verdict's probability minus the next one's, the smaller over those orders: how sure the judge was."""

    ab: str | None = None
    ba: str | None = None
    preference: float | None = None
    margin_ab: int | None = None
    margin_ba: int | None = None
    probability: float | None = None
    logprob_margin: float | None = None


@dataclass(frozen=True)
class Failure:
    """Why a judgment (or one order of a pair) has no value: its cause (``FailureKind``) and the message that says
    what happened ("" where a file gave a cause without one)."""

    cause: FailureKind
    message: str


def pair_or_none(pair: PairVerdict) -> PairVerdict | None:
    """The pair verdict, or None where neither order nor the preference has a value."""
    return None if pair == PairVerdict() else pair


def failed(cause: FailureKind | None, message: str | None) -> Failure | None:
    """The failure with this cause and message; None where there is no cause."""
    return Failure(cause, message or "") if cause else None


@dataclass(frozen=True)
class AnswerTraits:
    """What a judged answer looked like (all turns): characters and tokens (length control), and its markdown
    headers, list items and bold spans, code blocks left out (stats.style: style control). None where unknown."""

    length: int | None = None
    tokens: int | None = None
    headers: int | None = None
    lists: int | None = None
    bold: int | None = None


@dataclass(frozen=True)
class Judgment:
    """The outcome of one judged (benchmark, item, model, turn) by one judge: both orders of a pairwise question
    in one record. The same record comes from our runs and from every other harness's files.

    id: what it is of (the canonical identity, judgebench.formats.identity, whichever harness wrote the file).
    verdict: a ``Grade`` (single grading), a ``PairVerdict`` (pairwise and battles: either order may be missing)
    or None without one. failure: why it has no value, or why one order of a pair has none; None when nothing
    failed. scale: the grading scale it was asked on (single grading; kept when the grade failed). answer /
    opponent_answer: the judged answer's traits and its opponent's. raw: the judge's reply texts; calls: what the
    requests cost. empty: the judged answer was empty, never shown to the judge (see JudgeSpec.on_empty). repeats:
    a judge that asks each prompt K times (``,repeats=K``): each ask's verdict, in order (None where that ask
    failed); ``verdict`` is then the K asks' combined verdict (judging.repeats) and raw/calls hold every ask's.
    Empty for a judge that asks once.

    The flat names of the JSONL record and the judgments frame (``score``, ``verdict_ab``, ``error``,
    ``failure_kind``, ``length``, ``benchmark``, ...) are read-only properties of these fields.
    """

    id: JudgmentId
    kind: TaskKind
    category: str
    verdict: Grade | PairVerdict | RubricVerdict | None = None
    failure: Failure | None = None
    scale: tuple[int, int] | None = None
    answer: AnswerTraits = AnswerTraits()
    opponent_answer: AnswerTraits = AnswerTraits()
    raw: tuple[str, ...] = ()
    calls: tuple[CallRecord, ...] = ()
    empty: bool = False
    repeats: tuple[Grade | PairVerdict | RubricVerdict | None, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None

    # The flat names, as the JSONL record and the judgments frame spell them.
    @property
    def benchmark(self) -> str:
        return self.id.benchmark

    @property
    def protocol(self) -> str:
        return self.id.protocol

    @property
    def judge(self) -> str:
        return self.id.judge

    @property
    def model(self) -> str:
        return self.id.model

    @property
    def opponent(self) -> str | None:
        return self.id.opponent

    @property
    def item_id(self) -> str:
        return self.id.item_id

    @property
    def turn(self) -> int:
        return self.id.turn

    @property
    def grade(self) -> Grade | None:
        return self.verdict if isinstance(self.verdict, Grade) else None

    @property
    def pair(self) -> PairVerdict | None:
        return self.verdict if isinstance(self.verdict, PairVerdict) else None

    @property
    def rubric(self) -> RubricVerdict | None:
        return self.verdict if isinstance(self.verdict, RubricVerdict) else None

    @property
    def score(self) -> float | None:
        """The grade (single grading) or the rubric score in [0, 1] (rubric tasks)."""
        return self.verdict.score if isinstance(self.verdict, (Grade, RubricVerdict)) else None

    @property
    def expected_score(self) -> float | None:
        return self.verdict.expected_score if isinstance(self.verdict, Grade) else None

    @property
    def verdict_ab(self) -> str | None:
        return self.verdict.ab if isinstance(self.verdict, PairVerdict) else None

    @property
    def verdict_ba(self) -> str | None:
        return self.verdict.ba if isinstance(self.verdict, PairVerdict) else None

    @property
    def preference(self) -> float | None:
        return self.verdict.preference if isinstance(self.verdict, PairVerdict) else None

    @property
    def margin_ab(self) -> int | None:
        return self.verdict.margin_ab if isinstance(self.verdict, PairVerdict) else None

    @property
    def margin_ba(self) -> int | None:
        return self.verdict.margin_ba if isinstance(self.verdict, PairVerdict) else None

    @property
    def error(self) -> str | None:
        """The failure's message; None when nothing failed (or a file gave a cause without a message)."""
        return self.failure.message or None if self.failure else None

    @property
    def failure_kind(self) -> FailureKind | None:
        return self.failure.cause if self.failure else None

    @property
    def length(self) -> int | None:
        return self.answer.length

    @property
    def tokens(self) -> int | None:
        return self.answer.tokens

    @property
    def headers(self) -> int | None:
        return self.answer.headers

    @property
    def lists(self) -> int | None:
        return self.answer.lists

    @property
    def bold(self) -> int | None:
        return self.answer.bold

    @property
    def opponent_length(self) -> int | None:
        return self.opponent_answer.length

    @property
    def opponent_tokens(self) -> int | None:
        return self.opponent_answer.tokens

    @property
    def opponent_headers(self) -> int | None:
        return self.opponent_answer.headers

    @property
    def opponent_lists(self) -> int | None:
        return self.opponent_answer.lists

    @property
    def opponent_bold(self) -> int | None:
        return self.opponent_answer.bold


@dataclass(frozen=True)
class Judge:
    """A judge role filled by an endpoint. constrained: ask for JSON through ``response_format`` (a JSON
    schema) instead of parsing "[[8]]" from free text. name: the label results carry."""

    name: str
    endpoint: Endpoint
    constrained: bool = False
    temperature: float | None = None
    # Ask for the reply's token log-probabilities (``,logprobs``): a grade then gets its expected_score.
    logprobs: bool = False
    # Ask every judge prompt this many times (``,repeats=K``): one judgment from the K replies (judging.repeats).
    repeats: int = 1


@dataclass(frozen=True)
class ScoreRow:
    """One model's aggregate on one benchmark under one judge (against one opponent, for pairwise): what `run`,
    `stats`, the leaderboard and ``load().leaderboard`` all show, computed in one place (the task kind's
    ``aggregate``).

    score: the mean grade (single grading) or the win rate in percent (pairwise), with its 95% percentile
    bootstrap interval over items. n_judged: judgments that entered the score; n_failed: judgments without a
    value (never scored), of which n_parse_failures are judge replies that did not parse. scale: the grading
    scale. length_controlled_winrate: AlpacaEval's LC win rate, with ``lc_note`` when its estimate is weak, and
    lc_ci_low/lc_ci_high its own 95% bootstrap interval over items (the same resamples as the score's);
    lc_table_models: the models its difficulty table was fitted on (None: a published table, or not recorded);
    lc_weak: that table was fitted on too few models (stats.length_control.MIN_MODELS): the LC is shown flagged
    and never ranks. order_agreement: the share of items whose two orders gave the same verdict; order_biased: it
    is below stats.position_bias.LOW_CONSISTENCY, so the ties are mostly the judge's two orders disagreeing
    (position bias), not answers of equal quality: the win rate is shown flagged.
    per_turn/per_category: the mean grade (single) or the win rate in percent (pairwise) of each turn and each
    category. ranked_by: the field ``ranking_value`` reads ("length_controlled_winrate" or "score").
    """

    benchmark: str
    judge: str
    kind: TaskKind
    model: str
    score: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n_judged: int = 0
    n_failed: int = 0
    n_parse_failures: int = 0
    n_empty: int = 0
    opponent: str | None = None
    scale: tuple[int, int] | None = None
    per_turn: tuple[tuple[int, float], ...] = ()
    per_category: tuple[tuple[str, float], ...] = ()
    expected_score: float | None = None
    standard_error: float | None = None
    n_wins: int | None = None
    n_draws: int | None = None
    n_losses: int | None = None
    discrete_win_rate: float | None = None
    order_agreement: float | None = None
    length_controlled_winrate: float | None = None
    lc_note: str | None = None
    avg_length: float | None = None
    protocol: str = ""
    lc_ci_low: float | None = None
    lc_ci_high: float | None = None
    lc_table_models: int | None = None
    lc_weak: bool = False
    order_biased: bool = False
    ranked_by: str = field(init=False, default="score")

    def __post_init__(self) -> None:
        # Derived, yet a field: summary.json and `stats --json` (asdict) say what ranked each row.
        lc_ranks = self.length_controlled_winrate is not None and not self.lc_weak
        object.__setattr__(self, "ranked_by", "length_controlled_winrate" if lc_ranks else "score")

    @property
    def ranking_value(self) -> float | None:
        """What ranks models, everywhere: the length-controlled win rate where there is one that is not weak,
        else the score."""
        return self.length_controlled_winrate if self.ranked_by == "length_controlled_winrate" else self.score

    @property
    def ranking_interval(self) -> tuple[float | None, float | None]:
        """The 95% interval of ``ranking_value`` itself: the LC's own where the LC ranks, else the score's."""
        if self.ranked_by == "length_controlled_winrate":
            return self.lc_ci_low, self.lc_ci_high
        return self.ci_low, self.ci_high
