"""A person's preference profile (`judgebench run --profile me.yaml`): what they value and what they dislike, a line
each, optionally weighted, turned into a rubric (values: positive criteria, dislikes: negative ones) and applied to
any task: the task's items are judged as a rubric task (``kind: rubric``, all criteria in one reply) whatever its
own kind was, each answer on its own.

```yaml
name: ana                     # optional (default: the file's name); names the protocol "profile-ana"
values:
  - Gets to the point in the first sentence
  - {text: Gives a concrete, worked example, weight: 2}
dislikes:
  - Uses bullet lists for a simple answer
  - {text: Adds warnings or disclaimers nobody asked for, weight: 3}
```
A value met earns its weight; a dislike met costs its weight; the item's score is HealthBench's rule (stats.rubric)
over the values' weights. The judgments' protocol is ``profile-<name>``, so they never supersede the task's own
judgments of the same answers and `judgebench personal` tells them apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import TaskError
from ..types import Criterion, JudgeSpec, RubricSpec, Task
from .rubric import item_criteria
from .yamlsrc import SourcedDict, SourcedList, load_yaml

FIELDS = {"name", "values", "dislikes"}
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_WEIGHT = 100.0
PROMPT = "rubric.jinja"


@dataclass(frozen=True)
class Preference:
    """One line of a profile: what the person values (or dislikes), its weight (> 0) and its file:line."""

    text: str
    weight: float = 1.0
    source: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    values: tuple[Preference, ...]
    dislikes: tuple[Preference, ...] = ()
    path: str = ""

    @property
    def protocol(self) -> str:
        """The protocol of the judgments made with this profile (part of their identity)."""
        return profile_protocol(self.name)


def profile_protocol(name: str) -> str:
    return f"profile-{name}"


def _preferences(data: SourcedDict, key: str) -> tuple[Preference, ...]:
    raw = data.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, SourcedList):
        raise TaskError(f"{data.where(key)}: {key} must be a list, one line each (e.g. - Gets to the point)")
    found = []
    for entry, origin in zip(raw, raw.item_origins, strict=True):
        weight: Any = 1.0
        if isinstance(entry, SourcedDict):
            unknown = set(entry) - {"text", "weight"}
            if unknown:
                raise TaskError(f"{entry.where(sorted(unknown)[0])}: unknown field {sorted(unknown)[0]!r}; a "
                                "preference has text and, optionally, weight")
            weight, entry = entry.get("weight", 1.0), entry.get("text")
        if not isinstance(entry, str) or not entry.strip():
            raise TaskError(f"{origin}: each of {key} is a line of text, or {{text: ..., weight: 2}}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT:
            raise TaskError(f"{origin}: weight must be a number above 0 and at most {MAX_WEIGHT:g}, not {weight!r}")
        found.append(Preference(" ".join(entry.split()), float(weight), origin))
    return tuple(found)


def load_profile(path: Path | str) -> Profile:
    """A profile YAML file, checked with file:line errors: at least one value (the score's denominator), known
    fields only, weights above 0, no line twice."""
    path = Path(path)
    data = load_yaml(path, "profile")
    for key in data:
        if key not in FIELDS:
            raise TaskError(f"{data.where(key)}: unknown field {key!r} in a profile; known: "
                            f"{', '.join(sorted(FIELDS))}")
    name = data.get("name", path.stem.removesuffix(".profile"))
    if not isinstance(name, str) or not PROFILE_NAME.fullmatch(name):
        raise TaskError(f"{data.where('name')}: a profile's name is letters, digits, '.', '_' and '-' (it names the "
                        f"judgments' protocol), not {str(name)[:80]!r}")
    values, dislikes = _preferences(data, "values"), _preferences(data, "dislikes")
    if not values:
        raise TaskError(f"{data.where('values')}: a profile needs at least one line under values: (what you want in "
                        "an answer); the score is the values met over all of them")
    seen: dict[str, str] = {}
    for p in (*values, *dislikes):
        if p.text.lower() in seen:
            raise TaskError(f"{p.source}: {p.text[:60]!r} is already at {seen[p.text.lower()]}: write each once")
        seen[p.text.lower()] = p.source
    return Profile(name, values, dislikes, str(path))


def profile_criteria(profile: Profile) -> tuple[Criterion, ...]:
    """The profile as task-level criteria: value-1, value-2, ... (points: the weight) then dislike-1, ... (points:
    minus the weight), tagged value / dislike."""
    return (*(Criterion(f"value-{n}", p.text, p.weight, ("value",), p.source, "task")
              for n, p in enumerate(profile.values, start=1)),
            *(Criterion(f"dislike-{n}", p.text, -p.weight, ("dislike",), p.source, "task")
              for n, p in enumerate(profile.dislikes, start=1)))


def apply_profile(task: Task, profile: Profile) -> Task:
    """The task's items judged against the profile: a rubric task (all criteria in one reply, the built-in rubric
    prompt) of the same benchmark, with the profile's protocol; the task's judge settings (max_tokens, temperature,
    what an empty answer gets) and generation are kept, its own verdict format and reference answers are not used."""
    spec = RubricSpec(mode="all_at_once", style="points", criteria=profile_criteria(profile))
    items = tuple(replace(item, criteria=item_criteria(spec, item, ())) for item in task.items)
    judge = JudgeSpec(prompt=PROMPT, max_tokens=task.judge.max_tokens, temperature=task.judge.temperature,
                      on_empty=task.judge.on_empty)
    return replace(task, name=f"{task.name}.{profile.protocol}", kind="rubric", items=items, judge=judge,
                   reference_model=None, reference_answers=(), battles=None, rubric=spec, protocol=profile.protocol)
