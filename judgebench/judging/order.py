"""The order judge requests are sent in, for servers with a prefix cache (vLLM's automatic prefix caching, SGLang's
radix cache, llama.cpp's slots): a request whose prompt begins as a recent one's did skips the prefill of that
beginning, so requests that share the longest beginning should go out one after the other.

The rule is general, whatever made the requests: sorted by server, then by prompt (role and text of each message,
in order). Sorting strings puts those sharing a prefix next to each other, and the longer the shared prefix the
closer: between two prompts that share a beginning, every prompt sorted between them shares it too. So an item's
two orders (AB, BA: they share the instructions and the question), every criterion of a rubric for one answer
(they share the answer), and every judgment of one candidate's answer in battles (the prompts that show it first)
come out adjacent, and a panel's judges asking one server the same prompt come out together. Equal prompts keep
their order (a stable sort): a judge's repeated asks stay ask by ask. Pure: nothing here sends anything."""

from __future__ import annotations

from collections.abc import Sequence

from ..types import ChatRequest


def prefix_order(requests: Sequence[ChatRequest]) -> list[int]:
    """The positions of ``requests`` in the order to send them (see the module doc): a permutation of
    ``range(len(requests))``."""
    if len(requests) < 2:
        return list(range(len(requests)))
    return sorted(range(len(requests)), key=lambda i: (_server(requests[i]), requests[i].messages))


def _server(request: ChatRequest) -> tuple[str, str, str]:
    endpoint = request.endpoint
    return endpoint.provider, endpoint.identity(), endpoint.model


__all__ = ["prefix_order"]
