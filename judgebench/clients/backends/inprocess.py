"""An in-process model, as Inspect's ``mockllm``: a backend that answers a request by calling a Python object, so
a whole run (generation, judging, the cache, the records, the statistics) is exercised without a socket or a
server. Tests and notebooks use it; real servers stay for the integration tests.

A model is registered under a name and named by a base URL on the ``mockllm.invalid`` host (RFC 2606: it never
resolves, so a request that escaped this module would fail at once rather than reach a network)::

    with serving(MockLLM(["Rating: [[7]]"])) as url:          # http://mockllm.invalid/m1/v1
        evaluate(task, RunConfig(..., judges=(parse_judge(f"j@{url}"),)))

Everything else sees an ordinary OpenAI-compatible endpoint: its spec, cache key, replicas (``j@URL1,URL2``) and
records are those of a server at that URL.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from ...errors import ConfigError
from ...types import ChatReply, ChatRequest, Endpoint

__all__ = ["HOST", "InProcessBackend", "MockLLM", "Model", "model_for", "register", "serving", "unregister"]

HOST = "mockllm.invalid"

# What a model returns: a reply's text, a whole reply, or an exception to raise (a BackendError, as a backend
# raises it); or an awaitable of one of those.
Reply = str | ChatReply | BaseException
Model = Callable[[ChatRequest], Reply | Awaitable[Reply]]

_models: dict[str, Model] = {}
_lock = threading.Lock()
_names = itertools.count(1)


def register(model: Model, name: str | None = None) -> str:
    """Make ``model`` answer requests sent to the returned base URL (``http://mockllm.invalid/NAME/v1``)."""
    with _lock:
        name = name or f"m{next(_names)}"
        if name in _models and _models[name] is not model:
            raise ConfigError(f"an in-process model is already registered as {name!r}")
        _models[name] = model
    return f"http://{HOST}/{name}/v1"


def unregister(base_url: str) -> None:
    with _lock:
        _models.pop(_name_of(base_url), None)


@contextmanager
def serving(model: Model, name: str | None = None) -> Iterator[str]:
    """``model`` registered for the block; yields its base URL."""
    url = register(model, name)
    try:
        yield url
    finally:
        unregister(url)


def _name_of(base_url: str) -> str:
    return urlsplit(base_url).path.strip("/").split("/")[0]


def model_for(endpoint: Endpoint) -> Model | None:
    """The in-process model ``endpoint`` names, or None when it names a real server."""
    if not endpoint.base_url or urlsplit(endpoint.base_url).hostname != HOST:
        return None
    with _lock:
        model = _models.get(_name_of(endpoint.base_url))
    if model is None:
        raise ConfigError(f"{endpoint.name}: no in-process model is registered at {endpoint.base_url} (register it "
                          "with judgebench.clients.backends.inprocess.serving)")
    return model


def as_reply(reply: Reply, latency_s: float) -> ChatReply:
    """A model's answer as the reply a server would have sent; an exception is raised."""
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, ChatReply):
        return reply
    return ChatReply(text=reply, finish_reason="stop", latency_s=latency_s)


class InProcessBackend:
    """The Backend of an endpoint whose base URL names a registered in-process model."""

    def __init__(self, endpoint: Endpoint, model: Model) -> None:
        self.endpoint = endpoint
        self.model = model

    async def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        answer = self.model(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return as_reply(answer, time.perf_counter() - started)

    async def aclose(self) -> None:
        return None


def _words(text: str) -> int:
    return len(text.split())


class MockLLM:
    """A scripted model: ``replies`` are handed out one per request (the last one repeats), or ``replies`` is a
    function of the request. A reply may be a text, a ChatReply, or an exception (a BackendError) to raise as a
    backend would. Usage is counted in whitespace-separated words (prompt: every message; completion: the reply),
    on each reply and in ``prompt_tokens``/``completion_tokens``; ``requests`` keeps what arrived."""

    def __init__(self, replies: Sequence[Reply] | Callable[[ChatRequest], Reply] = ("",)) -> None:
        if not callable(replies) and not replies:
            raise ValueError("MockLLM needs at least one reply")
        self._replies = replies if callable(replies) else list(replies)
        self.requests: list[ChatRequest] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._lock = threading.Lock()

    def _next(self, request: ChatRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if callable(self._replies):
                return self._replies(request)
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    def __call__(self, request: ChatRequest) -> Reply:
        reply = self._next(request)
        if isinstance(reply, BaseException):
            return reply
        if isinstance(reply, str):
            reply = ChatReply(text=reply, finish_reason="stop",
                              prompt_tokens=sum(_words(content) for _, content in request.messages),
                              completion_tokens=_words(reply))
        with self._lock:
            self.prompt_tokens += reply.prompt_tokens or 0
            self.completion_tokens += reply.completion_tokens or 0
        return reply
