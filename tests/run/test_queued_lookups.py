"""A request queued behind rounds of others for a slot has its cache look-up wait a few milliseconds for the next
transaction of stored replies (issue 23: a transaction each turn of the event loop was the cache's main cost at a
fast server's pace). What the look-up does is unchanged: the claim is taken before the request is sent, a reply
another process stored meanwhile is served instead of sending, and a claim of another process is waited for."""

from __future__ import annotations

import asyncio
from pathlib import Path

from judgebench.clients.backends.inprocess import serving
from judgebench.run.cache import Cache
from judgebench.run.runner import LOOKUP_ROUNDS, RetryPolicy, Runner
from judgebench.types import ChatReply, ChatRequest, Endpoint

SLOW_S = 0.05  # each request the model answers takes this long: the rest queue behind it (one slot)


def test_a_queued_lookup_still_claims_first_and_serves_or_waits_for_another_processs_work(tmp_path: Path) -> None:
    sent: list[str] = []

    async def model(request: ChatRequest) -> str:
        sent.append(request.messages[-1][1])
        await asyncio.sleep(SLOW_S)
        return f"mine {request.messages[-1][1]}"

    async def scenario(url: str) -> None:
        endpoint = Endpoint("openai", "j", "m", base_url=url, concurrency=1)
        asks = {name: ChatRequest(endpoint, (("user", name),)) for name in
                ("q0", "q1", "q2", "q3", "q4", "stored", "claimed", "fresh")}
        cache = Cache(tmp_path / "c.sqlite")
        other = Cache(tmp_path / "c.sqlite")  # another process on the same cache: its own claims
        runner = Runner(cache, retry=RetryPolicy(max_elapsed_s=30), progress=False, adaptive=False)
        try:
            first = [asyncio.ensure_future(runner.call(asks[f"q{i}"])) for i in range(5)]
            await asyncio.sleep(SLOW_S / 5)  # q0 sent, four waiting for the one slot
            assert runner.pool(endpoint).queued(LOOKUP_ROUNDS)
            other.put(asks["stored"], ChatReply("theirs stored"))
            assert other.claim(asks["claimed"], ttl_s=30)
            late = {name: asyncio.ensure_future(runner.call(asks[name])) for name in ("stored", "claimed", "fresh")}
            await asyncio.sleep(SLOW_S)  # the queued look-ups are done (a few ms), q1 at most is being sent
            assert "fresh" not in sent and not other.claim(asks["fresh"], ttl_s=30)  # claimed before it is sent
            assert late["stored"].done() and late["stored"].result().text == "theirs stored"
            assert not late["claimed"].done()  # another process is sending it: waited for
            other.put(asks["claimed"], ChatReply("theirs claimed"))
            other.release(asks["claimed"])
            replies = await asyncio.gather(*first, *late.values())
        finally:
            await runner.aclose()
            cache.close()
            other.close()
        assert [r.text for r in replies] == [f"mine q{i}" for i in range(5)] + [
            "theirs stored", "theirs claimed", "mine fresh"]
        assert sorted(sent) == sorted(["q0", "q1", "q2", "q3", "q4", "fresh"])  # each sent once, theirs never
        assert runner.counters.requests == 6 and runner.counters.cache_hits == 2

    with serving(model) as url:
        asyncio.run(scenario(url))


def test_a_pool_is_queued_only_behind_rounds_of_waiting_requests(tmp_path: Path) -> None:
    async def model(request: ChatRequest) -> str:
        await asyncio.sleep(SLOW_S)
        return "ok"

    async def scenario(url: str) -> None:
        endpoint = Endpoint("openai", "j", "m", base_url=url, concurrency=2)
        runner = Runner(Cache(tmp_path / "c.sqlite"), progress=False, adaptive=False)
        try:
            calls = [asyncio.ensure_future(runner.call(ChatRequest(endpoint, (("user", f"q{i}"),))))
                     for i in range(5)]
            await asyncio.sleep(SLOW_S / 5)
            pool = runner.pool(endpoint)
            # Two sent (two slots), three waiting: one round and a half queued.
            assert pool.queued(1) and not pool.queued(2)
            await asyncio.gather(*calls)
            assert not pool.queued(1)
        finally:
            await runner.aclose()
            runner.cache.close()

    with serving(model) as url:
        asyncio.run(scenario(url))
