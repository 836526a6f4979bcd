"""A rubric task's criteria (``kind: rubric``): the task's ``rubric:``, each item's own, and ``judge.mode`` /
``judge.style``, read into ``Criterion`` objects and checked, with file:line errors. ``lint`` finds what loads but
is most likely a mistake (``judgebench validate``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast, get_args

from ..errors import TaskError
from ..judging.rubric_styles import STYLES, PointsStyle
from ..types import TAG_SEPARATOR, Criterion, CriterionScope, Item, RubricMode, RubricSpec, RubricStyle
from .yamlsrc import SourcedDict, SourcedList

# The key of a task's and of an item's criteria in a task file.
RUBRIC = "rubric"

CRITERION_FIELDS = {"id", "text", "points", "tags", "levels"}
MODES: tuple[str, ...] = get_args(RubricMode)
assert set(get_args(RubricStyle)) == set(STYLES), "every style the types name has its class"
# A criterion's id names it in the judge's JSON reply and in results: a short slug.
CRITERION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A score rubric (Prometheus 2) describes 5 levels; fewer or more are allowed within these bounds.
MIN_LEVELS, MAX_LEVELS = 2, 10


def rubric_spec(data: SourcedDict, judge_raw: SourcedDict) -> RubricSpec:
    """``judge.mode``, ``judge.style`` and the task-level ``rubric:`` of a rubric task."""
    mode = judge_raw.get("mode", "all_at_once")
    if mode not in MODES:
        raise TaskError(f"{judge_raw.where('mode')}: judge.mode must be one of {', '.join(MODES)} (one request per "
                        f"criterion, or one reply with every criterion's verdict), not {mode!r}")
    style = judge_raw.get("style", PointsStyle.name)
    if style not in STYLES:
        raise TaskError(f"{judge_raw.where('style')}: judge.style must be one of {', '.join(STYLES)}, not {style!r}")
    criteria = read_criteria(data[RUBRIC], data.where(RUBRIC), STYLES[style], "task") if RUBRIC in data else ()
    return RubricSpec(mode=cast(RubricMode, mode), style=cast(RubricStyle, style), criteria=criteria)


def not_rubric(data: SourcedDict, judge_raw: SourcedDict, kind: str) -> None:
    """A task of another kind has no criteria nor rubric settings: a mistake, said at its line."""
    for section, key in ((data, RUBRIC), (judge_raw, "mode"), (judge_raw, "style")):
        if key in section:
            raise TaskError(f"{section.where(key)}: {key!r} belongs to a task of kind 'rubric', not {kind!r}")


def read_criteria(raw: Any, where: str, style: PointsStyle, scope: CriterionScope) -> tuple[Criterion, ...]:
    """A ``rubric:`` list -> its criteria, ids as given ("" where none is: ``item_criteria`` numbers them). A
    checklist's entries may be plain strings (a yes/no question worth one point)."""
    if not isinstance(raw, SourcedList):
        raise TaskError(f"{where}: rubric must be a list of criteria, e.g. - {{text: \"Cites a source\", points: 2}}")
    return tuple(_criterion(entry, origin, style, scope) for entry, origin in zip(raw, raw.item_origins, strict=True))


def _criterion(entry: Any, origin: str, style: PointsStyle, scope: CriterionScope) -> Criterion:
    if isinstance(entry, str) and style.plain_text:
        entry_map = SourcedDict(text=entry)
        entry_map.origin = origin
        entry = entry_map
    if not isinstance(entry, SourcedDict):
        raise TaskError(f"{origin}: a criterion must be a mapping with text and points, e.g. {{text: \"Cites a "
                        f"source\", points: 2}}" + (" (or, in a checklist, a question)" if style.plain_text else ""))
    for key in entry:
        if key not in CRITERION_FIELDS:
            raise TaskError(f"{entry.where(key)}: unknown field {key!r} in a criterion; known fields: "
                            f"{', '.join(sorted(CRITERION_FIELDS))}")
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        raise TaskError(f"{entry.where('text')}: a criterion needs its text (what the judge checks)")
    ident = entry.get("id", "")
    if ident != "" and (not isinstance(ident, str) or not CRITERION_ID.fullmatch(ident)):
        raise TaskError(f"{entry.where('id')}: a criterion's id must be letters, digits, '.', '_' and '-' (at most "
                        f"64), not {str(ident)[:80]!r}")
    return Criterion(id=ident, text=" ".join(text.split()), points=_points(entry, style),
                     tags=_tags(entry), source=origin, scope=scope, levels=_levels(entry, style))


def _points(entry: SourcedDict, style: PointsStyle) -> float:
    value = entry.get("points")
    if style.needs_points:
        if value is None:
            raise TaskError(f"{entry.origin}: the criterion has no points: give it points (negative for what an "
                            "answer must not do)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value == 0 or not math.isfinite(value):
            raise TaskError(f"{entry.where('points')}: points must be a finite nonzero number (negative for what an "
                            f"answer must not do), not {value!r}{_read_as_text(value)}")
        return float(value)
    if value is not None and (isinstance(value, bool) or value != 1):
        what = "a score rubric is scored by its level" if style.has_levels else \
            "a checklist's questions are worth 1 point each"
        raise TaskError(f"{entry.where('points')}: {what}; leave points out (or use judge.style: points)")
    return 1.0


def _read_as_text(value: Any) -> str:
    """Why a number came out as text: YAML reads 1e308 or 1.0e308 (an exponent without a dot or a sign) as a string."""
    if not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    return (" (YAML read it as text, not a number: write it with a dot and a signed exponent, e.g. 1.0e+308, or "
            "as a smaller number)")


def _tags(entry: SourcedDict) -> tuple[str, ...]:
    tags = entry.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise TaskError(f"{entry.where('tags')}: tags must be a list of names, e.g. [accuracy, safety]")
    if any(TAG_SEPARATOR in t for t in tags):
        raise TaskError(f"{entry.where('tags')}: a tag cannot hold a comma (it separates tags in the results' "
                        f"tables), not {next(t for t in tags if TAG_SEPARATOR in t)[:60]!r}: give two tags, or join "
                        "the words with '-'")
    return tuple(dict.fromkeys(t.strip() for t in tags))


def _levels(entry: SourcedDict, style: PointsStyle) -> tuple[str, ...]:
    levels = entry.get("levels")
    if not style.has_levels:
        if levels is not None:
            raise TaskError(f"{entry.where('levels')}: levels belong to a score rubric (judge.style: score)")
        return ()
    if not (isinstance(levels, list) and MIN_LEVELS <= len(levels) <= MAX_LEVELS
            and all(isinstance(x, str) and x.strip() for x in levels)):
        raise TaskError(f"{entry.where('levels')}: a score rubric's criterion needs levels: a description of each "
                        f"level, lowest first ({MIN_LEVELS} to {MAX_LEVELS}; Prometheus 2 uses 5)")
    return tuple(" ".join(x.split()) for x in levels)


def item_criteria(spec: RubricSpec, item: Item, own: Sequence[Criterion]) -> tuple[Criterion, ...]:
    """An item's criteria: the task's, then its own; a criterion without an id gets "c<position>" (a task-level
    one the same in every item). Refused: duplicate ids, no criteria, no positive points (the score's denominator),
    and, in a score rubric, anything but one criterion."""
    found: list[Criterion] = []
    seen: dict[str, str] = {}
    for n, criterion in enumerate((*spec.criteria, *own), start=1):
        ident = criterion.id or f"c{n}"
        if ident in seen:
            raise TaskError(f"{criterion.source}: criterion id {ident!r} of item {item.id!r} duplicates the one at "
                            f"{seen[ident]}; give each criterion its own id")
        seen[ident] = criterion.source
        found.append(Criterion(ident, criterion.text, criterion.points, criterion.tags, criterion.source,
                               criterion.scope, criterion.levels))
    if not found:
        raise TaskError(f"{item.source}: item {item.id!r} has no criteria: give it a rubric: list (or the task one "
                        "that applies to every item)")
    if STYLES[spec.style].has_levels and len(found) != 1:
        raise TaskError(f"{item.source}: a score rubric (judge.style: score) grades one criterion per item; item "
                        f"{item.id!r} has {len(found)}")
    if not any(c.points > 0 for c in found):
        raise TaskError(f"{item.source}: item {item.id!r} has no criterion with positive points: its score (points "
                        "met over the positive points available) would be undefined")
    for sign, total in (("positive", sum(c.points for c in found if c.points > 0)),
                        ("negative", sum(c.points for c in found if c.points < 0))):
        if not math.isfinite(total):
            raise TaskError(f"{item.source}: the {sign} points of item {item.id!r} (its criteria's) add up to more "
                            "than a number can hold: use smaller points (only their ratios matter)")
    return tuple(found)


def rubric_items(spec: RubricSpec, items: Sequence[Item], own: dict[str, tuple[Criterion, ...]]) -> list[Item]:
    """The items with their criteria (``own``: each item's own, by item id)."""
    return [replace(i, criteria=item_criteria(spec, i, own.get(i.id, ())))
            for i in items]
