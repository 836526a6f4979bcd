"""Items x candidates -> chat requests that every task kind shares: the candidate's generation turns, and rendering
every judge prompt before anything is sent. Pure. The judge's sampling parameters and template choice are in
prompt_parts (re-exported here), which the kinds import."""

from __future__ import annotations

from ..types import Candidate, ChatRequest, Endpoint, Item, Judge, Task
from .kinds import kind_of
from .prompt_parts import frame_code, judge_params, template_for

__all__ = ["frame_code", "generation_request", "judge_params", "placeholder_candidates", "render_all", "template_for"]


def generation_request(task: Task, item: Item, endpoint: Endpoint, previous_answers: tuple[str, ...]) -> ChatRequest:
    """The request for the next turn of a candidate's answer: turn k sees the model's own answers to 1..k-1."""
    messages: list[tuple[str, str]] = list(item.context)  # a benchmark's conversation so far, where it has one
    for question, answer in zip(item.turns, previous_answers, strict=False):
        messages += [("user", question), ("assistant", answer)]
    messages.append(("user", item.turns[len(previous_answers)]))
    return ChatRequest(endpoint=endpoint, messages=tuple(messages), params=task.generation_for(item.category))


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
