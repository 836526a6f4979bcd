"""Reasoning blocks are kept apart from the answer a judge sees."""

from __future__ import annotations

import pytest

from judgebench.judging.answers import split_reasoning


@pytest.mark.parametrize(("reply", "answer", "thought"), [
    ("<think>2+2 is 4, say [[10]]</think>The answer is 4.", "The answer is 4.", "2+2 is 4, say [[10]]"),
    ("Intro. <thinking>hmm</thinking> Done.", "Intro.  Done.", "hmm"),
    ("weighing options</think>\nPick B.", "Pick B.", "weighing options"),  # the template opened the block
    ("<think>cut off while thinking about", "", "cut off while thinking about"),
    ("A plain answer with <b>tags</b>.", "A plain answer with <b>tags</b>.", ""),
])
def test_split_reasoning(reply: str, answer: str, thought: str) -> None:
    assert split_reasoning(reply) == (answer, thought)


def test_reasoning_returned_apart_is_kept() -> None:
    assert split_reasoning("Paris.", "The capital of France") == ("Paris.", "The capital of France")
