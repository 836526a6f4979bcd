"""WildBench's task files (Lin et al. 2024) as a checklist task's source: one JSON object a line,
``{"session_id", "conversation_input": [{role, content}, ...], "checklist": [question, ...], "primary_tag"}``.
Each line is an item (its id the session_id, its category the primary tag) whose criteria are its checklist
questions, one point each. Conversations with earlier turns: formats.conversations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError
from ..types import Criterion, Item
from .conversations import PRIOR_KEEP, conversation, criterion, field, records, text_field

WHAT = "a WildBench task"
DEFAULT_CATEGORY = "wildbench"


def items(path: Path, prior: str = PRIOR_KEEP) -> list[Item]:
    """Every task of a WildBench JSONL file as an item with its checklist (``prior``: formats.conversations)."""
    found = []
    for where, record in records(path, what=WHAT):
        asked = conversation(field(record, "conversation_input", where, WHAT), where, "conversation_input", prior)
        if asked is None:
            continue
        context, turns = asked
        found.append(Item(id=text_field(record, "session_id", where, WHAT), category=_category(record, where),
                          turns=turns, source=where, context=context, criteria=_checklist(record, where)))
    return found


def _category(record: dict[str, Any], where: str) -> str:
    tag = record.get("primary_tag")
    if tag is None:
        return DEFAULT_CATEGORY
    if not isinstance(tag, str) or not tag.strip():
        raise DataError(f"{where}: primary_tag must be a name, not {str(tag)[:80]!r}")
    return tag.strip()


def _checklist(record: dict[str, Any], where: str) -> tuple[Criterion, ...]:
    checklist = field(record, "checklist", where, WHAT)
    if not isinstance(checklist, list) or not checklist:
        raise DataError(f"{where}: 'checklist' must be a non-empty list of questions")
    return tuple(criterion(question, 1.0, [], where, f"checklist question {n}")
                 for n, question in enumerate(checklist, start=1))
