"""Replicas and adaptive concurrency: failover mid-run, 429 storms, the spec grammar, the limit's rules."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from judgebench.clients.endpoints import parse_endpoint
from judgebench.clients.replicas import AdaptiveLimit, ReplicaPool
from judgebench.errors import BackendError, ConfigError
from judgebench.formats.judgebench import read_jsonl
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.run.runner import RetryPolicy
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Item, Judge, Task

from ..fakeserver import Script, completion, fake_server, serving

FAST = RetryPolicy(max_attempts=5, max_elapsed_s=60, initial_wait_s=0.01, max_wait_s=1.0)


def task_of(n_items: int) -> Task:
    base = load_task("sample-mt")
    items = tuple(Item(f"q{i}", "writing", (f"Question {i}?",)) for i in range(n_items))
    return replace(base, items=items)


def answers_file(task: Task, path: Path) -> Path:
    with path.open("w") as out:
        for item in task.items:
            out.write(json.dumps({"question_id": item.id, "model_id": "cand",
                                  "choices": [{"index": 0, "turns": [f"answer {item.id}"]}]}) + "\n")
    return path


def judge_at(spec: str, concurrency: int) -> Judge:
    return Judge("j#text", parse_endpoint(spec, role="judge", concurrency=concurrency), constrained=False)


def test_a_replica_that_stops_answering_is_left_out_taken_back_and_every_judgment_finishes_once(
        tmp_path: Path) -> None:
    # Replica A answers 5 requests, drops the connections of the next 2, then answers again.
    steady = ("ok", "Rating: [[7]]", 0.02)
    a = Script([steady] * 5 + [("drop",)] * 2 + [steady])
    b = Script([steady])
    n = 300
    task = task_of(n)
    with fake_server(a) as url_a, fake_server(b) as url_b:
        config = RunConfig(model=None, judges=(judge_at(f"j@{url_a},{url_b}", 4),), out=tmp_path / "r",
                           cache_path=tmp_path / "c.sqlite", answers_file=answers_file(task, tmp_path / "a.jsonl"),
                           retry=FAST, progress=False, adaptive=False)
        result = evaluate(task, config)
    assert result.n_failed == 0 and result.n_judgments == n
    records = read_jsonl(result.run_dir / "judgments.jsonl")
    assert Counter(r["item_id"] for r in records) == Counter(f"q{i}" for i in range(n))  # each exactly once
    answered_by_a = min(len(a.requests), 5) + max(0, len(a.requests) - 7)
    # Every request was answered exactly once: the two dropped ones were sent again, to B.
    assert answered_by_a + len(b.requests) == n
    assert result.counters.retries == 2 and result.counters.requests == n + 2
    # A was out for a cool-down (B answered everything meanwhile), then a probe put it back: it answered far more
    # than the handful it had in flight when it stopped.
    assert answered_by_a > 5 + 4 + 20


class _Capacity:
    """A server that serves ``capacity`` requests at once and answers 429 (Retry-After) to the rest."""

    def __init__(self, capacity: int, service_s: float) -> None:
        self.capacity, self.service_s = capacity, service_s
        self.in_flight = self.served = self.refused = 0
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with state.lock:
                    admitted = state.in_flight < state.capacity
                    state.in_flight += admitted
                    state.refused += not admitted
                if not admitted:
                    self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"Retry-After": "0.05"})
                    return
                time.sleep(state.service_s)
                with state.lock:
                    state.in_flight -= 1
                    state.served += 1
                self._send(200, completion("Rating: [[6]]"))

            def _send(self, status: int, payload: dict[str, object], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.mark.parametrize("adaptive", [True, False])
def test_a_429_storm_is_weathered_by_adapting_concurrency(tmp_path: Path, adaptive: bool) -> None:
    """32 requests at once against a server that takes 4: adapting, the run finishes with every judgment;
    at a fixed 32, the same storm exhausts the retries of some requests (what adapting is for)."""
    server = _Capacity(capacity=4, service_s=0.02)
    task = task_of(200)
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), server.handler())) as base:
        config = RunConfig(model=None, judges=(judge_at(f"j@{base}/v1", 32),), out=tmp_path / "r",
                           cache_path=tmp_path / "c.sqlite", answers_file=answers_file(task, tmp_path / "a.jsonl"),
                           retry=FAST, progress=False, adaptive=adaptive)
        result = evaluate(task, config)
    if adaptive:
        assert result.n_failed == 0 and server.served == 200
        assert server.refused < 200  # far fewer 429s than requests: the limit came down to what the server takes
    else:
        # At a fixed 32 the storm is refused many times over. Whether some requests then run out of retries
        # depends on how fast this machine is, so only what is certain is asserted: every item is accounted
        # for, as judged or as failed.
        assert server.refused > 0 and result.counters.retries > 0
        assert server.served + result.n_failed == 200 == result.n_judgments


def test_the_adaptive_limit_rises_while_latency_holds_and_halves_once_per_round_trip() -> None:
    limit = AdaptiveLimit(4)
    now = 100.0
    for _ in range(4):  # a full window of successes while kept busy, latency steady
        limit.saturated = True
        limit.on_success(0.1, now)
    assert limit.value == 5
    for _ in range(5):
        limit.on_success(0.1, now)  # not kept busy: no reason to send more
    assert limit.value == 5
    limit.on_overload(now)
    limit.on_overload(now + 0.01)  # the same round trip: one cut
    assert limit.value == 2 and limit.cuts == 1
    for step in range(10):
        limit.on_overload(now + 1 + step)
    assert limit.value == 1  # never below one
    fixed = AdaptiveLimit(4, fixed=True)
    fixed.on_overload(now)
    fixed.saturated = True
    for _ in range(10):
        fixed.on_success(0.1, now)
    assert fixed.value == 4


def test_latency_that_grows_stops_the_rise() -> None:
    limit = AdaptiveLimit(4)
    for _ in range(20):
        limit.saturated = True
        limit.on_success(0.1, 0.0)
    risen = limit.value
    for step in range(40):  # the server starts queueing what it is sent
        limit.saturated = True
        limit.on_success(0.1 * (1 + step), float(step))
    assert limit.value <= risen


def test_replica_specs() -> None:
    endpoint = parse_endpoint("m@http://a:8000/v1,http://b:8000/v1/", role="judge", concurrency=8)
    assert endpoint.base_url == "http://a:8000/v1" and endpoint.replicas == ("http://b:8000/v1",)
    # The cache knows the replica set, whichever order it is named in.
    swapped = parse_endpoint("m@http://b:8000/v1,http://a:8000/v1", role="judge", concurrency=8)
    assert endpoint.identity() == swapped.identity()
    assert Endpoint("openai", "m", "m", "http://a:8000/v1").identity() == "http://a:8000/v1"
    with pytest.raises(ConfigError, match="replicas are URLs"):
        parse_endpoint("m@http://a:8000/v1,b:8000", role="judge", concurrency=8)
    with pytest.raises(ConfigError, match="given twice"):
        parse_endpoint("m@http://a:8000/v1,http://a:8000/v1", role="judge", concurrency=8)


@pytest.mark.parametrize("fault", [("500",), ("raw", 200, b"<html>maintenance</html>"), ("429", 5),
                                   ("cut", b'{"choices": [')])
def test_a_replica_that_answers_badly_costs_no_judgment_while_another_answers_well(
        tmp_path: Path, fault: tuple[object, ...]) -> None:
    """A replica that fails fast (a 5xx, a garbled 200, a 429 with a long Retry-After, a body cut short) always
    looks least busy: its requests go to the healthy replica at once, and it is taken out after three in a row."""
    bad = Script([fault])
    good = Script([("ok", "Rating: [[7]]")])
    task = task_of(40)
    with fake_server(bad) as url_bad, fake_server(good) as url_good:
        config = RunConfig(model=None, judges=(judge_at(f"j@{url_bad},{url_good}", 4),), out=tmp_path / "r",
                           cache_path=tmp_path / "c.sqlite", answers_file=answers_file(task, tmp_path / "a.jsonl"),
                           retry=FAST, progress=False)
        result = evaluate(task, config)
    assert result.n_failed == 0 and result.n_judgments == 40
    assert len(good.requests) == 40 and len(bad.requests) < 40


async def test_a_replica_that_garbles_every_reply_is_taken_out_after_three_in_a_row() -> None:
    """The cause of the flaky [fault1] case above: a garbled 2xx is not retryable on a lone server, but the runner
    sends it to another replica as this one's fault; the pool must count it too, or the garbling replica (always
    least busy) is never taken out and keeps taking requests until some of them run out of attempts."""
    endpoint = Endpoint("openai", "m", "m", "http://a/v1", replicas=("http://b/v1",))
    pool = ReplicaPool(endpoint, lambda e: None)  # type: ignore[arg-type,return-value]
    garbled = BackendError("the server's reply is not a chat completion", retryable=False)
    bad = pool.replicas[0]
    for _ in range(3):
        assert await pool.acquire() is bad  # least busy (first of two idle replicas)
        pool.release(bad, 0.001, garbled)
    assert bad.down and bad.consecutive_errors == 3
    # A refusal of the request itself (a 4xx) says nothing about the replica: never counted.
    refused = BackendError("HTTP 400: bad request", retryable=False, status=400)
    other = pool.replicas[1]
    for _ in range(3):
        assert await pool.acquire() is other
        pool.release(other, 0.001, refused)
    assert not other.down and other.consecutive_errors == 0


def one_slot_pool(*, slots: int | None = 1) -> ReplicaPool:
    endpoint = Endpoint("local", "m", "m", "http://a/v1", replicas=("http://b/v1",), slots=slots)
    return ReplicaPool(endpoint, lambda e: None)  # type: ignore[arg-type,return-value]


PROMPT = (("system", "grade it"), ("user", "question and answer"))


async def test_requests_with_one_prompt_go_one_after_the_other_to_the_replica_that_read_it() -> None:
    """A panel's judges ask one prompt: on one-slot servers (llama.cpp, which keeps the last prompt it read) the
    second waits for the replica the first went to, while other prompts take the other replica."""
    pool = one_slot_pool()
    a, b = pool.replicas
    assert await pool.acquire(prompt=PROMPT) is a
    second = asyncio.ensure_future(pool.acquire(prompt=PROMPT))
    await asyncio.sleep(0)
    assert not second.done() and b.in_flight == 0  # b is free, but has not read the prompt
    assert await pool.acquire(prompt=(("user", "another"),)) is b
    pool.release(b, 0.001, None)
    third = await pool.acquire(prompt=(("user", "yet another"),))  # a waiter for a busy holder blocks no one
    assert third is b
    pool.release(a, 0.001, None)
    assert await second is a


async def test_waiting_requests_take_the_replica_that_read_their_prompt_while_they_waited() -> None:
    pool = one_slot_pool()
    a, b = pool.replicas
    assert await pool.acquire(prompt=(("user", "x"),)) is a and await pool.acquire(prompt=(("user", "y"),)) is b
    # Both judges' requests for one answer queue while every replica is busy: neither replica holds them yet.
    first = asyncio.ensure_future(pool.acquire(prompt=PROMPT))
    second = asyncio.ensure_future(pool.acquire(prompt=PROMPT))
    await asyncio.sleep(0)
    pool.release(b, 0.001, None)
    assert await first is b
    pool.release(a, 0.001, None)  # a is free, but b now holds the prompt: the second waits for b
    await asyncio.sleep(0)
    assert not second.done() and a.in_flight == 0
    pool.release(b, 0.001, None)
    assert await second is b


async def test_a_second_turn_goes_where_its_first_was_answered() -> None:
    pool = one_slot_pool()
    a, b = pool.replicas
    turn_1 = (("user", "q1"),)
    assert await pool.acquire(prompt=(("user", "other"),)) is a
    assert await pool.acquire(prompt=turn_1) is b
    pool.release(a, 0.001, None)
    pool.release(b, 0.001, None)
    # b was last given the first turn; the second turn begins with it (the server reuses that prefix).
    assert await pool.acquire(prompt=(*turn_1, ("assistant", "a1"), ("user", "q2"))) is b
    # A prompt that merely begins like another (one shared message of two) is not held anywhere.
    assert await pool.acquire(prompt=(("user", "other"), ("user", "more"))) is a


async def test_prompts_pin_nothing_without_slots_for_a_retry_or_on_a_replica_taken_out() -> None:
    # vLLM and SGLang batch what they are sent (no slots): requests spread as before.
    spread = one_slot_pool(slots=None)
    assert [await spread.acquire(prompt=PROMPT), await spread.acquire(prompt=PROMPT)] == spread.replicas
    pool = one_slot_pool()
    a, b = pool.replicas
    assert await pool.acquire(prompt=PROMPT) is a
    pool.release(a, 0.001, None)
    # A retry goes elsewhere, not back to the replica its prompt failed on.
    assert await pool.acquire(avoid=a, prompt=PROMPT) is b
    pool.release(b, 0.001, None)
    assert await pool.acquire(prompt=PROMPT) is a
    pool.release(a, 0.001, BackendError("refused", retryable=True, unreachable=True))
    assert a.down
    assert await pool.acquire(prompt=PROMPT) is b  # the holder is out: any replica takes it


async def test_a_probe_handed_to_a_request_that_is_cancelled_passes_to_the_next() -> None:
    """A replica taken out is probed by one request once cooled down; a request handed that probe but cancelled
    before it ran must leave the probe to the next request, or the replica is never probed again."""
    pool = one_slot_pool()
    a, b = pool.replicas
    assert await pool.acquire() is a
    pool.release(a, 0.001, BackendError("refused", retryable=True, unreachable=True))
    assert a.down
    assert await pool.acquire() is b  # b busy, a cooling down: the next request waits
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    a.down_until = 0.0  # the cool-down is over: the waiter is handed a's probe ...
    pool._hand_over()
    assert a.probing and a.in_flight == 1
    waiting.cancel()  # ... as its run is cancelled, before the request resumes to send the probe
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert a.in_flight == 0 and not a.probing
    assert await pool.acquire() is a  # the next request probes it
