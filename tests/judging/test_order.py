"""judging.order: the send order that keeps a server's prefix cache hot."""

from __future__ import annotations

from itertools import pairwise

from judgebench.judging.order import prefix_order
from judgebench.types import ChatRequest, Endpoint

SERVER = Endpoint("openai", "judge", "judge-model", base_url="http://127.0.0.1:9/v1")
OTHER = Endpoint("openai", "judge", "judge-model", base_url="http://127.0.0.1:10/v1")


def chat(text: str, endpoint: Endpoint = SERVER, params: tuple[tuple[str, object], ...] = ()) -> ChatRequest:
    return ChatRequest(endpoint, (("system", "Judge."), ("user", text)), params)


def shared(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_requests_sharing_the_longest_prefix_become_adjacent() -> None:
    # Battles on one item: (A, B), (B, A), (A, C), (C, A), (B, C), (C, B), as the schedule makes them.
    prompts = ["Q [A] [B]", "Q [B] [A]", "Q [A] [C]", "Q [C] [A]", "Q [B] [C]", "Q [C] [B]"]
    order = prefix_order([chat(p) for p in prompts])
    sent = [prompts[i] for i in order]
    assert sorted(order) == list(range(len(prompts)))
    assert sent == ["Q [A] [B]", "Q [A] [C]", "Q [B] [A]", "Q [B] [C]", "Q [C] [A]", "Q [C] [B]"]
    # Each request now shares its answer-first prefix with the one before it, except where the first answer changes.
    before = sum(shared(a, b) for a, b in pairwise(prompts))
    after = sum(shared(a, b) for a, b in pairwise(sent))
    assert after > before


def test_servers_are_kept_apart_and_equal_prompts_keep_their_order() -> None:
    requests = [chat("x", OTHER), chat("y"), chat("x", params=(("temperature", 0.7),)), chat("x")]
    order = prefix_order(requests)
    # One server's requests together (the other's, the first given, at one end)...
    assert order.index(0) in (0, len(order) - 1)
    # ... and the same prompt to one server (a panel's two judges, a judge's repeated asks) adjacent, in their order.
    assert [i for i in order if i != 0] == [2, 3, 1]
    assert prefix_order([]) == [] and prefix_order([chat("x")]) == [0]
