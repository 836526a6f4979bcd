"""AlpacaEval 2.0's annotation files (``annotations.json[.gz]`` of ``weighted_alpaca_eval_gpt4_turbo``) as replay
recordings.

An annotation records the instruction, both outputs and the judge's first-token log-probabilities (or only the
preference), not the prompt: the prompt is rebuilt here from AlpacaEval's template (``ReaderOptions.template``)
as AlpacaEval builds it. This is written apart from the alpaca-eval task kind (judging.protocols.alpaca_eval) and
shares no code with it, so a replay checks the kind's prompts against a second reading of AlpacaEval's code.
"""

from __future__ import annotations

import ast
import json
import math
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..formats.common import content, read_bytes
from .table import Logprobs, ReaderOptions, Recording

ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
# What AlpacaEval's OpenAI decoder sends for this annotator (its configs.yaml, plus the decoder's top_p=1.0).
PARAMS: tuple[tuple[str, Any], ...] = (("max_tokens", 1), ("temperature", 1), ("top_p", 1.0), ("logprobs", True),
                                       ("top_logprobs", 5))
# A raw completion holds one token's top-5 log-probabilities: a few hundred bytes. Larger text is not one, and is
# not handed to the literal parser.
MAX_RAW_CHARS = 1 << 16
MAX_TEMPLATE_BYTES = 1 << 20
FIELDS = ("instruction", "output_1", "output_2")


def alpaca_eval_annotations(path: Path, options: ReaderOptions) -> Iterator[Recording]:
    """One recording per annotation AlpacaEval asked its judge for (identical outputs were never asked)."""
    if options.template is None:
        raise DataError(f"{path}: AlpacaEval's annotations do not record the prompt; give its template "
                        "(--template alpaca_eval_clf.txt)")
    template = _template(options.template)
    try:
        rows = json.loads(content(path, read_bytes(path)))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of AlpacaEval annotations")
    for index, row in enumerate(rows):
        where = f"{path}[{index}]"
        if not isinstance(row, dict) or not all(isinstance(row.get(f), str) for f in FIELDS):
            raise DataError(f"{where}: not an AlpacaEval annotation (instruction, output_1, output_2 as text)")
        if row.get("annotator", ANNOTATOR) != ANNOTATOR:
            raise DataError(f"{where}: annotator {row.get('annotator')!r}; the replay reads {ANNOTATOR} annotations")
        if row["output_1"] == row["output_2"]:
            continue
        switched = _switched(row["instruction"])
        shown = (row["output_2"], row["output_1"]) if switched else (row["output_1"], row["output_2"])
        top = _recorded_top(row.get("raw_completion"), where)
        if top is None:
            top = _from_preference(row.get("preference"), switched)
        if top is None:
            continue  # nothing recorded: AlpacaEval has no judgment for this instruction either
        messages = _chat(_filled(template, row["instruction"], *shown))
        user = next((text for role, text in reversed(messages) if role == "user"), None)
        system = next((text for role, text in reversed(messages) if role == "system"), None)
        if user is None:
            continue
        reply = max(top, key=lambda alternative: alternative[1])[0]
        logprobs: Logprobs = ((reply, top),)
        yield Recording(user=user, reply=reply, system=system, logprobs=logprobs, params=PARAMS, source=where,
                        finish_reason="length")


def _template(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > MAX_TEMPLATE_BYTES:
        raise DataError(f"{path}: larger than {MAX_TEMPLATE_BYTES >> 20} MB: not an AlpacaEval prompt template")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def _switched(instruction: str) -> bool:
    # RandomSwitchTwoColumnsProcessor: seeded on its column's name, the instruction and the pool's seed (0).
    return random.Random(f"is_switched_outputs{instruction}0").choices([False, True])[0]


def _filled(template: str, instruction: str, first: str, second: str) -> str:
    """utils.make_prompts with one example: each field replaces the first occurrence of its placeholder in the
    text built so far, fields taken in the order their placeholders first appear in the template."""
    values = {"instruction": instruction, "output_1": first, "output_2": second}
    order = sorted((template.find("{" + name + "}"), name) for name in values if "{" + name + "}" in template)
    text = template
    for _, name in order:
        text = text.replace("{" + name + "}", values[name], 1)
    return text


def _chat(prompt: str) -> list[tuple[str, str]]:
    """utils.prompt_to_chatml: stripped, cut at each start marker; the role is the first line, the content what
    follows up to the first end marker, both stripped."""
    found = []
    for block in prompt.strip().split("<|im_start|>")[1:]:
        lines = block.split("\n", 1)
        body = lines[1] if len(lines) > 1 else ""
        found.append((lines[0].strip(), body.split("<|im_end|>", 1)[0].strip()))
    return found


def _recorded_top(raw: Any, where: str) -> tuple[tuple[str, float], ...] | None:
    """The first token's top log-probabilities from a recorded raw completion: the OpenAI choice (a dict, or its
    JSON or Python-literal text), one logprobs entry, or the top_logprobs list itself."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = _literal(raw, where)
    if isinstance(raw, list) and raw and all(isinstance(a, Mapping) and "token" in a for a in raw):
        return _alternatives(raw, where)
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, Mapping) and isinstance(raw.get("logprobs"), Mapping):
        entries = raw["logprobs"].get("content")
        raw = entries[0] if isinstance(entries, list) and entries else None
    if isinstance(raw, Mapping) and isinstance(raw.get("top_logprobs"), list):
        return _alternatives(raw["top_logprobs"], where)
    raise DataError(f"{where}: raw_completion holds no top_logprobs (expected an OpenAI choice with logprobs)")


def _literal(text: str, where: str) -> Any:
    if len(text) > MAX_RAW_CHARS:
        raise DataError(f"{where}: raw_completion is {len(text)} characters; one token's log-probabilities take a "
                        f"few hundred (the limit is {MAX_RAW_CHARS})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or JSON nested or sized to break the parser
        pass
    try:
        return ast.literal_eval(text)  # literals only: nothing in the file is run
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise DataError(f"{where}: raw_completion is neither JSON nor a Python literal") from None


def _alternatives(entries: list[Any], where: str) -> tuple[tuple[str, float], ...]:
    try:
        found = tuple((str(a["token"]), float(a["logprob"])) for a in entries)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise DataError(f"{where}: a top_logprobs entry without token and logprob") from None
    if not all(math.isfinite(lp) for _, lp in found):
        raise DataError(f"{where}: a top_logprobs entry with a log-probability that is not a finite number")
    return found


def _from_preference(preference: Any, switched: bool) -> tuple[tuple[str, float], ...] | None:
    """Top log-probabilities that give back the recorded preference: p(m) = 2 - the preference for the second
    output shown. A token of probability 0 is left out (AlpacaEval reads an absent token as probability 0)."""
    if not isinstance(preference, (int, float)) or isinstance(preference, bool) or not 1 <= preference <= 2:
        return None
    shown = 3 - preference if switched else preference
    p_first = 2 - shown
    found = [(token, math.log(p)) for token, p in (("m", p_first), ("M", 1 - p_first)) if p > 0]
    return tuple(sorted(found, key=lambda alternative: -alternative[1]))
