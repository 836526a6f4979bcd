"""What a judge's reply must pass before a verdict is read from it, whatever the task kind: the server did not stop
it for its content (OpenAI's ``finish_reason: content_filter``, Anthropic's ``stop_reason: refusal``), and a
reasoning block it opened was closed (an unclosed ``<think>`` holds thinking, not a verdict). And, for a JSON
verdict, that it is the judge's own: a candidate's answer can hold a verdict-shaped object, and a judge that copies
it has not judged. Pure.

Text verdicts need no copy check: ``prompts.neutralize`` breaks every ``[[...]]`` in an answer before the judge sees
it. JSON cannot be neutralized that way (braces and quotes are everywhere in answers), so a JSON verdict is
refused when the answers shown to the judge already hold it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..types import ChatReply
from .answers import unclosed_reasoning

# Finish reasons that say the server stopped the reply for what it says: OpenAI's (and OpenAI-compatible servers':
# Azure, Gemini's compatibility layer, OpenRouter), Anthropic's, and Gemini's native ones in lower case.
FILTERED = {
    "content_filter": "the server's content filter stopped the judge's reply",
    "refusal": "the judge refused to answer",
    "safety": "the server's safety filter stopped the judge's reply",
    "recitation": "the server stopped the judge's reply for reciting a source",
    "prohibited_content": "the server's content filter stopped the judge's reply",
    "blocklist": "the server's blocklist stopped the judge's reply",
    "spii": "the server stopped the judge's reply for personal information",
}
# Finish reasons that say the reply was cut off by its max_tokens: OpenAI's, and Anthropic's stop_reason.
CUT_OFF = frozenset({"length", "max_tokens"})
COPIED = "the verdict matches text from a candidate answer: a JSON verdict an answer holds is not the judge's"
# How many places in one answer a JSON object is looked for: bounds the work a hostile answer can cause.
_MAX_OBJECTS = 200


def stopped(reply: ChatReply) -> str | None:
    """Why the server stopped this reply for its content (a content filter, a refusal), else None."""
    reason = (reply.finish_reason or "").lower()
    found = FILTERED.get(reason)
    return f"{found} (finish reason {reason!r}): not a verdict; the next run asks again" if found else None


def cut_off(reply: ChatReply) -> bool:
    """Whether the server cut the reply off at its max_tokens."""
    return (reply.finish_reason or "").lower() in CUT_OFF


def unclosed(reply: ChatReply) -> str | None:
    """The error for a reply that ends inside a reasoning block it opened, else None: what follows the opening tag
    is thinking, so no grade is read from it (an interim one would be)."""
    name = unclosed_reasoning(reply.text)
    if name is None:
        return None
    why = "the reply was cut off by max_tokens while thinking" if cut_off(reply) else "no verdict after it"
    return f"reasoning block never closed: the judge's reply opens <{name}> and never closes it ({why})"


def _squeezed(text: str) -> str:
    """Text without whitespace or invisible characters: a copy stays a copy when the judge re-spaces it."""
    from .prompts import INVISIBLE  # jinja2's import is not every reader of verdicts' to pay

    return "".join(INVISIBLE.sub("", text).split())


def _objects(text: str) -> Iterator[Any]:
    """The JSON objects written in ``text`` (at most ``_MAX_OBJECTS`` places tried)."""
    decoder = json.JSONDecoder(strict=False)
    for tried, start in enumerate(m.start() for m in re.finditer(r'\{\s*"', text)):
        if tried >= _MAX_OBJECTS:
            return
        try:
            yield decoder.raw_decode(text, start)[0]
        except (ValueError, RecursionError):
            continue


def _may_hide(answer: str) -> bool:
    """Whether an answer holds characters that ``neutralize`` removes (a key could hide behind them)."""
    if answer.isascii():
        return False
    from .prompts import INVISIBLE

    return INVISIBLE.search(answer) is not None


_FIRST_KEY = re.compile(r'\s*\{\s*"([^"\\]*)"')


def copied(reply_text: str, verdict: Mapping[str, Any] | None, answers: Sequence[str]) -> bool:
    """Whether a JSON verdict is a copy of text from ``answers`` (the untrusted texts shown to the judge, as
    written and as the judge saw them): the reply, spaced any way and closed or not, is part of an answer, or its
    object equals an object written in an answer (its keys in another order, its strings escaped otherwise)."""
    first = _FIRST_KEY.match(reply_text)
    keys = [f'"{key}"' for key in {*(first.groups() if first else ()), *(verdict or ())}]
    reply = None
    for answer in answers:
        # A copy holds the verdict's keys: an answer without them (nor escapes or characters that could hide them)
        # is passed at once.
        if not any(key in answer for key in keys) and "\\" not in answer and not _may_hide(answer):
            continue
        from .prompts import neutralize

        reply = reply if reply is not None else _squeezed(reply_text).rstrip('"}].,')
        for shown in {answer, neutralize(answer)}:
            if reply and reply in _squeezed(shown):
                return True
            if verdict is not None and any(obj == verdict for obj in _objects(shown)):
                return True
    return False
