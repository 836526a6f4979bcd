"""A request that would wait for a slot longer than twice WRITE_DELAY_S has its cache look-up wait (that long at
most) for the next transaction of stored replies (issue 23: a transaction each turn of the event loop was the cache's
main cost at a fast server's pace). What the look-up does is unchanged: the claim is taken before the request is sent,
a reply another process stored meanwhile is served instead of sending, and a claim of another process is waited
for."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from judgebench.clients.backends.inprocess import serving
from judgebench.run.cache import Cache
from judgebench.run.runner import LOOKUP_WAIT_S, RetryPolicy, Runner
from judgebench.types import ChatReply, ChatRequest, Endpoint

SLOW_S = 0.1  # each request the model answers takes this long: the rest queue behind it (one slot)


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
            await runner.call(ChatRequest(endpoint, (("user", "warm"),)))  # the pool learns the server's pace
            first = [asyncio.ensure_future(runner.call(asks[f"q{i}"])) for i in range(5)]
            await asyncio.sleep(SLOW_S / 5)  # q0 sent, four waiting for the one slot: 4 x SLOW_S to wait
            assert runner.pool(endpoint).wait_s() >= LOOKUP_WAIT_S
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
        assert sorted(sent) == sorted(["warm", "q0", "q1", "q2", "q3", "q4", "fresh"])  # once each, theirs never
        assert runner.counters.requests == 7 and runner.counters.cache_hits == 2

    with serving(model) as url:
        asyncio.run(scenario(url))


def test_a_pools_wait_is_the_requests_ahead_over_its_pace(tmp_path: Path) -> None:
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
            assert pool.wait_s() == 0.0  # three waiting, but no pace known yet: a look-up is not held back
            await asyncio.gather(*calls)
            assert pool.wait_s() == 0.0  # none waiting
            calls = [asyncio.ensure_future(runner.call(ChatRequest(endpoint, (("user", f"r{i}"),))))
                     for i in range(6)]
            await asyncio.sleep(SLOW_S / 5)
            # Two sent (two slots), four waiting, each slot freeing every SLOW_S or so: about 2 x SLOW_S.
            assert SLOW_S < pool.wait_s() < 4 * SLOW_S
            await asyncio.gather(*calls)
        finally:
            await runner.aclose()
            runner.cache.close()

    with serving(model) as url:
        asyncio.run(scenario(url))


def test_a_lookup_cancelled_before_its_transaction_claims_nothing(tmp_path: Path) -> None:
    """An interrupted run's requests whose look-ups were still waiting for their transaction would otherwise leave
    claims behind: another host's process sharing the cache would wait for them to expire."""
    endpoint = Endpoint("openai", "j", "m", base_url="http://127.0.0.1:9/v1")
    cancelled, kept = (ChatRequest(endpoint, (("user", q),)) for q in ("cancelled", "kept"))

    async def scenario() -> None:
        cache = Cache(tmp_path / "c.sqlite")
        other = Cache(tmp_path / "c.sqlite")
        runner = Runner(cache, progress=False)
        try:
            lookups = [asyncio.ensure_future(runner._lookup(r.cache_key(), soon=False)) for r in (cancelled, kept)]
            await asyncio.sleep(0)  # both queued for the next transaction
            lookups[0].cancel()
            runner.flush()
            assert (await lookups[1]) == (None, True)
            assert other.claim(cancelled, ttl_s=30) and not other.claim(kept, ttl_s=30)
        finally:
            await runner.aclose()
            cache.close()
            other.close()

    asyncio.run(scenario())


def test_a_call_cancelled_after_its_transaction_claimed_it_gives_the_claim_up(tmp_path: Path) -> None:
    """The transaction claimed the request and answered its look-up, then the call was cancelled before its task ran
    again (Ctrl-C between the two): the request is never sent, and its claim is given up, not left for another
    host's process to wait out."""
    endpoint = Endpoint("openai", "j", "m", base_url="http://127.0.0.1:9/v1")
    request = ChatRequest(endpoint, (("user", "interrupted"),))

    async def scenario() -> None:
        cache = Cache(tmp_path / "c.sqlite")
        other = Cache(tmp_path / "c.sqlite")
        runner = Runner(cache, progress=False)
        try:
            call = asyncio.ensure_future(runner.call(request))
            await asyncio.sleep(0)  # its look-up queued
            runner.flush()  # its transaction: claimed, the look-up answered
            call.cancel()  # before the call's task runs again
            with contextlib.suppress(asyncio.CancelledError):
                await call
            assert runner.counters.requests == 0
            await runner.aclose()
            assert other.claim(request, ttl_s=30)
        finally:
            cache.close()
            other.close()

    asyncio.run(scenario())
