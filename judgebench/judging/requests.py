"""Items x candidates -> chat requests that every task kind shares: the candidate's generation turns, the judge's
sampling parameters and template choice, and rendering every prompt before anything is sent. Pure."""

from __future__ import annotations

import hashlib
from typing import Any

from ..clients.providers import provider_of
from ..types import Candidate, ChatRequest, Endpoint, Item, Judge, Task


def generation_request(task: Task, item: Item, endpoint: Endpoint, previous_answers: tuple[str, ...]) -> ChatRequest:
    """The request for the next turn of a candidate's answer: turn k sees the model's own answers to 1..k-1."""
    messages: list[tuple[str, str]] = []
    for question, answer in zip(item.turns, previous_answers, strict=False):
        messages += [("user", question), ("assistant", answer)]
    messages.append(("user", item.turns[len(previous_answers)]))
    return ChatRequest(endpoint=endpoint, messages=tuple(messages), params=task.generation_for(item.category))


def judge_params(task: Task, judge: Judge) -> tuple[tuple[str, Any], ...]:
    temperature = task.judge.temperature if judge.temperature is None else judge.temperature
    params: tuple[tuple[str, Any], ...] = (("max_tokens", task.judge.max_tokens), ("temperature", temperature))
    if judge.constrained and provider_of(judge.endpoint).local:
        # llama.cpp returns the judge's log-probabilities, which give a probability-weighted grade as well.
        params = (*params, ("logprobs", True), ("top_logprobs", 10))
    # A sampled verdict is reproducible only with a fixed seed (vLLM, llama.cpp and OpenAI take one).
    return (*params, ("seed", 0)) if temperature > 0 else params


def template_for(task: Task, item: Item) -> str:
    uses_reference = item.category in task.judge.reference_categories and bool(item.reference)
    if uses_reference and task.judge.reference_prompt:
        return task.judge.reference_prompt
    return task.judge.prompt


def frame_code(*texts: str) -> str:
    """A code for the markers that frame untrusted text in one prompt, derived from that text: the same answers
    give the same prompt (so the cache key is stable), and an answer cannot contain the code of a frame built
    around itself, so it cannot close its frame or open one of its own."""
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()[:10]


def placeholder_candidates(task: Task, items: list[Item], model: str = "placeholder") -> list[Candidate]:
    return [Candidate(task.benchmark, item.id, model,
                      tuple(f"({model} answer {k + 1})" if model != "placeholder" else f"(answer {k + 1})"
                            for k in range(len(item.turns)))) for item in items]


def render_all(task: Task, items: list[Item], judges: list[Judge] | tuple[Judge, ...],
               candidates: list[Candidate] | None = None, *, every_item: bool = False) -> int:
    """Render the judge prompts of one item of every shape (category, number of turns, with or without a
    reference) for every judge (of every item with ``every_item``), with placeholder answers when none are
    given, and return how many: a template error surfaces here, before any request is sent or any result
    written. A prompt's form depends on nothing else, so rendering every item here would render each twice.
    Kinds that compare two candidates see a placeholder opponent."""
    from .kinds import kind_of

    strategy = kind_of(task.kind)
    representatives: dict[tuple[str, int, bool], Item] = {}
    for item in items:
        if every_item:
            representatives[(item.id, 0, False)] = item
            continue
        representatives.setdefault((item.category, len(item.turns), bool(item.reference)), item)
    chosen = list(representatives.values())
    by_id = {item.id: item for item in chosen}
    if candidates is None:
        candidates = placeholder_candidates(task, chosen)
    else:
        candidates = [c for c in candidates if c.item_id in by_id]
    opponents = {c.item_id: c for c in placeholder_candidates(task, chosen, "placeholder-opponent")}
    return sum(len(strategy.requests(task, c, by_id[c.item_id], judge, opponents[c.item_id]))
               for judge in judges for c in candidates)
