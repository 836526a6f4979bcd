"""A list of items to run (`judgebench run --items FILE`) or to put before voters (`judgebench arena serve --items
FILE`): the JSONL that `judgebench escalate --write-items` writes
(one object per item, with ``item_id`` and, as escalate writes it, the item's ``benchmark``), or a text file of item
ids, one per line. An id with a benchmark is an item of that benchmark only (ids of two benchmarks may coincide)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..types import Item, Task
from .common import iter_jsonl, read_text
from .identity import canonical_benchmark


@dataclass(frozen=True)
class ItemList:
    """The entries of an item list: (benchmark or None where the line names none, item id, line number)."""

    path: Path
    entries: tuple[tuple[str | None, str, int], ...]

    def ids_for(self, benchmark: str) -> frozenset[str]:
        """The ids of the items of ``benchmark``: those the list gives with it, or with no benchmark."""
        wanted = canonical_benchmark(benchmark)
        return frozenset(item for named, item, _ in self.entries if named is None or named == wanted)

    def check(self, benchmarks: Collection[str]) -> None:
        """A line naming a benchmark none of ``benchmarks`` (the run's tasks') is, is an error at its line: its id
        would otherwise be taken for another benchmark's item of the same id, or left out in silence."""
        known = {canonical_benchmark(b) for b in benchmarks}
        for named, item, line in self.entries:
            if named is not None and named not in known:
                raise DataError(f"{self.path}:{line}: item {item!r} is of benchmark {named!r}, and this run's "
                                f"task(s) are of {', '.join(sorted(known))}: give the list of these tasks' items "
                                "(or remove its benchmark field to take the id for every task)")


def read_item_list(path: Path) -> ItemList:
    """The items a file lists; an empty list, or a JSONL record without ``item_id`` (or with a ``benchmark`` that is
    not text), is an error naming its line."""
    entries: list[tuple[str | None, str, int]] = []
    if path.name.removesuffix(".gz").endswith(".jsonl"):
        for lineno, record in iter_jsonl(path, what="an item list (objects with item_id)"):
            if not isinstance(record, dict) or not isinstance(record.get("item_id"), (str, int)):
                raise DataError(f"{path}:{lineno}: each line needs an item_id (as `judgebench escalate "
                                "--write-items` writes)")
            benchmark = record.get("benchmark")
            if benchmark is not None and not (isinstance(benchmark, str) and benchmark.strip()):
                raise DataError(f"{path}:{lineno}: benchmark {str(benchmark)[:40]!r} is not a benchmark's name: "
                                "give the name as text, or leave the field out")
            entries.append((canonical_benchmark(benchmark) if benchmark is not None else None,
                            str(record["item_id"]), lineno))
    else:
        entries = [(None, line.strip(), n) for n, line in enumerate(read_text(path).splitlines(), 1) if line.strip()]
    if not entries:
        raise DataError(f"{path}: no item ids in the file")
    return ItemList(path, tuple(entries))


def read_item_ids(path: Path, benchmark: str | None = None) -> frozenset[str]:
    """The item ids a file lists (of ``benchmark`` only, when given: a line naming another is an error at its
    line); an empty list, or a JSONL record without ``item_id``, is an error naming it."""
    found = read_item_list(path)
    if benchmark is None:
        return frozenset(item for _, item, _ in found.entries)
    found.check([benchmark])
    return found.ids_for(benchmark)


def listed_items(task: Task, ids: frozenset[str] | None) -> list[Item]:
    """The task's items with these ids, in the task's order (all when None). Ids of other tasks are ignored (one list
    may serve several tasks); a list naming none of this task's items is an error."""
    if ids is None:
        return list(task.items)
    items = [item for item in task.items if item.id in ids]
    if not items:
        raise ConfigError(f"none of the {len(ids)} listed item ids is an item of task {task.name!r}")
    return items
