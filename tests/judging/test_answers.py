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


@pytest.mark.parametrize(("text", "reasoning", "expected"), [
    ("  a plain answer, 3 > 2\n", None, ("  a plain answer, 3 > 2\n", "")),  # untouched when there is no thinking
    ("  a plain answer\n", "", ("  a plain answer\n", "")),
    ("  an answer\n", "  thought apart \n", ("an answer", "thought apart")),  # as with a block in the text
    ("  an answer\n", "   ", ("an answer", "")),
])
def test_a_reply_without_any_tag_splits_as_one_with_its_thinking_apart(text: str, reasoning: str | None,
                                                                       expected: tuple[str, str]) -> None:
    assert split_reasoning(text, reasoning) == expected
    # The same answer with an empty block of its own: the thinking apart is kept and stripped alike.
    assert split_reasoning(f"<think></think>{text}", reasoning) == (expected[0].strip(), expected[1])
