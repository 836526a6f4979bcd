"""Task files -> Task and Items: YAML with line numbers and ``include:``, built-in tasks, data fetched by URL."""

from __future__ import annotations

from .builtin import task_names as builtin_task_names
from .loader import find_task, load_task

__all__ = ["builtin_task_names", "find_task", "load_task"]
