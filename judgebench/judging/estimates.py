"""How large a template step's result can be, estimated before it runs: for the filters and methods that can build
more than they are given (a width, a count, a replacement, a separator); everything else is measured afterwards."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sized
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError
from jinja2.utils import Namespace

from .budget import MAX_POWER, Budget

# Estimates of how large a step's result can be, for the steps that can build more than they are given. Each takes
# the budget (to measure), the value the step works on (a method's object, a filter's first argument) and the rest.
Estimate = Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], int]


def _count(value: Any) -> int:
    """A number used as a width or a count (0 for anything else)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return abs(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return int(abs(value))
    return 0


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def size_of(b: Budget, value: Any) -> int:
    return b.measure(value)[0]


def _widths(spec: str) -> int:
    """The widths and precisions a format spec asks for (every number in it, added up)."""
    return sum(int(n) for n in re.findall(r"\d+", spec))


def _pad(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return size_of(b, value) + _count(_arg(args, kwargs, 0, "width", 80))


def _expandtabs(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    tabs = value.count("\t") if isinstance(value, str) else 0
    tabs = value.count(b"\t") if isinstance(value, bytes) else tabs
    return size_of(b, value) + tabs * _count(_arg(args, kwargs, 0, "tabsize", 8))


def _replace(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    old, new, limit = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", ""), _arg(args, kwargs, 2, "count")
    length = size_of(b, value)
    try:
        found = value.count(old) if old else length + 1
    except TypeError:
        found = length + 1
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        found = min(found, limit)
    return length + found * size_of(b, new)


def _join(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """``sep.join(items)`` (a method: ``value`` is the separator) or ``items|join(sep)`` (a filter)."""
    if isinstance(value, (str, bytes)):
        separator, items = value, _arg(args, kwargs, 0, "iterable", ())
    else:
        separator, items = _arg(args, kwargs, 0, "d", ""), value
    count = len(items) if isinstance(items, Sized) else 0
    return size_of(b, items) + count * size_of(b, separator)


def _fields(b: Budget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int]:
    """The largest argument of a format, and the largest number among them (a width given as an argument)."""
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], dict):
        values = list(values[0].values())
    largest = max((size_of(b, v) for v in values), default=0)
    return largest, max((_count(v) for v in values if isinstance(v, int)), default=0)


def _str_format(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    if not isinstance(value, str):
        return size_of(b, value)
    largest, widest = _fields(b, args, kwargs)
    total = 0
    try:
        for literal, name, spec, _ in string.Formatter().parse(value):
            total += len(literal)
            if name is not None:
                total += largest + _widths(spec or "") + (widest if "{" in (spec or "") else 0)
    except ValueError:  # the call itself will say what is wrong with the format
        return len(value)
    return total


def _format_map(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    mapping = args[0] if args and isinstance(args[0], dict) else {}
    return _str_format(b, value, (), {str(k): v for k, v in mapping.items()})


_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")


def printf_estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """``fmt % args``, or ``fmt|format(*args)``: each conversion's width and precision and the largest argument."""
    if not isinstance(value, str):
        return size_of(b, value)
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    largest, widest = _fields(b, args, kwargs)
    total = len(value)
    for match in _PRINTF.finditer(value):
        for part in match.groups():
            total += widest if part == "*" else int(part or 0)
        total += largest
    return total


def _translate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    table = _arg(args, kwargs, 0, "table", None)
    longest = max((size_of(b, v) for v in table.values()), default=1) if isinstance(table, dict) else 1
    return size_of(b, value) * max(longest, 1)


def _times(factor: int) -> Estimate:
    def estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        return factor * size_of(b, value)
    return estimate


def _to_bytes(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return _count(_arg(args, kwargs, 0, "length", 1))


# Methods of strings, bytes and numbers that can build more than they are given; the others build at most what they
# are given (a split, a strip, a lookup) and are only checked afterwards.
METHODS: dict[str, Estimate] = {
    "center": _pad, "ljust": _pad, "rjust": _pad, "zfill": _pad, "expandtabs": _expandtabs, "replace": _replace,
    "join": _join, "format": _str_format, "format_map": _format_map, "translate": _translate, "encode": _times(4),
    "hex": _times(3), "to_bytes": _to_bytes,
}


def _indent(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    width = _arg(args, kwargs, 0, "width", 4)
    lines = value.count("\n") + 1 if isinstance(value, str) else 1
    return size_of(b, value) + lines * (size_of(b, width) if isinstance(width, str) else _count(width))


def _wordwrap(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    wrap = _arg(args, kwargs, 2, "wrapstring", None)
    return (size_of(b, value) + 1) * (1 + (size_of(b, wrap) if wrap is not None else 1))


def _truncate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return size_of(b, value) + size_of(b, _arg(args, kwargs, 2, "end", "..."))


def _fill(count_index: int, count_name: str) -> Estimate:
    """``batch`` and ``slice``: the items, and a filler (or an empty list) per unit of their count."""
    def estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        filler = _arg(args, kwargs, count_index + 1, "fill_with", None)
        count = _count(_arg(args, kwargs, count_index, count_name, 1))
        return size_of(b, value) + count * (1 + (size_of(b, filler) if filler is not None else 0))
    return estimate


def _indented(indent_index: int) -> Estimate:
    """``tojson`` and ``pprint``: each nested element on its own line, indented by its depth."""
    def estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        size, depth = b.measure(value)
        indent = _arg(args, kwargs, indent_index, "indent", 1) if indent_index >= 0 else 1
        step = size_of(b, indent) if isinstance(indent, str) else _count(indent)
        return 6 * size + size * step * (depth + 1)
    return estimate


def _sum(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    start = _arg(args, kwargs, 1, "start", 0)
    size = size_of(b, value)
    # Adding lists copies the sum so far each time: the work grows with the square of their number.
    return size if isinstance(start, (int, float)) else size * (len(value) if isinstance(value, Sized) else 1)


# jinja2's filters that can build more than they are given.
FILTERS: dict[str, Estimate] = {
    "center": _pad, "indent": _indent, "wordwrap": _wordwrap, "truncate": _truncate, "format": printf_estimate,
    "join": _join, "replace": _replace, "batch": _fill(0, "linecount"), "slice": _fill(0, "slices"),
    "tojson": _indented(0), "pprint": _indented(-1), "sum": _sum, "escape": _times(6), "e": _times(6),
    "forceescape": _times(6), "urlencode": _times(12), "urlize": _times(16), "xmlattr": _times(8),
    "string": _times(10),
}
# Filters that build at most about what they are given (their numbers are not counts).
PLAIN_FILTERS = frozenset({
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "filesizeformat", "first", "float", "groupby",
    "int", "items", "last", "length", "list", "lower", "map", "max", "min", "random", "reject", "rejectattr",
    "reverse", "round", "safe", "select", "selectattr", "sort", "striptags", "title", "trim", "unique", "upper",
    "wordcount",
})
# Filters slow for their size (textwrap takes tens of microseconds a character): each character counts as steps.
STEPS_A_CHARACTER = {"wordwrap": 4}
# Iterators a filter or a method reads whole: read here first (each was built from checked steps), so they can be
# measured before the step runs.
READS_WHOLE = frozenset({"join", "sum", "batch", "slice"})


def default_estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Any other step: what it is given, and any number it is given taken as a count."""
    values = (value, *args, *kwargs.values())
    return sum(size_of(b, v) for v in values) + sum(_count(v) for v in values if isinstance(v, (int, float)))


def plain_estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return sum(size_of(b, v) for v in (value, *args, *kwargs.values()) if not isinstance(v, (int, float)))


_PLAIN_TYPES = (str, bytes, int, float, list, tuple, dict, set, frozenset, range)


def method_estimate(method: Any) -> tuple[Any, Estimate | None]:
    """(the object a bound method works on, its estimate); None for a macro, whose own steps are checked."""
    if isinstance(method, jinja2.runtime.Macro):
        return None, None
    # jinja2 hands a template str.format wrapped in its own checks: the string is the wrapped method's.
    bound = getattr(method, "__wrapped__", method)
    owner = getattr(bound, "__self__", None)
    name = getattr(bound, "__name__", "")
    if isinstance(owner, _PLAIN_TYPES):
        return owner, METHODS.get(name, plain_estimate)
    if method is dict or method is Namespace:
        return None, plain_estimate
    return owner, default_estimate


def binop_estimate(b: Budget, operator: str, left: Any, right: Any) -> int:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**":
        if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
            raise SecurityError(f"the power {right!r} is too large for a template")
        if ints and right > 0:
            return 1 + left.bit_length() * right * 3 // 10
        return 1
    if operator == "*":
        if ints:
            return 1 + (left.bit_length() + right.bit_length()) * 3 // 10
        sized = [v for v in (left, right) if isinstance(v, (str, bytes, list, tuple))]
        counts = [_count(v) for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sized and counts:
            return size_of(b, sized[0]) * counts[0]
        return 1
    if operator == "%" and isinstance(left, str):
        return printf_estimate(b, left, (right,), {})
    return size_of(b, left) + size_of(b, right)
