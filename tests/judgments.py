"""Judgments in the tests' shorthand: the flat fields of their JSONL record (formats.table.flat_judgment)."""

from __future__ import annotations

from typing import Any

from judgebench.formats.table import flat_judgment
from judgebench.types import Judgment

# The positional order of the flat shorthand: the identity's parts and the kind, as records list them.
POSITIONAL = ("benchmark", "item_id", "category", "model", "judge", "turn", "kind")


def flat(*args: Any, **fields: Any) -> Judgment:
    """A judgment from flat fields (``score=``, ``verdict_ab=``, ``error=``/``failure=``, ``length=``, ...)."""
    return flat_judgment({**dict(zip(POSITIONAL, args, strict=False)), **fields})
