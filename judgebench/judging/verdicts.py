"""Judge text or JSON -> a Verdict (a score, a pairwise winner, or an explicit parse error). Pure.

Two families:
- our runs (``parse_*_json``, ``parse_*_text``): strict. One JSON object matching the schema, or the verdict
  alone at the end of the last line; integers on the task's scale in ASCII digits; a reply cut off by max_tokens
  is a failure ("truncated") unless its verdict-first JSON prefix is complete.
- FastChat's files (``parse_score``, ``parse_pair``): FastChat's own rules ("[[8]]", then "[8]", decimals), so
  that its recorded judgments read back as FastChat read them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ..types import Verdict, Winner
from .replies import COPIED, copied

# FastChat's patterns, for FastChat's files: "[[8]]" first, then "[8]" as a fallback, decimals allowed.
_SCORE_STRICT = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
# The fallback skips "[ [8] ]": that is how prompts.neutralize defuses a verdict planted in an answer.
_SCORE_LOOSE = re.compile(r"(?<!\[ )\[\s*(\d+(?:\.\d+)?)\s*\](?! \])")


def score_schema(low: int, high: int) -> dict[str, Any]:
    """JSON schema for a constrained single grade: the score first (a tiny judge may stop early)."""
    return {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "enum": list(range(low, high + 1))},
            "explanation": {"type": "string"},
        },
        "required": ["score", "explanation"],
    }


@lru_cache(maxsize=64, typed=True)
def score_schema_text(low: int, high: int) -> str:
    """``score_schema`` as the JSON text a request carries (the same text for every request of a scale)."""
    return json.dumps(score_schema(low, high))


@lru_cache(maxsize=64, typed=True)
def pair_schema_text(labels: tuple[str, ...]) -> str:
    """``pair_schema`` as the JSON text a request carries."""
    return json.dumps(pair_schema(labels))


def pair_schema(labels: tuple[str, ...]) -> dict[str, Any]:
    """JSON schema for a constrained pairwise verdict (three or five labels)."""
    return {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": list(labels)},
            "explanation": {"type": "string"},
        },
        "required": ["verdict", "explanation"],
    }


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def label_meanings(labels: tuple[str, ...]) -> dict[str, tuple[Winner, int | None]]:
    """What each of a task's verdict labels says: (winner, margin). Three labels are (first better, second
    better, tie), margin None; five are Arena-Hard's order (A>>B, A>B, A=B, B>A, B>>A), margin 2 for "much
    better", 1 for "better", None for the tie."""
    if len(labels) == 3:
        return {labels[0]: ("A", None), labels[1]: ("B", None), labels[2]: ("tie", None)}
    if len(labels) == 5:
        return {labels[0]: ("A", 2), labels[1]: ("A", 1), labels[2]: ("tie", None), labels[3]: ("B", 1),
                labels[4]: ("B", 2)}
    raise ValueError(f"a pairwise verdict has three or five labels, not {len(labels)}")


def _pair_verdict(label: str, labels: tuple[str, ...]) -> Verdict:
    winner, margin = label_meanings(labels)[label]
    return Verdict(winner=winner, margin=margin)


def _labels_text(labels: tuple[str, ...]) -> str:
    return "/".join(f"[[{label}]]" for label in labels)


def parse_score(text: str, low: int, high: int, loose: bool = True) -> Verdict:
    """A free-text grade: "[[8]]" (or "[8]", unless ``loose`` is False). Several *different* grades are an error,
    not a guess."""
    for pattern in (_SCORE_STRICT, _SCORE_LOOSE) if loose else (_SCORE_STRICT,):
        found = _distinct(pattern.findall(text))
        if len(found) == 1:
            value = float(found[0])
            if low <= value <= high:
                return Verdict(score=value)
            return Verdict(error=f"score {found[0]} outside the scale {low}-{high}")
        if len(found) > 1:
            return Verdict(error=f"conflicting scores {', '.join(found)} in the judge's reply")
    return Verdict(error="no [[score]] in the judge's reply")


def _alternation(labels: tuple[str, ...]) -> str:
    # Longest first, so that "A>>B" is not read as "A>" followed by text.
    return "|".join(re.escape(lbl) for lbl in sorted(labels, key=len, reverse=True))


def parse_pair(text: str, labels: tuple[str, ...]) -> Verdict:
    """A free-text pairwise verdict: "[[A]]", "[[B]]" or "[[C]]" (the task's labels; five-level ones too)."""
    found = _distinct(re.findall(r"\[\[\s*(" + _alternation(labels) + r")\s*\]\]", text))
    if len(found) == 1:
        return _pair_verdict(found[0], labels)
    if len(found) > 1:
        return Verdict(error=f"conflicting verdicts {', '.join(found)} in the judge's reply")
    return Verdict(error=f"no {_labels_text(labels)} verdict in the judge's reply")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [k for k, _ in pairs]
        raise _DuplicateKey(", ".join(sorted({k for k in keys if keys.count(k) > 1})))
    return value


# One decoder for every reply (json.loads with options builds a new one each call, a third of a reply's reading).
# strict=False: llama.cpp's JSON grammar lets raw newlines into strings, which change no verdict.
_DECODER = json.JSONDecoder(strict=False, object_pairs_hook=_unique_keys)


def _one_object(text: str, keys: tuple[str, ...]) -> tuple[dict[str, Any] | None, str | None]:
    """The reply as exactly one JSON object with the schema's keys (and no other, none twice), or an error.
    Nothing is fished out of surrounding text: an object planted in a quoted answer is not the verdict."""
    try:
        value = _DECODER.decode(text)
    except _DuplicateKey as exc:
        return None, f"the judge's JSON repeats the key(s) {exc}"
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deeply for the parser
        return None, "the judge's reply is not one JSON object"
    if not isinstance(value, dict):
        return None, "the judge's reply is not one JSON object"
    unknown = sorted(set(value) - set(keys))
    if unknown or keys[0] not in value:
        has = ", ".join(sorted(value)) or "none"
        return None, f"the judge's JSON must have the keys {', '.join(keys)} (it has {has})"
    return value, None


def _unclosed(text: str) -> bool:
    """Whether a JSON text stops inside a string or an object: cut off, rather than complete but wrong."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return in_string or depth > 0


# The schema puts the verdict first, so a reply cut off during its explanation (by max_tokens, or by a small
# model that stops early) still begins with a complete verdict: '{"score": 7, "explanation": "...'. That prefix
# is all the schema guarantees, and it counts only for a reply that stops before its object is closed: a complete
# object that breaks the schema (a repeated key, a second object, a key too many) is an error.
_SCORE_PREFIX = re.compile(r'\s*\{\s*"score"\s*:\s*([0-9]+)\s*,')
_VERDICT_PREFIX = re.compile(r'\s*\{\s*"verdict"\s*:\s*"([^"\\]*)"\s*,')
TRUNCATED = "truncated: the reply was cut off by max_tokens before its verdict was complete"


def _integer_on_scale(value: Any, low: int, high: int) -> Verdict:
    # An integral float (2.0: some servers and schema-following models write integers so) is that integer.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return Verdict(error=f"the judge's score {value!r} is not an integer")
    if not low <= value <= high:
        return Verdict(error=f"score {value} outside the scale {low}-{high}")
    return Verdict(score=float(value))


def parse_score_json(text: str, low: int, high: int, truncated: bool = False,
                     answers: Sequence[str] = ()) -> Verdict:
    """A constrained grade: the reply is one object {"score": int, "explanation": str}, the score an integer on
    the scale. A reply cut off before its object closes counts when its verdict-first prefix is complete. A reply
    that copies a verdict from ``answers`` (the answers the judge was shown) is refused (judging.replies)."""
    obj, error = _one_object(text, ("score", "explanation"))
    if obj is not None:
        return Verdict(error=COPIED) if copied(text, obj, answers) else _integer_on_scale(obj["score"], low, high)
    if truncated or _unclosed(text):
        prefix = _SCORE_PREFIX.match(text)
        if prefix is not None:
            if copied(text, None, answers):
                return Verdict(error=COPIED)
            return _integer_on_scale(int(prefix.group(1)), low, high)
        if truncated:
            return Verdict(error=TRUNCATED, truncated=True)
    return Verdict(error=error)


def parse_pair_json(text: str, labels: tuple[str, ...], truncated: bool = False,
                    answers: Sequence[str] = ()) -> Verdict:
    """A constrained pairwise verdict: one object {"verdict": label, "explanation": str} (three or five labels),
    not one copied from ``answers``."""
    obj, error = _one_object(text, ("verdict", "explanation"))
    if obj is None:
        prefix = _VERDICT_PREFIX.match(text) if truncated or _unclosed(text) else None
        if prefix is None:
            return Verdict(error=TRUNCATED, truncated=True) if truncated else Verdict(error=error)
        if copied(text, None, answers):
            return Verdict(error=COPIED)
        obj = {"verdict": prefix.group(1)}
    elif copied(text, obj, answers):
        return Verdict(error=COPIED)
    value = obj["verdict"]
    if not isinstance(value, str) or value not in labels:
        return Verdict(error=f"the judge's JSON verdict {value!r} is not one of {', '.join(labels)}")
    return _pair_verdict(value, labels)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# Our text prompts ask for the verdict alone at the end of the last line: only there is it read, in ASCII.
_LAST_SCORE = re.compile(r"\[\[([0-9]+)\]\][\s.]*$")


def parse_score_text(text: str, low: int, high: int, truncated: bool = False) -> Verdict:
    """A free-text grade where our prompt puts it: "[[N]]" at the end of the reply's last line, N an integer in
    ASCII digits. A grade anywhere else (an interim one, or one quoted from the answer) is not read."""
    if truncated:
        return Verdict(error=TRUNCATED, truncated=True)
    last = _last_line(text)
    found = _LAST_SCORE.search(last)
    if found is None or last.count("[[") != 1:
        return Verdict(error="no [[score]] alone at the end of the judge's last line")
    return _integer_on_scale(int(found.group(1)), low, high)


def parse_pair_text(text: str, labels: tuple[str, ...], truncated: bool = False) -> Verdict:
    """A free-text pairwise verdict where our prompt puts it: "[[A]]" or "[[A>>B]]" (a task label) ending the last
    line."""
    if truncated:
        return Verdict(error=TRUNCATED, truncated=True)
    last = _last_line(text)
    pattern = r"\[\[(" + _alternation(labels) + r")\]\][\s.]*$"
    found = re.search(pattern, last)
    if found is None or last.count("[[") != 1:
        return Verdict(error=f"no {_labels_text(labels)} alone at the end of the judge's last line")
    return _pair_verdict(found.group(1), labels)


def candidate_outcome(winner: Winner, candidate_first: bool) -> str:
    """A positional verdict seen from the candidate: "win", "loss" or "tie"."""
    if winner == "tie":
        return "tie"
    candidate_won = (winner == "A") == candidate_first
    return "win" if candidate_won else "loss"


# An outcome ("win", "loss", "tie") as the other side of the same comparison sees it.
OPPONENT_OUTCOME = {"win": "loss", "loss": "win", "tie": "tie"}


def combine_orders(outcome_ab: str, outcome_ba: str) -> float:
    """AlpacaEval-style preference in [1, 2] from both orders: 2 = candidate better, 1.5 = tie.

    Orders that disagree count as a tie, as FastChat's MT-Bench pairwise scoring does ("inconsistent").
    """
    if outcome_ab != outcome_ba:
        return 1.5
    return {"win": 2.0, "tie": 1.5, "loss": 1.0}[outcome_ab]


TokenLogprobs = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def _token_at(logprobs: TokenLogprobs, offset: int) -> int | None:
    """Index of the token that starts the text at ``offset`` (leading whitespace allowed), else None."""
    text = "".join(token for token, _ in logprobs)
    position = 0
    for index, (token, _) in enumerate(logprobs):
        if position + len(token) > offset:
            if text[position:offset].strip() or not token.strip():
                return None  # the grade shares a token with the key
            return index
        position += len(token)
    return None
_VERDICT_AT = (re.compile(r'"verdict"\s*:\s*"'), re.compile(r"\[\["))


def verdict_distribution(logprobs: TokenLogprobs, labels: tuple[str, ...]) -> dict[Winner, float] | None:
    """The judge's probabilities of the three pairwise outcomes ("A", "B", "tie") from the log-probabilities of the
    alternatives at its verdict's token (the label after '"verdict": "' in a constrained reply, else after the last
    '[['), renormalized over the task's three labels; None for five-level labels or where the tokens do not show
    the verdict (another tokenizer, a label that shares its token with more than its frame)."""
    if len(labels) != 3:
        return None
    text = "".join(token for token, _ in logprobs)
    starts = [m.end() for pattern in _VERDICT_AT for m in pattern.finditer(text)]
    if not starts:
        return None
    offset, position = max(starts), 0
    for token, alternatives in logprobs:
        if position + len(token) > offset:
            prefix = text[position:offset]  # the frame's part of the token ('[[' or '"'), if it shares one
            mass: dict[Winner, float] = {}
            for alternative, logprob in alternatives:
                if not alternative.startswith(prefix):
                    continue
                rest = alternative[len(prefix):].strip()
                label = next((lb for lb in labels if rest == lb or (rest.startswith(lb) and rest[len(lb):] in
                              ("]", "]]", '"', '",'))), None)
                if label is not None:
                    winner = label_meanings(labels)[label][0]
                    mass[winner] = mass.get(winner, 0.0) + math.exp(logprob)
            total = sum(mass.values())
            return {w: mass.get(w, 0.0) / total for w in ("A", "B", "tie")} if total > 0 else None
        position += len(token)
    return None


def candidate_probability(distribution: dict[Winner, float], candidate_first: bool) -> tuple[float, float]:
    """(the probability that the candidate is the better, a tie counting half; the top outcome's probability minus
    the next one's) from one order's ``verdict_distribution``."""
    mine = distribution["A"] if candidate_first else distribution["B"]
    ranked = sorted(distribution.values(), reverse=True)
    return mine + distribution["tie"] / 2, ranked[0] - ranked[1]


_SCORE_KEY = re.compile(r'^\s*\{\s*"score"\s*:\s*')


def expected_score(logprobs: TokenLogprobs, low: int, high: int) -> float | None:
    """The probability-weighted grade of a constrained reply ('{"score": 7, ...'), from the log-probabilities of
    the alternatives at the grade's first token, renormalized over the valid grades (as G-Eval does).

    A grade of 10 is two tokens, "1" then "0": when the judge chose "1", the next token's alternatives split
    the "1" mass between 1 and 10; otherwise that branch is unseen and its mass counts as 1. None when the
    tokens do not line up with the reply (another tokenizer, no log-probabilities)."""
    text = "".join(token for token, _ in logprobs)
    key = _SCORE_KEY.match(text)
    if key is None or key.end() >= len(text) or not text[key.end()].isdigit():
        return None
    index = _token_at(logprobs, key.end())
    if index is None:
        return None
    mass: dict[int, float] = {}
    for alternative, logprob in logprobs[index][1]:
        stripped = alternative.strip()
        if stripped.isdigit() and low <= int(stripped) <= high:
            mass[int(stripped)] = mass.get(int(stripped), 0.0) + math.exp(logprob)
    if not mass:
        return None
    chosen = logprobs[index][0].strip()
    if high >= 10 > low and chosen == "1" and 1 in mass and 10 not in mass and index + 1 < len(logprobs):
        following = logprobs[index + 1][1]
        zero = sum(math.exp(lp) for alt, lp in following if alt.strip().startswith("0"))
        end = sum(math.exp(lp) for alt, lp in following if alt.strip()[:1] in (",", "}") or alt.strip() == "")
        if zero + end > 0:
            mass[10] = mass[1] * zero / (zero + end)
            mass[1] -= mass[10]
    total = sum(mass.values())
    return sum(score * p for score, p in mass.items()) / total
