"""HealthBench's example files (OpenAI simple-evals, Arora et al. 2025) as a rubric task's source: one JSON object a
line, ``{"prompt": [{role, content}, ...], "rubrics": [{"criterion", "points", "tags"}, ...], "prompt_id",
"example_tags"}``. Each line is an item (its id the prompt_id, its category the ``theme:`` example tag) with its
physician-written criteria, points as given (negative: what an answer must not do). Conversations with earlier
turns: formats.conversations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError
from ..types import Item
from .conversations import PRIOR_KEEP, conversation, criterion, field, number, records, text_field

WHAT = "a HealthBench example"
THEME = "theme:"
DEFAULT_CATEGORY = "healthbench"


def items(path: Path, prior: str = PRIOR_KEEP) -> list[Item]:
    """Every example of a HealthBench JSONL file as an item with its criteria (``prior``: formats.conversations)."""
    found = []
    for where, record in records(path, what=WHAT):
        asked = conversation(field(record, "prompt", where, WHAT), where, "prompt", prior)
        if asked is None:
            continue
        context, turns = asked
        found.append(Item(id=text_field(record, "prompt_id", where, WHAT), category=_category(record, where),
                          turns=turns, source=where, context=context, criteria=_criteria(record, where)))
    return found


def _category(record: dict[str, Any], where: str) -> str:
    tags = record.get("example_tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DataError(f"{where}: example_tags must be a list of strings, not {str(tags)[:80]!r}")
    return next((t[len(THEME):] for t in tags if t.startswith(THEME) and t[len(THEME):].strip()), DEFAULT_CATEGORY)


def _criteria(record: dict[str, Any], where: str) -> tuple[Any, ...]:
    rubrics = field(record, "rubrics", where, WHAT)
    if not isinstance(rubrics, list) or not rubrics:
        raise DataError(f"{where}: 'rubrics' must be a non-empty list of {{criterion, points, tags}}")
    found = []
    for n, entry in enumerate(rubrics, start=1):
        what = f"rubric {n}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: {what} must be an object {{criterion, points, tags}}, not {str(entry)[:80]!r}")
        points = number(field(entry, "points", where, what), where, what)
        found.append(criterion(field(entry, "criterion", where, what), points, entry.get("tags", []), where, what))
    return tuple(found)
