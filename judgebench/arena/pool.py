"""What the arena can show: a task's items and each model's answers to them, read once when the server starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigError, DataError
from ..formats import answered, read_answers
from ..formats.item_lists import listed_items
from ..judging.schedule import Pair, all_pairs
from ..types import Item, Task


@dataclass(frozen=True)
class Pool:
    """The task's items and ``answers[model][item_id]`` (all turns): the models' answers the arena can show."""

    benchmark: str
    task_name: str
    items: dict[str, Item]
    answers: dict[str, dict[str, tuple[str, ...]]]

    @property
    def models(self) -> list[str]:
        return sorted(self.answers)

    def shared_items(self, pair: Pair) -> list[str]:
        """The items both models of ``pair`` answered, in the task's order."""
        first, second = self.answers[pair[0]], self.answers[pair[1]]
        return [item_id for item_id in self.items if item_id in first and item_id in second]

    def pairs(self) -> list[Pair]:
        """The pairs of models with at least one item in common."""
        return [pair for pair in all_pairs(self.models) if self.shared_items(pair)]


def _answered(path: Path, items: Sequence[Item]) -> list[Item]:
    """The items ``path`` answers, every turn of them: the others are not shown for this model."""
    _, found = answered(path, items)
    return [item for item in items if len(found.get(item.id, ())) >= len(item.turns)]


def load_pool(task: Task, answer_files: Sequence[Path], item_ids: frozenset[str] | None = None) -> Pool:
    """Every model's answers to the task's items (an item a model did not answer is not used for that model);
    ``item_ids``: only those items (formats.item_lists: e.g. the items escalation sends to people)."""
    task = replace(task, items=tuple(listed_items(task, item_ids)))
    answers: dict[str, dict[str, tuple[str, ...]]] = {}
    sources: dict[str, Path] = {}
    for path in answer_files:
        answered = _answered(path, task.items)
        if not answered:
            raise DataError(f"{path}: answers none of task {task.name!r}'s items: is it the right task's answers?")
        candidates = read_answers(path, task, answered)
        model = candidates[0].model
        if model in answers:
            raise ConfigError(f"{path}: model {model!r} is already given by {sources[model]}: pass each model once")
        sources[model] = path
        answers[model] = {c.item_id: c.turns for c in candidates}
    pool = Pool(task.benchmark or task.name, task.name, {item.id: item for item in task.items}, answers)
    if len(answers) < 2:
        raise ConfigError("the arena needs the answers of at least two models: pass --answers twice or more")
    if not pool.pairs():
        raise DataError("no two models answered a common item: nothing to battle on")
    return pool
