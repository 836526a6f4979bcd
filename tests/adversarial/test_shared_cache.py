"""Two processes on one cache do not pay twice for the same request; a claim left by a killed process expires."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from judgebench.run.cache import Cache
from judgebench.run.runner import RetryPolicy, Runner
from judgebench.types import ChatRequest, Endpoint

from ..fakeserver import Script, fake_server


def _requests(url: str, n: int) -> list[ChatRequest]:
    endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=4)
    return [ChatRequest(endpoint, (("user", f"question {i}"),), (("max_tokens", 8),)) for i in range(n)]


def _process(cache_path: Path, requests: list[ChatRequest], results: list[int]) -> None:
    """One judgebench process: its own cache connection (its own claims), its own event loop."""
    async def main() -> int:
        runner = Runner(Cache(cache_path), retry=RetryPolicy(max_elapsed_s=20), progress=False)
        try:
            await runner.outcomes(requests, lambda _request, _reply: True)
            return runner.counters.requests
        finally:
            await runner.aclose()
            runner.cache.close()

    results.append(asyncio.run(main()))


def test_two_processes_on_one_cache_send_each_request_once(tmp_path: Path) -> None:
    script = Script([("ok", "a reply", 0.05)])
    with fake_server(script) as url:
        requests = _requests(url, 20)
        sent: list[int] = []
        threads = [threading.Thread(target=_process, args=(tmp_path / "c.sqlite", requests, sent)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(sent) == 2  # both processes finished
    assert len(script.requests) == 20 and sum(sent) == 20  # not 40: each request paid for once


def test_a_killed_processs_claim_expires(tmp_path: Path) -> None:
    with fake_server(Script([("ok", "a reply")])) as url:
        (request,) = _requests(url, 1)
        killed = Cache(tmp_path / "c.sqlite")
        assert killed.claim(request, ttl_s=0.5)  # ...and the process dies without releasing it
        survivor = Cache(tmp_path / "c.sqlite")
        assert not survivor.claim(request, ttl_s=0.5)
        time.sleep(0.6)
        assert survivor.claim(request, ttl_s=0.5)
        killed.close()
        survivor.close()
