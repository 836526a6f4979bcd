"""YAML that remembers where each value came from, so errors can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError, TaskError
from ..formats.common import decode


class SourcedDict(dict):
    """A mapping read from YAML; ``where(key)`` gives "file:line" of that key."""

    origin: str = ""
    key_origins: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_origins = {}

    def where(self, key: str | None = None) -> str:
        if key is not None and key in self.key_origins:
            return self.key_origins[key]
        return self.origin


class SourcedList(list):
    """A sequence read from YAML; ``item_origins[i]`` gives "file:line" of element i."""

    origin: str = ""
    item_origins: list[str]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_origins = []


def _make_loader(filename: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> SourcedDict:
        loader.flatten_mapping(node)
        result = SourcedDict()
        result.origin = f"{filename}:{node.start_mark.line + 1}"
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                raise TaskError(
                    f"{filename}:{key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping "
                    f"(first at {result.key_origins[key]})"
                )
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_origins[key] = f"{filename}:{key_node.start_mark.line + 1}"
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> SourcedList:
        result = SourcedList(loader.construct_object(child, deep=True) for child in node.value)
        result.origin = f"{filename}:{node.start_mark.line + 1}"
        result.item_origins = [f"{filename}:{child.start_mark.line + 1}" for child in node.value]
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def load_yaml(path: Path) -> SourcedDict:
    """Read a YAML mapping; a syntax error becomes a TaskError naming file:line."""
    filename = str(path)
    try:
        text = decode(path.read_bytes(), filename)
    except OSError as exc:
        raise TaskError(f"{filename}: cannot read task file: {exc.strerror}") from exc
    except DataError as exc:
        raise TaskError(str(exc)) from None
    try:
        data = yaml.load(text, Loader=_make_loader(filename))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise TaskError(f"{filename}{line}: YAML syntax error: {problem}") from exc
    if data is None:
        raise TaskError(f"{filename}:1: the task file is empty")
    if not isinstance(data, SourcedDict):
        raise TaskError(f"{filename}:1: a task file must be a mapping of fields, got {type(data).__name__}")
    return data


def merge(base: Any, override: Any) -> Any:
    """Deep-merge two YAML values: mappings merge key by key, anything else is replaced."""
    if isinstance(base, SourcedDict) and isinstance(override, SourcedDict):
        merged = SourcedDict(base)
        merged.origin = override.origin
        merged.key_origins = dict(base.key_origins)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
            merged.key_origins[key] = override.key_origins.get(key, override.origin)
        return merged
    return override
