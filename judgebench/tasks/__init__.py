"""Task files -> Task and Items: YAML with line numbers and ``include:``, built-in tasks, data fetched by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .builtin import task_names as builtin_task_names

if TYPE_CHECKING:
    from .loader import find_task, load_task

__all__ = ["builtin_task_names", "find_task", "load_task"]


def __getattr__(name: str) -> Any:
    # The loader (YAML, jinja2, the readers of other harnesses' files) is imported on first use, so listing the
    # built-in tasks (`judgebench tasks`) loads none of it.
    if name in ("find_task", "load_task"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
