"""The parts of a judge request that every task kind shares: the judge's sampling parameters, the template an
item is judged with, and the code of the frames around untrusted text. Pure; imports no kind, so every kind can
import it."""

from __future__ import annotations

import hashlib
from typing import Any

from ..types import Item, Judge, Task


def judge_params(task: Task, judge: Judge, *, grades: bool = False, verdicts: bool = False
                 ) -> tuple[tuple[str, Any], ...]:
    """The sampling parameters of a judge's request. ``grades``: the verdict is a grade, which the judge's
    log-probabilities (``,logprobs``) weigh; ``verdicts``: the verdict is one of three pairwise labels, whose
    probabilities they give (PairVerdict.probability, logprob_margin). Other verdicts have nothing to weigh."""
    temperature = task.judge.temperature if judge.temperature is None else judge.temperature
    params: tuple[tuple[str, Any], ...] = (("max_tokens", task.judge.max_tokens), ("temperature", temperature))
    if judge.logprobs and (grades or verdicts):
        # The judge's token log-probabilities give a probability-weighted grade as well. Asked for only when the
        # judge says so: llama-cpp-python's server ranks the whole vocabulary in Python for every token it returns
        # (about 90 ms a token, 5 times the cost of generating it), which took 38% of the default run.
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
