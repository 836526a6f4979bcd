"""The live path's cheaper steps keep what they replaced (issue 23): the cache key is the same hash, a stored reply
reads back the same, records and cache entries are still redacted, a compressed reply is still bounded, and every
reply a server sent is in the cache when the run ends, however it ends."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import signal
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from judgebench.errors import BackendError, ResultsError
from judgebench.formats import judgebench as store
from judgebench.run.cache import Cache, decode_reply, encode_reply
from judgebench.run.evaluate import RunConfig, aevaluate
from judgebench.run.runner import Runner
from judgebench.tasks import load_task
from judgebench.types import ChatReply, ChatRequest, Endpoint, Judge, canonical_sha256

from ..fakeserver import Script, fake_server

ENDPOINT = Endpoint("openai", "j", "m", base_url="http://127.0.0.1:9/v1")


def json_key(request: ChatRequest) -> str:
    """The cache key as judgebench always computed it: json.dumps, keys sorted, then sha256."""
    payload: dict[str, Any] = {"provider": request.endpoint.provider, "server": request.endpoint.identity(),
                               "model": request.endpoint.model, "messages": [list(m) for m in request.messages],
                               "params": dict(request.params), "schema": request.response_schema}
    if request.repeat:
        payload["repeat"] = request.repeat
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Tag(str):
    """A str subclass: orjson leaves it to json."""


@pytest.mark.parametrize("params", [
    (), (("temperature", 0.0), ("max_tokens", 32)), (("temperature", -0.0),), (("temperature", 0.7),),
    (("top_p", 1e-4),), (("top_p", 9.99e-05),), (("x", 1e-7),), (("x", 1e15),), (("x", 1e16),), (("x", 2.5e17),),
    (("x", float("nan")),), (("x", float("inf")),), (("seed", 2**63 - 1),), (("seed", 2**64),), (("seed", -(2**70)),),
    (("stop", ("a", "b")),), (("logit_bias", {"50256": -100.0, "7": 1e-6}),),
    (("nested", {"b": [1, {"z": 0.5, "a": None}]}),), (("flag", True),), (("tag", Tag("x")),), (("t", 1 / 3),),
])
def test_the_cache_key_is_the_hash_it_always_was(params: tuple[tuple[str, Any], ...]) -> None:
    messages = (("system", "Judge.\n\t\"quoted\" \\ back \x00\x1f\x7f \u2028 é 😀 \uffff"), ("user", "plain"))
    for request in (ChatRequest(ENDPOINT, messages, params), ChatRequest(ENDPOINT, messages, params, '{"a": 1}', 2),
                    ChatRequest(replace(ENDPOINT, replicas=("http://b/v1",)), messages, params)):
        assert request.cache_key() == json_key(request)


def test_a_key_orjson_cannot_write_is_json_s_or_json_s_error() -> None:
    lone = ChatRequest(ENDPOINT, (("user", "odd \ud800"),))
    with pytest.raises(UnicodeEncodeError):  # as before: a lone surrogate cannot be hashed as UTF-8
        lone.cache_key()
    assert canonical_sha256({"b": (1, 2), "a": 1e-5}) == hashlib.sha256(b'{"a":1e-05,"b":[1,2]}').hexdigest()
    with pytest.raises(TypeError):
        canonical_sha256({"a": object()})


def test_stored_replies_read_back_whole_whichever_json_wrote_them() -> None:
    for reply in (ChatReply("fine é", "stop", 10, 2, 0.25, logprobs=(("7", (("7", -0.1), ("8", -2.5))),)),
                  ChatReply("sure", "stop", logprobs=(("7", (("7", 0.0), ("8", float("-inf")))),)),
                  ChatReply("odd \ud800 text", "length", None, None, 0.0, reasoning="thought")):
        assert decode_reply(encode_reply(reply)) == ChatReply(**{**reply.__dict__, "from_cache": True})


def test_stored_replies_and_records_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "sk-secret-value\n")  # set from a file: a trailing newline
    cache = Cache(tmp_path / "c.sqlite")
    cache.write_many([("k", "m", ChatReply("echo sk-secret-value é"))], ())
    (payload,) = [row[0] for row in cache._db.execute("SELECT reply FROM replies")]
    assert "sk-secret-value" not in payload and "[redacted MY_API_KEY]" in payload
    cache.close()
    path = tmp_path / "j.jsonl"
    writer = store.JsonlWriter(path, batch=2)
    writer.append({"raw": "key sk-secret-value"})
    writer.append({"raw": "sk-secret-value"})
    writer.append({"raw": "last"})
    writer.close()
    text = path.read_text()
    assert "sk-secret-value" not in text
    assert store.read_jsonl(path) == [{"raw": "key [redacted MY_API_KEY]"}, {"raw": "[redacted MY_API_KEY]"},
                                      {"raw": "last"}]


def test_a_runner_flush_leaves_no_stored_reply_or_claim_behind(tmp_path: Path) -> None:
    """Stored replies wait a few milliseconds for company in the cache's next transaction; ``flush`` (the end of a
    run, however it ends) writes them all, and gives up every claim."""
    requests = [ChatRequest(ENDPOINT, (("user", f"q{i}"),)) for i in range(300)]

    async def scenario() -> None:
        cache = Cache(tmp_path / "c.sqlite")
        runner = Runner(cache, progress=False)
        for i, request in enumerate(requests):
            cached, mine = await runner._lookup(request.cache_key())
            assert cached is None and mine
            runner._store(request, ChatReply(f"a{i}"))
            runner._release(request.cache_key())
        runner.flush()
        assert len(cache) == len(requests)
        assert cache.get_many([r.cache_key() for r in requests])[requests[-1].cache_key()].text == "a299"
        other = Cache(tmp_path / "c.sqlite")  # another process's view: no claim of ours is left
        assert other.claim_many([r.cache_key() for r in requests], 60) == {r.cache_key() for r in requests}
        other.close()
        await runner.aclose()
        cache.close()

    asyncio.run(scenario())


def test_a_cache_fault_is_the_run_s_one_line_error(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        cache = Cache(tmp_path / "c.sqlite")
        runner = Runner(cache, progress=False)

        def broken(*_args: Any) -> Any:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(cache, "exchange", broken)
        with pytest.raises(ResultsError) as raised:
            await runner.call(ChatRequest(ENDPOINT, (("user", "q"),)))
        assert str(cache.path) in str(raised.value) and "\n" not in str(raised.value)
        with pytest.raises(ResultsError):
            runner.flush()
        cache.close()

    asyncio.run(scenario())


def test_every_reply_the_server_sent_is_cached_when_a_run_is_cancelled(tmp_path: Path) -> None:
    """The answers come back, the judge never answers, the run is cancelled (as asyncio.run does on Ctrl-C): every
    answer the server sent is in the cache, so the next run does not ask for it again."""
    script = Script([("fn", lambda body: None if body["model"] == "j" else "An answer.")])
    with fake_server(script) as url:
        model = Endpoint("openai", "m", "m", base_url=url, concurrency=4, transport="lean")
        config = RunConfig(model=model, judges=(Judge("j", replace(model, name="j", model="j")),),
                           out=tmp_path / "results", cache_path=tmp_path / "c.sqlite", limit=3, progress=False,
                           n_bootstrap=10)

        async def go() -> None:
            run = asyncio.ensure_future(aevaluate(load_task("sample-mt"), config))
            while sum(r["model"] == "j" for r in list(script.requests)) < 3 and not run.done():
                await asyncio.sleep(0.01)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run

        asyncio.run(go())
    answered = sum(r["model"] == "m" for r in script.requests)
    assert answered >= 3
    cache = Cache(tmp_path / "c.sqlite")
    assert len(cache) == answered
    cache.close()


def gzip_server(text: str) -> Any:
    """A server that answers every chat request with a gzip-compressed completion of ``text``."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ..fakeserver import completion, serving

    body = gzip.compress(json.dumps(completion(text)).encode())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return None

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


def lean_reply(url: str) -> ChatReply:
    from judgebench.clients.backends.lean import LeanBackend

    async def go() -> ChatReply:
        backend = LeanBackend(Endpoint("openai", "j", "m", base_url=f"{url}/v1", transport="lean"))
        try:
            return await backend.complete(ChatRequest(ENDPOINT, (("user", "q"),)))
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_a_compressed_reply_is_read_and_its_inflated_size_still_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compressed body's length says nothing of what it inflates to: it is counted as it is read."""
    from judgebench.clients.backends import lean

    with gzip_server("short") as url:
        assert lean_reply(url).text == "short"
    monkeypatch.setattr(lean, "MAX_BODY_BYTES", 100_000)
    with gzip_server("z" * 300_000) as url, pytest.raises(BackendError, match="over 100,000 bytes"):
        lean_reply(url)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_every_reply_the_server_sent_is_cached_when_the_cli_is_stopped(tmp_path: Path, signum: int) -> None:
    """`judgebench run` stopped by Ctrl-C or SIGTERM while the judge has not answered: every answer the model's
    server sent is in the cache."""
    from .test_interrupt import start_run

    script = Script([("fn", lambda body: None if body["model"] == "j" else "An answer.")])
    out = tmp_path / "results"
    with fake_server(script) as url:
        process = start_run(url, out)
        deadline = time.monotonic() + 60
        while sum(r["model"] == "j" for r in list(script.requests)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signum)
        process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    answered = sum(r["model"] == "m" for r in script.requests)
    assert answered >= 2
    cache = Cache(out / "cache.sqlite")
    assert len(cache) == answered
    cache.close()
