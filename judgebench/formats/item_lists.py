"""A list of items to run (`judgebench run --items FILE`) or to put before voters (`judgebench arena serve --items
FILE`): the JSONL that `judgebench escalate --write-items` writes
(one object per item, with ``item_id``), or a text file of item ids, one per line."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, DataError
from ..types import Item, Task
from .common import iter_jsonl, read_text


def read_item_ids(path: Path) -> frozenset[str]:
    """The item ids a file lists; an empty list, or a JSONL record without ``item_id``, is an error naming it."""
    if path.name.removesuffix(".gz").endswith(".jsonl"):
        ids = set()
        for lineno, record in iter_jsonl(path, what="an item list (objects with item_id)"):
            if not isinstance(record, dict) or not isinstance(record.get("item_id"), (str, int)):
                raise DataError(f"{path}:{lineno}: each line needs an item_id (as `judgebench escalate "
                                "--write-items` writes)")
            ids.add(str(record["item_id"]))
    else:
        ids = {line.strip() for line in read_text(path).splitlines() if line.strip()}
    if not ids:
        raise DataError(f"{path}: no item ids in the file")
    return frozenset(ids)


def listed_items(task: Task, ids: frozenset[str] | None) -> list[Item]:
    """The task's items with these ids, in the task's order (all when None). Ids of other tasks are ignored (one list
    may serve several tasks); a list naming none of this task's items is an error."""
    if ids is None:
        return list(task.items)
    items = [item for item in task.items if item.id in ids]
    if not items:
        raise ConfigError(f"none of the {len(ids)} listed item ids is an item of task {task.name!r}")
    return items
