"""``--engine ray``: judge requests through Ray Data (``ray.data.llm``), on a local Ray instance or on the cluster
that RAY_ADDRESS names.

The contract of ``Runner.outcomes``: every request's reply, or the BackendError it failed with, in order. The cache
is consulted first (hits are not sent; a request another process has claimed is waited for), the misses go to Ray
as one dataset per server, and accepted replies are stored after, so what failed is asked again on the next run.

An OpenAI-compatible server is asked through Ray's HTTP request processor (with the session of
clients.ray_worker); a model that vLLM serves itself (an endpoint whose cache identity is ``vllm:HF_ID``) goes
through Ray's vLLM engine processor, on the cluster's GPUs. Retries are judgebench's one policy (RetryPolicy), not
Ray's: a round of retryable failures is sent again as a new dataset after the server's Retry-After or a backoff.

Ray is imported only here and only when used: without the extra, `--engine ray` says what to install.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib.util
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..clients import ray_worker
from ..clients.pricing import add_tokens
from ..clients.providers import provider_of
from ..clients.ray_rows import (
    Outcome,
    http_payload,
    rejects_json_schema,
    reply_from_exchange,
    reply_from_generation,
    vllm_row,
    where,
)
from ..credentials import redact
from ..errors import BackendError, ConfigError
from ..types import ChatReply, ChatRequest, Endpoint
from .cache import Cache
from .retry import RetryPolicy
from .runner import CLAIM_MARGIN_S, CLAIM_POLL_S, Counters

INSTALL = "pip install 'judgebench[ray]'"
VLLM_PREFIX = "vllm:"


def require_ray() -> ModuleType:
    """``ray.data.llm``, or a ConfigError that says what to install."""
    try:
        from ray.data import llm
    except ImportError as exc:
        raise ConfigError(f"--engine ray needs Ray Data, which is not installed here ({exc}): {INSTALL}") from None
    return llm


def vllm_model_id(endpoint: Endpoint) -> str | None:
    """The Hugging Face id of a model that vLLM serves itself (cache identity ``vllm:HF_ID``), else None."""
    identity = endpoint.cache_identity or ""
    return identity[len(VLLM_PREFIX):] if identity.startswith(VLLM_PREFIX) else None


def check_address(address: str | None) -> None:
    """Ray Data's executor needs a driver that is part of the cluster: through Ray Client (``ray://``) it fails
    (Ray 2.60: the client's worker has no core worker), so that address is refused with what works instead."""
    if address and address.startswith("ray://"):
        raise ConfigError(f"--engine ray: Ray Data does not run through Ray Client ({address}); set RAY_ADDRESS to "
                          "the head's GCS address (head:6379) from a machine in the cluster's network, or run "
                          "judgebench on the cluster with `ray job submit`")


def check_endpoints(endpoints: Sequence[Endpoint], address: str | None = None) -> None:
    """Before anything runs: Ray Data is installed, the address is one it can use, and every endpoint is one Ray
    can ask. ``address``: None for RAY_ADDRESS."""
    require_ray()
    check_address(address or os.environ.get("RAY_ADDRESS"))
    for endpoint in endpoints:
        if vllm_model_id(endpoint) is not None:
            if importlib.util.find_spec("vllm") is None:
                raise ConfigError(f"--engine ray: {endpoint.name} runs on Ray's vLLM engine processor, which needs "
                                  "vLLM here and on the cluster: pip install 'ray[llm]'")
        elif provider_of(endpoint).wire != "openai":
            raise ConfigError(f"--engine ray: {endpoint.name} is an Anthropic endpoint, and Ray's HTTP processor "
                              "speaks the OpenAI chat API; judge it with --engine local")
        elif not endpoint.base_url:
            raise ConfigError(f"--engine ray: {endpoint.name} has no URL to send requests to")


def http_processor_config(endpoint: Endpoint, *, batch_size: int = 64, workers: int = 1, qps: int | None = None,
                          timeout_s: float = 120.0) -> Any:
    """Ray's HttpRequestProcessorConfig for an OpenAI-compatible endpoint. The key is read from the variable the
    endpoint names, here, and goes into the request header only; Ray's own retries are off (judgebench retries).
    ``workers`` actors share the endpoint's concurrency between them."""
    llm = require_ray()
    key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
    in_flight = math.ceil(max(1, endpoint.concurrency) / max(1, workers))
    return llm.HttpRequestProcessorConfig(
        url=f"{endpoint.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {key}"} if key else {},
        qps=qps, max_retries=0, batch_size=batch_size, concurrency=workers,
        session_factory=functools.partial(ray_worker.ExchangeSession, max_in_flight=in_flight, timeout_s=timeout_s),
    )


def vllm_processor_config(model_id: str, *, replicas: int = 1, batch_size: int = 32,
                          engine_kwargs: dict[str, Any] | None = None, accelerator_type: str | None = None) -> Any:
    """Ray's vLLMEngineProcessorConfig for a Hugging Face model: ``replicas`` vLLM engines, each on the GPUs
    ``engine_kwargs`` asks for (tensor_parallel_size...). A row that fails comes back as an error row instead of
    failing the dataset."""
    llm = require_ray()
    return llm.vLLMEngineProcessorConfig(
        model_source=model_id, engine_kwargs=dict(engine_kwargs or {}), concurrency=replicas,
        batch_size=batch_size, accelerator_type=accelerator_type, should_continue_on_error=True,
    )


def _cause(exc: BaseException) -> str:
    """The line of a Ray error that says what failed ("ValueError: ..."), not its traceback or Ray's advice."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b[^:]*: ", line)]
    return (causes[0] if causes else lines[-1] if lines else type(exc).__name__)[:300]


@dataclass(frozen=True)
class RaySettings:
    """How the engine uses Ray.

    address: the cluster (None: RAY_ADDRESS, else a new local instance). batch_size: rows per batch Ray hands a
    worker. workers: HTTP processor actors per server (they share the endpoint's concurrency). qps: a request rate
    limit per worker. vllm_replicas / vllm_engine_kwargs: vLLM engines per model and their settings.
    """

    address: str | None = None
    batch_size: int = 64
    workers: int = 1
    qps: int | None = None
    timeout_s: float = 120.0
    vllm_replicas: int = 1
    vllm_engine_kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class _Route:
    """Requests that one Ray processor can send: those to one server (with one key), or to one vLLM model."""

    kind: str  # "http" or "vllm"
    target: str  # the base URL or the model id
    key_env: str | None = None


class RayEngine:
    """Judge requests through Ray Data. ``counters`` may be the runner's, so a run counts its requests in one place."""

    def __init__(self, cache: Cache, *, retry: RetryPolicy | None = None, counters: Counters | None = None,
                 settings: RaySettings | None = None, progress: bool = False,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cache = cache
        self.retry = retry or RetryPolicy()
        self.counters = counters if counters is not None else Counters()
        self.settings = settings or RaySettings()
        self.progress = progress
        self.stopped: dict[str, BackendError] = {}  # the runner's circuit breaker has no counterpart here
        self._sleep = sleep
        self._lock = threading.Lock()
        self._started_ray = False

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.counters, name, getattr(self.counters, name) + delta)

    def _ensure_ray(self) -> ModuleType:
        require_ray()
        import ray
        from ray import cloudpickle

        if not ray.is_initialized():
            address = self.settings.address or os.environ.get("RAY_ADDRESS")
            check_address(address)
            # A local instance judgebench starts reports nothing home unless the user asked for it.
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                if address:
                    ray.init(address=address, logging_level=logging.WARNING)
                else:
                    # "local": a new instance, never a cluster `ray start` left behind on this machine.
                    ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"--engine ray: cannot start or reach Ray ({address or 'a local instance'}): "
                                  f"{_cause(exc)}; check RAY_ADDRESS (the head's GCS address, e.g. head:6379) "
                                  "and, for a cluster with token authentication, RAY_AUTH_MODE=token and its token"
                                  ) from None
            self._started_ray = True
        # The workers get ray_worker's code with the functions themselves: a cluster needs no judgebench.
        cloudpickle.register_pickle_by_value(ray_worker)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = self.progress
        if not self.progress:
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        return ray

    async def outcomes(self, requests: Sequence[ChatRequest],
                       accept: Callable[[ChatRequest, ChatReply], bool]) -> list[ChatReply | BackendError]:
        """Every request's reply, or the error it finally failed with, in the requests' order. A reply is cached
        only when ``accept`` takes it (a judge reply must parse). The same request twice is sent once."""
        results: list[Outcome | None] = [None] * len(requests)
        waiting: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            cached = self.cache.get(request)
            if cached is not None:
                self._count(cache_hits=1)
                results[i] = cached
            else:
                waiting.setdefault(request.cache_key(), []).append(i)
        if waiting:
            self._ensure_ray()
            firsts = {key: requests[indices[0]] for key, indices in waiting.items()}
            # Ray's calls block: off the event loop, which may serve others (a notebook, the embedded server's I/O).
            found = await asyncio.to_thread(self._resolve, firsts, accept)
            for key, indices in waiting.items():
                for i in indices:
                    results[i] = found[key]
        done = [r for r in results if r is not None]
        assert len(done) == len(requests)
        return done

    def _resolve(self, requests: dict[str, ChatRequest],
                 accept: Callable[[ChatRequest, ChatReply], bool]) -> dict[str, Outcome]:
        """Claim what no other process is sending and send it; wait for the rest to reach the cache."""
        found: dict[str, Outcome] = {}
        pending = dict(requests)
        ttl = self.retry.max_elapsed_s + CLAIM_MARGIN_S
        while pending:
            mine: dict[str, ChatRequest] = {}
            for key, request in list(pending.items()):
                claimed = self.cache.claim(request, ttl)
                cached = self.cache.get(request)  # stored by another process, maybe while we took the claim
                if cached is not None:
                    if claimed:
                        self.cache.release(request)
                    self._count(cache_hits=1)
                    found[key] = cached
                    del pending[key]
                elif claimed:
                    mine[key] = request
                    del pending[key]
            if mine:
                found.update(self._send(mine, accept))
            elif pending:
                time.sleep(CLAIM_POLL_S)
        return found

    def _send(self, requests: dict[str, ChatRequest],
              accept: Callable[[ChatRequest, ChatReply], bool]) -> dict[str, Outcome]:
        try:
            routes: dict[_Route, dict[str, ChatRequest]] = {}
            for key, request in requests.items():
                routes.setdefault(self._route(request.endpoint), {})[key] = request
            # One dataset per server, all at once: a panel's judges on two servers do not wait for each other.
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(routes), thread_name_prefix="jb-ray") as pool:
                parts = list(pool.map(lambda item: self._run_route(*item), routes.items()))
            found = {key: outcome for part in parts for key, outcome in part.items()}
            for key, outcome in found.items():
                if isinstance(outcome, BackendError):
                    self._count(failed_calls=1)
                    continue
                with self._lock:
                    add_tokens(outcome, self.counters)
                if accept(requests[key], outcome):
                    self.cache.put(requests[key], outcome)
            return found
        finally:
            for request in requests.values():
                self.cache.release(request)

    @staticmethod
    def _route(endpoint: Endpoint) -> _Route:
        model = vllm_model_id(endpoint)
        if model is not None:
            return _Route("vllm", model)
        return _Route("http", endpoint.base_url or "", endpoint.api_key_env)

    def _run_route(self, route: _Route, requests: dict[str, ChatRequest]) -> dict[str, Outcome]:
        """Rounds of one processor: the retryable failures of a round are sent again, as the retry policy allows."""
        send = self._vllm_sender(route) if route.kind == "vllm" else self._http_sender(requests)
        started = time.monotonic()
        final: dict[str, Outcome] = {}
        pending, attempt = dict(requests), 1
        while pending:
            got = send(pending)
            again = {key: request for key, request in pending.items()
                     if isinstance(got[key], BackendError) and got[key].retryable}  # type: ignore[union-attr]
            final.update({key: outcome for key, outcome in got.items() if key not in again})
            if not again:
                break
            wait = self._wait(attempt, [got[key] for key in again])
            if not self.retry.may_retry(attempt, time.monotonic() - started, wait):
                final.update({key: got[key] for key in again})
                break
            self._count(retries=len(again))
            self._sleep(wait)
            pending, attempt = again, attempt + 1
        return final

    def _wait(self, attempt: int, errors: list[Outcome]) -> float:
        """The retry policy's wait: the longest Retry-After of the round, else its backoff with jitter."""
        asked = [e.retry_after for e in errors if isinstance(e, BackendError) and e.retry_after is not None]
        return self.retry.wait_s(attempt, max(asked) if asked else None)

    def _http_sender(self, requests: dict[str, ChatRequest]) -> Callable[[dict[str, ChatRequest]], dict[str, Outcome]]:
        llm = require_ray()
        ray = self._ensure_ray()
        endpoint = max((r.endpoint for r in requests.values()), key=lambda e: e.concurrency)
        processor = llm.build_processor(
            http_processor_config(endpoint, batch_size=self.settings.batch_size, workers=self.settings.workers,
                                  qps=self.settings.qps, timeout_s=self.settings.timeout_s),
            postprocess=ray_worker.keep_exchange)
        # Learned once per server, as the local backend does: one that rejects "json_schema" is asked the llama.cpp
        # way.
        json_object = [provider_of(endpoint).local]

        def one_round(pending: dict[str, ChatRequest]) -> dict[str, Outcome]:
            keys = list(pending)
            rows = [{"idx": i, "payload": http_payload(pending[k], schema_in_json_object=json_object[0])}
                    for i, k in enumerate(keys)]
            self._count(requests=len(rows))
            got = self._collect(ray, processor, rows, keys, pending, reply_from_exchange, where(endpoint))
            rejected = {k: pending[k] for k in keys if pending[k].response_schema is not None
                        and not json_object[0] and rejects_json_schema(got[k])}
            if rejected:
                json_object[0] = True
                got.update(one_round(rejected))
            return got

        return one_round

    def _vllm_sender(self, route: _Route) -> Callable[[dict[str, ChatRequest]], dict[str, Outcome]]:
        llm = require_ray()
        ray = self._ensure_ray()
        config = vllm_processor_config(route.target, replicas=self.settings.vllm_replicas,
                                       batch_size=self.settings.batch_size,
                                       engine_kwargs=dict(self.settings.vllm_engine_kwargs))
        try:
            processor = llm.build_processor(config, postprocess=ray_worker.keep_generation)
        except ImportError as exc:
            raise ConfigError(f"--engine ray: Ray's vLLM processor for {route.target} needs vLLM ({exc}): "
                              "pip install 'ray[llm]'") from None

        def one_round(pending: dict[str, ChatRequest]) -> dict[str, Outcome]:
            keys = list(pending)
            rows = [{"idx": i, **vllm_row(pending[k])} for i, k in enumerate(keys)]
            self._count(requests=len(rows))
            return self._collect(ray, processor, rows, keys, pending, reply_from_generation,
                                 f"{route.target} on Ray's vLLM engine")

        return one_round

    @staticmethod
    def _collect(ray: ModuleType, processor: Any, rows: list[dict[str, Any]], keys: list[str],
                 pending: dict[str, ChatRequest], to_outcome: Callable[[str, ChatRequest], Outcome],
                 where: str) -> dict[str, Outcome]:
        """Run one dataset through the processor and read each row's outcome back by its index (Ray does not keep
        the rows' order)."""
        try:
            out = processor(ray.data.from_items(rows)).take_all()
        except ray.exceptions.RayError as exc:
            # Ray itself failed (a worker lost, the cluster gone): every request of the round failed with it.
            failed = BackendError(redact(f"{where}: Ray Data failed: {_cause(exc)}"), retryable=True)
            return dict.fromkeys(keys, failed)
        got: dict[str, Outcome] = {}
        for row in out:
            key = keys[int(row["idx"])]
            error = row.get("__inference_error__")
            if error:
                got[key] = BackendError(redact(f"{where}: {str(error)[:300]}"), retryable=False)
            else:
                got[key] = to_outcome(row[ray_worker.EXCHANGE], pending[key])
        for key in keys:
            got.setdefault(key, BackendError(f"{where}: Ray returned no row for this request", retryable=True))
        return got

    def close(self) -> None:
        """Stop the local Ray instance this engine started (a cluster it joined keeps running)."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False


__all__ = ["RayEngine", "RaySettings", "check_address", "check_endpoints", "http_processor_config", "require_ray",
           "vllm_model_id", "vllm_processor_config"]
