"""A rubric judge's replies -> per-criterion verdicts, strictly (judging.rubric).

All at once: one JSON object with one boolean per criterion id, in the order asked (``criteria_schema``, which
llama.cpp and vLLM enforce); a free-text judge ends its reply with that object. One criterion per request: a JSON
object ``{"met": true, "explanation": "..."}`` or, in text, ``[[YES]]`` / ``[[NO]]`` alone at the end of the last
line. Nothing else sets a verdict: "criterion c3: met" written anywhere in a reply (or an answer the reply quotes)
is not read, and a JSON verdict copied from an answer is refused (judging.replies.copied). A missing, duplicated or
non-boolean verdict fails its criterion; a verdict for an id that was not asked fails the reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..types import Verdict
from .replies import COPIED, copied
from .verdicts import TRUNCATED, _last_line, _one_object

# How many '{' from the end a free-text reply is searched for its trailing object (bounds the work on a hostile
# reply full of braces).
_MAX_STARTS = 200
_PAIR = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*:\s*(true|false)\s*([,}])')
_LAST_MET = re.compile(r"\[\[(YES|NO)\]\][\s.]*$", re.IGNORECASE)


def criteria_schema(ids: Sequence[str]) -> dict[str, Any]:
    """JSON schema of an all-at-once reply: each criterion id a boolean (met), in the order asked, no other key."""
    return {"type": "object", "properties": {i: {"type": "boolean"} for i in ids}, "required": list(ids),
            "additionalProperties": False}


def met_schema() -> dict[str, Any]:
    """JSON schema of a one-criterion reply: the verdict first (a reply cut short still carries it)."""
    return {"type": "object", "properties": {"met": {"type": "boolean"}, "explanation": {"type": "string"}},
            "required": ["met", "explanation"]}


class _Pairs(dict[str, Any]):
    """A JSON object's keys and values, and the keys it gave more than once."""

    duplicates: set[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    found = _Pairs()
    found.duplicates = set()
    for key, value in pairs:
        if key in found:
            found.duplicates.add(key)
        found[key] = value
    return found


def _whole_object(text: str) -> _Pairs | None:
    try:
        value = json.loads(text, strict=False, object_pairs_hook=_pairs)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, _Pairs) else None


def _trailing_object(text: str) -> _Pairs | None:
    """The JSON object a free-text reply ends with (a closing code fence allowed after it), or None."""
    body = text.rstrip()
    if body.endswith("```"):
        body = body[:-3].rstrip()
    decoder = json.JSONDecoder(strict=False, object_pairs_hook=_pairs)
    end = len(body)
    for _ in range(_MAX_STARTS):
        start = body.rfind("{", 0, end)
        if start < 0:
            return None
        try:
            value, stop = decoder.raw_decode(body, start)
        except (json.JSONDecodeError, RecursionError):
            value, stop = None, -1
        if isinstance(value, _Pairs) and stop == len(body):
            return value
        end = start
    return None


def _prefix(text: str) -> dict[str, bool]:
    """The complete ``"id": true|false`` pairs at the start of an object cut off before it closed."""
    found: dict[str, bool] = {}
    opening = re.match(r"\s*\{", text)
    if opening is None:
        return found
    position = opening.end()
    while (pair := _PAIR.match(text, position)) is not None:
        found.setdefault(pair.group(1), pair.group(2) == "true")
        position = pair.end()
        if pair.group(3) == "}":
            break
    return found


def parse_criteria_json(text: str, ids: Sequence[str], *, whole: bool, truncated: bool = False,
                        answers: Sequence[str] = ()) -> Verdict:
    """An all-at-once reply: each asked id's verdict (None where missing, repeated or not a boolean). ``whole``: the
    reply was asked for through a schema, so it must be the object and nothing else; else it ends with it."""
    obj = _whole_object(text) if whole else (_whole_object(text) or _trailing_object(text))
    if obj is None:
        cut = truncated or _unclosed_object(text)
        found = _prefix(text) if whole and cut else {}
        if found and copied(text, None, answers):
            return _none(ids, COPIED)
        verdicts = tuple((i, found.get(i)) for i in ids)
        if cut and whole:
            return Verdict(error=TRUNCATED, truncated=True, criteria=verdicts)
        error = ("the judge's reply is not one JSON object of the criteria's verdicts" if whole
                 else "the judge's reply does not end with a JSON object of the criteria's verdicts")
        return Verdict(error=error, truncated=truncated, criteria=verdicts)
    if copied(text, dict(obj), answers):
        return _none(ids, COPIED)
    problems = []
    verdicts_list: list[tuple[str, bool | None]] = []
    for ident in ids:
        value = obj.get(ident)
        if ident in obj.duplicates:
            problems.append(f"{ident}: given more than once")
            value = None
        elif ident not in obj:
            problems.append(f"{ident}: missing")
        elif not isinstance(value, bool):
            problems.append(f"{ident}: {str(value)[:40]!r} is not true or false")
            value = None
        verdicts_list.append((ident, value))
    extra = [k for k in obj if k not in ids]
    if extra:
        problems.append(f"verdicts for criteria that were not asked: {', '.join(repr(k[:40]) for k in extra[:5])}")
    return Verdict(error="the judge's verdicts: " + "; ".join(problems) if problems else None,
                   criteria=tuple(verdicts_list))


def _none(ids: Sequence[str], error: str) -> Verdict:
    return Verdict(error=error, criteria=tuple((i, None) for i in ids))


def _unclosed_object(text: str) -> bool:
    from .verdicts import _unclosed

    return _unclosed(text)


def parse_met_json(text: str, ident: str, *, truncated: bool = False, answers: Sequence[str] = ()) -> Verdict:
    """A one-criterion JSON reply ``{"met": bool, "explanation": str}``; a reply cut off after its verdict counts."""
    obj, error = _one_object(text, ("met", "explanation"))
    if obj is None:
        prefix = re.match(r'\s*\{\s*"met"\s*:\s*(true|false)\s*,', text) if truncated or _unclosed_object(text) \
            else None
        if prefix is None:
            return Verdict(error=TRUNCATED if truncated else error, truncated=truncated, criteria=((ident, None),))
        if copied(text, None, answers):
            return _none((ident,), COPIED)
        return Verdict(criteria=((ident, prefix.group(1) == "true"),))
    if copied(text, obj, answers):
        return _none((ident,), COPIED)
    if not isinstance(obj["met"], bool):
        return Verdict(error=f"the judge's verdict {str(obj['met'])[:40]!r} is not true or false",
                       criteria=((ident, None),))
    return Verdict(criteria=((ident, obj["met"]),))


def parse_met_text(text: str, ident: str, *, truncated: bool = False) -> Verdict:
    """A one-criterion free-text reply: ``[[YES]]`` or ``[[NO]]`` alone at the end of its last line."""
    if truncated:
        return Verdict(error=TRUNCATED, truncated=True, criteria=((ident, None),))
    last = _last_line(text)
    found = _LAST_MET.search(last)
    if found is None or last.count("[[") != 1:
        return Verdict(error="no [[YES]] or [[NO]] alone at the end of the judge's last line",
                       criteria=((ident, None),))
    return Verdict(criteria=((ident, found.group(1).upper() == "YES"),))
