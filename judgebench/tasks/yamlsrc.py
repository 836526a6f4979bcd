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


# libyaml's parser (PyYAML's C extension) where PyYAML was built with it: the same nodes, marks and values, about
# ten times faster than the pure-Python one (a task of 8,000 inline items: seconds before the first request).
_FAST_BASE: type | None = getattr(yaml, "CSafeLoader", None)


_STR_TAG = "tag:yaml.org,2002:str"


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """``loader.construct_object(node, deep=True)``, with the most common node, a plain string, read directly: its
    value is the node's text (what SafeConstructor.construct_yaml_str returns), without PyYAML's bookkeeping of the
    objects it built (a string needs none). An 8,000-item task holds ~50,000 of them."""
    if node.tag == _STR_TAG and type(node) is yaml.ScalarNode:
        return node.value
    return loader.construct_object(node, deep=True)


def _no_path(self: Any, *args: Any) -> None:
    return None


def _resolve(self: Any, kind: type, value: Any, implicit: tuple[bool, bool]) -> Any:
    """Resolver.resolve of a loader without path resolvers, a quoted scalar's tag told at once (libyaml's composer
    asks for every node's)."""
    if kind is yaml.ScalarNode and not implicit[0]:
        return self.DEFAULT_SCALAR_TAG
    return yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)


def _make_loader(filename: str, base: type = yaml.SafeLoader) -> type[yaml.SafeLoader]:
    class Loader(base):
        pass

    if not getattr(base, "yaml_path_resolvers", None):  # (SafeLoader has none: these calls, one per node, do nothing)
        Loader.descend_resolver = _no_path
        Loader.ascend_resolver = _no_path
        Loader.resolve = _resolve

    at = f"{filename}:"

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> SourcedDict:
        loader.flatten_mapping(node)
        result = SourcedDict()
        result.origin = f"{at}{node.start_mark.line + 1}"
        origins = result.key_origins
        for key_node, value_node in node.value:
            # _construct's plain string, inline: most keys and values are one
            key = key_node.value if key_node.tag == _STR_TAG and type(key_node) is yaml.ScalarNode \
                else loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise TaskError(f"{filename}:{key_node.start_mark.line + 1}: a key must be a name, not a list or a "
                                "mapping")
            if key in result:
                raise TaskError(
                    f"{filename}:{key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping "
                    f"(first at {origins[key]})"
                )
            result[key] = value_node.value if value_node.tag == _STR_TAG and type(value_node) is yaml.ScalarNode \
                else loader.construct_object(value_node, deep=True)
            origins[key] = f"{at}{key_node.start_mark.line + 1}"
        return result

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> SourcedList:
        result = SourcedList([_construct(loader, child) for child in node.value])
        result.origin = f"{at}{node.start_mark.line + 1}"
        result.item_origins = [f"{at}{child.start_mark.line + 1}" for child in node.value]
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


# A task file is a page of settings, or a few thousand inline items: anything larger is not one.
MAX_TASK_BYTES = 32 << 20
# Aliases (*name) repeat what an anchor (&name) holds: a 1 KB file of aliases of aliases can stand for a billion
# values. What a file stands for, aliases expanded, may be at most this much more than the file itself.
MAX_EXPANSION = 1_000_000
MAX_NESTING = 100


def load_yaml(path: Path, what: str = "task file") -> SourcedDict:
    """Read a YAML mapping; a syntax error becomes a TaskError naming file:line, and so does a file that is not
    text, too large, nested too deep, or whose aliases stand for too much. ``what``: the file's kind, as errors name
    it ("task file", "profile")."""
    return parse_yaml(read_yaml_bytes(path, what), str(path), what)


def read_yaml_bytes(path: Path, what: str = "task file") -> bytes:
    """The bytes of a YAML file (``load_yaml``'s first step): a TaskError for one that is not a regular file, is
    too large or cannot be read."""
    filename = str(path)
    try:
        if not path.is_file():
            raise TaskError(f"{filename}: a {what} must be a regular file")
        if path.stat().st_size > MAX_TASK_BYTES:
            raise TaskError(f"{filename}: a {what} may have at most {MAX_TASK_BYTES >> 20} MB"
                            + ("; put the items in a data file and name it with 'source:'"
                               if what == "task file" else ""))
        return path.read_bytes()
    except OSError as exc:
        raise TaskError(f"{filename}: cannot read {what}: {exc.strerror}") from exc


def parse_yaml(raw: bytes, filename: str, what: str = "task file") -> SourcedDict:
    """The mapping in a YAML file's bytes (``load_yaml``'s second step), read as ``filename``."""
    try:
        text = decode(raw, filename)
    except DataError as exc:
        raise TaskError(str(exc)) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise TaskError(f"{filename}:{line}: the {what} holds a NUL byte: it is not a text file (save it as "
                        "UTF-8 text)")
    data = _parse(text, filename)
    if data is None:
        raise TaskError(f"{filename}:1: the {what} is empty")
    if not isinstance(data, SourcedDict):
        got = "a list" if isinstance(data, list) else "text" if isinstance(data, str) else \
            f"a {type(data).__name__}"
        raise TaskError(f"{filename}:1: a {what} must be a mapping of fields (name: value lines), got {got}")
    return data


def _parse(text: str, filename: str) -> Any:
    """The document's values, through libyaml when it is there. A document libyaml refuses is read again by the
    pure-Python parser, whose errors name the line and the problem as this module reports them."""
    if _FAST_BASE is not None:
        try:
            return _parse_fast(text, filename, _FAST_BASE)
        except (yaml.YAMLError, RecursionError):
            pass
    return _parse_python(text, filename)


def _parse_fast(text: str, filename: str, base: type) -> Any:
    """libyaml's reading; its errors are raised as they are (``_parse`` reads the document again to report them)."""
    loader = _make_loader(filename, base)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, filename, len(text) + MAX_EXPANSION)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _parse_python(text: str, filename: str) -> Any:
    try:
        loader = _make_loader(filename)(text)
    except yaml.reader.ReaderError as exc:  # the reader checks every character first
        at = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise TaskError(f"{filename}:{at}: the character U+{code:04X} is not allowed in YAML: is this a text "
                        "file?") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, filename, len(text) + MAX_EXPANSION)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise TaskError(f"{filename}{line}: YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise TaskError(f"{filename}: YAML error: {' '.join(str(exc).split())[:300]}") from None
    except RecursionError:
        raise TaskError(f"{filename}:{loader.get_mark().line + 1}: the task file nests too deeply (at most "
                        f"{MAX_NESTING} levels of lists and mappings)") from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, filename: str, limit: int) -> None:
    """Refuse a document that nests more than MAX_NESTING deep, or that stands for more than ``limit`` characters
    and values once its aliases are expanded (counted with each node's size known once, so the count is quick)."""
    sizes: dict[int, int] = {}

    def too_much(node: yaml.Node) -> TaskError:
        return TaskError(f"{filename}:{node.start_mark.line + 1}: the task file's aliases (*name) stand for more "
                         f"than {limit:,} characters once expanded; write the values out, or use 'include:'")

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_NESTING:
            raise TaskError(f"{filename}:{node.start_mark.line + 1}: the task file nests more than {MAX_NESTING} "
                            "levels of lists and mappings")
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.ScalarNode):
            total = 1 + len(node.value)
        else:
            children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
                else node.value
            sizes[id(node)] = 1  # an alias of a node inside itself (a cycle) counts once
            total = 1
            inline = depth < MAX_NESTING  # a child scalar is within the nesting limit: counted here, no call
            for child in children:
                if inline and type(child) is yaml.ScalarNode:  # (most nodes: a scalar's size is its own)
                    found = 1 + len(child.value)
                    if found > limit:
                        raise too_much(child)
                    total += found
                else:
                    total += size(child, depth + 1)
        if total > limit:
            raise too_much(node)
        sizes[id(node)] = total
        return total

    size(root, 0)


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
