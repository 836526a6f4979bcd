"""A model's reply -> the answer a judge sees, and the thinking it does not.

Reasoning models write their thinking into the reply (``<think>...</think>``, as DeepSeek-R1, Qwen3 and others
do) or the server returns it apart (vLLM's ``reasoning_content``). The judge grades the answer, as Arena-Hard v2
does: thinking is kept with the answer for the record, but never put into a judge prompt and never counted in
length or style.
"""

from __future__ import annotations

import re

# <think>, and the other names reasoning models use for the block; an unclosed block (a reply cut off while
# thinking) runs to the end.
_BLOCK = re.compile(r"<(think|thinking|reasoning)>(.*?)(?:(</\1>)|\Z)", re.DOTALL | re.IGNORECASE)
# Some chat templates open the block in the prompt, so the reply starts inside it and only closes it.
_CLOSE_ONLY = re.compile(r"\A(.*?)</(think|thinking|reasoning)>", re.DOTALL | re.IGNORECASE)


def _after_leading_close(text: str) -> str:
    opened = _BLOCK.search(text)
    closed = _CLOSE_ONLY.match(text)
    if closed and (opened is None or closed.start(2) < opened.start()):
        return text[closed.end():]
    return text


def unclosed_reasoning(text: str) -> str | None:
    """The name of a reasoning block the reply opens and never closes (``split_reasoning`` takes all that follows
    its opening tag as thinking), else None."""
    for block in _BLOCK.finditer(_after_leading_close(text)):
        if block.group(3) is None:
            return block.group(1)
    return None


def split_reasoning(text: str, reasoning: str | None = None) -> tuple[str, str]:
    """(the answer, the thinking) of a reply; ``reasoning`` is thinking the server returned apart."""
    if "<" not in text:  # no tag, so no block (what the expressions below would find: the answers of most replies)
        return (text.strip(), reasoning.strip()) if reasoning else (text, "")
    thoughts = [reasoning] if reasoning else []
    opened = _BLOCK.search(text)
    closed = _CLOSE_ONLY.match(text)
    if closed and (opened is None or closed.start(2) < opened.start()):
        thoughts.append(closed.group(1))
        text = text[closed.end():]
    thoughts += [m.group(2) for m in _BLOCK.finditer(text)]
    answer = _BLOCK.sub("", text)
    return answer.strip() if thoughts else answer, "\n\n".join(t.strip() for t in thoughts if t.strip())
