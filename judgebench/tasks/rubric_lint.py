"""``judgebench validate``'s lint of rubric task files: every problem of the file's criteria, each a one-line
"file:line: what; what to do" message (loading stops at the first error; the lint reports them all). A task whose
items come from a source file (HealthBench, WildBench: ``source:``) has its criteria linted too, once loaded
(``lint_source_criteria``: the file is read once, by the load; each message names the record's file:line or
file[row]); what the reader already refuses (no criteria, zero or missing points) is the load's error.

What it finds:
- an item without any criteria (neither its own nor the task's);
- a criterion without points, or with zero points (``judge.style: points``);
- duplicate criteria: two criteria of one item with the same text (letter case, spacing and a final full stop
  ignored);
- a criterion whose wording contradicts its sign, by a simple heuristic on the first words of its text (after a
  leading "Does the answer" / "Does it" of a question):
  * negative points on a requirement worded as a negation or an avoidance ("Does not ...", "Avoids ...",
    "Never ...", "No ...", "Refrains from ...", "Must not ..."): met, it would penalize the answer for behaving
    well. State the bad behaviour itself ("Recommends a drug dose", points: -4), or make the points positive.
  * positive points on a statement of a fault ("Fails to ...", "Omits ...", "Ignores ...", "Incorrectly ...",
    "Falsely ...", "Fabricates ...", "Invents ...", "Makes up ...", "Contains errors ..."): met, it would reward
    the fault. Make the points negative, or state what the answer should do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TaskError
from ..judging.kinds import KINDS, kind_of
from ..judging.rubric_styles import STYLES, PointsStyle
from .rubric import RUBRIC
from .yamlsrc import SourcedDict, SourcedList

if TYPE_CHECKING:
    from ..types import Task

_QUESTION = re.compile(r"^(does|is|did|do)\s+(the\s+(answer|response|assistant)|it)\s+", re.IGNORECASE)
_NEGATED = re.compile(r"^(does\s+not|doesn't|do\s+not|don't|did\s+not|never|avoids?|refrains?|no|not|must\s+not|"
                      r"should\s+not|shouldn't|without)\b", re.IGNORECASE)
_FAULT = re.compile(r"^(fails?|omits?|ignores?|incorrectly|falsely|wrongly|fabricates?|invents?|hallucinates?|"
                    r"makes\s+up|contains?\s+(an?\s+)?(errors?|mistakes?|inaccurac)|misstates?|misrepresents?)\b",
                    re.IGNORECASE)


def wording_problem(text: str, points: float) -> str | None:
    """What is wrong with a criterion's wording for its sign (the heuristic of the module doc), or None."""
    words = _QUESTION.sub("", text.strip())
    if points < 0 and _NEGATED.match(words):
        return ("negative points on a requirement worded as a negation: met, it penalizes the answer for behaving "
                "well; state the bad behaviour itself (e.g. 'Recommends a drug dose') or make the points positive")
    if points > 0 and _FAULT.match(words):
        return ("positive points on a statement of a fault: met, it rewards the fault; make the points negative or "
                "state what the answer should do")
    return None


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".")


def _entries(raw: Any) -> list[tuple[Any, str]]:
    if not isinstance(raw, SourcedList):
        return []
    return list(zip(raw, raw.item_origins, strict=True))


def _check_entry(entry: Any, origin: str, style: PointsStyle) -> tuple[str | None, list[str]]:
    """A criterion's normalized text (None where it has none) and its problems."""
    if isinstance(entry, str):
        entry = {"text": entry}
    if not isinstance(entry, dict):
        return None, [f"{origin}: a criterion must be a mapping with text and points"]
    where = entry.where("points") if isinstance(entry, SourcedDict) else origin
    text = entry.get("text")
    problems = []
    points = entry.get("points", None if style.needs_points else 1)
    if style.needs_points and points is None:
        problems.append(f"{origin}: the criterion has no points; give it points (negative for what an answer must "
                        "not do)")
    elif isinstance(points, (int, float)) and not isinstance(points, bool) and points == 0:
        problems.append(f"{where}: the criterion's points are zero; give it nonzero points or remove it")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{origin}: the criterion has no text")
        return None, problems
    if isinstance(points, (int, float)) and not isinstance(points, bool) and points:
        wording = wording_problem(text, float(points))
        if wording:
            problems.append(f"{origin}: {wording}")
    return _normal(text), problems


def _duplicate(text: str | None, origin: str, seen: dict[str, str]) -> list[str]:
    """A duplicate criterion's problem (and the criterion's text noted as seen otherwise)."""
    if text is None:
        return []
    if text in seen:
        return [f"{origin}: duplicate criterion: the same text as the one at {seen[text]}; remove one"]
    seen[text] = origin
    return []


def lint_rubric(data: SourcedDict) -> list[str]:
    """Every problem of a rubric task's criteria (``data``: the task file as read, includes merged)."""
    judge = data.get("judge")
    name = judge.get("style", PointsStyle.name) if isinstance(judge, SourcedDict) else PointsStyle.name
    style = STYLES.get(str(name), STYLES[PointsStyle.name])  # an unknown style: the load says so
    problems: list[str] = []
    shared: dict[str, str] = {}  # the task's criteria: normalized text -> where
    for entry, origin in _entries(data.get(RUBRIC)):
        text, found = _check_entry(entry, origin, style)
        problems += found + _duplicate(text, origin, shared)
    for item, item_origin in _entries(data.get("items")):
        if not isinstance(item, SourcedDict):
            continue
        own = _entries(item.get(RUBRIC))
        if not own and not shared:
            problems.append(f"{item_origin}: item {item.get('id')!r} has no criteria; give it a rubric: list (or the "
                            "task one that applies to every item)")
        seen = dict(shared)
        for entry, origin in own:
            text, found = _check_entry(entry, origin, style)
            problems += found + _duplicate(text, origin, seen)
    return problems


def lint_task_file(path: Path) -> list[str]:
    """The lint of a task file: its rubric problems (none for a task of another kind, nor for a file that cannot be
    read as a task: loading it says what is wrong)."""
    from .loader import _load_with_includes

    try:
        data = _load_with_includes(path)
    except TaskError:
        return []
    kind = KINDS.get(str(data.get("kind")))
    return lint_rubric(data) if kind is not None and kind.has_criteria else []


def lint_source_criteria(path: Path, task: Task) -> list[str]:
    """The lint of the criteria a loaded rubric task read from its ``source:`` file (none for a task with
    ``items:`` or of another kind: ``lint_task_file`` lints what the YAML writes): a criterion whose wording
    contradicts its sign, and two criteria of one item with the same text (an item's own against each other and
    against the task's; the task's among themselves are the YAML's lint)."""
    from .loader import _load_with_includes

    if not kind_of(task.kind).has_criteria:
        return []
    try:
        data = _load_with_includes(path)
    except TaskError:
        return []
    if "source" not in data or "items" in data:
        return []
    problems: list[str] = []
    for item in task.items:
        seen: dict[str, str] = {}
        for criterion in item.criteria:
            text = _normal(criterion.text)
            if criterion.scope == "task":
                seen.setdefault(text, criterion.id)
                continue
            where = f"{criterion.source}: item {item.id!r}, criterion {criterion.id}"
            wording = wording_problem(criterion.text, criterion.points)
            if wording:
                problems.append(f"{where}: {wording}")
            if text in seen:
                problems.append(f"{where}: duplicate criterion: the same text as criterion {seen[text]}; remove one")
            else:
                seen[text] = criterion.id
    return problems
