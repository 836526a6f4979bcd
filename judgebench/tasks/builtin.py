"""The built-in tasks and prompts, shipped inside the package (the repository's tasks/ and prompts/ point here).

Found through importlib.resources, so an installed wheel finds them as a checkout does."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _directory(name: str) -> Path:
    # A package installed from a wheel or a checkout is a directory on disk; jinja2 and the YAML loader read
    # files by path, so a zipped install is not supported.
    return Path(str(files("judgebench") / "builtin" / name))


def tasks_dir() -> Path:
    return _directory("tasks")


def prompts_dir() -> Path:
    return _directory("prompts")


def task_names() -> list[str]:
    """Names of the built-in tasks (files starting with "_" are fragments meant for ``include:``)."""
    return sorted(p.stem for p in tasks_dir().glob("*.yaml") if not p.stem.startswith("_"))
