"""jinja2's sandbox with a budget: a template's render is bounded in time and memory whatever builds its text.

Limits on single operators are not limits (``'x'|center(6000000000)``, ``'%2000000000d' % 1``, a ``replace`` that
doubles a string in a loop, nested loops over an answer's characters): every step a template can take is charged to
one budget per render instead. A filter, a method, a global, a macro, an operator, a literal list and a loop all go
through this module; before a step that can grow text (a width, a count, a replacement, a join) its result's size is
estimated and refused when too large, and after every step the size of what it built is checked and charged. Loops
and calls count operations, so nested loops and exponential macros stop too; a wall-clock deadline is the backstop.
The limits scale with the size of the render's variables, so a long answer never trips them.
"""

from __future__ import annotations

import contextvars
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import jinja2
import jinja2.nodes as nodes
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace, _PassArg
from jinja2.visitor import NodeTransformer

# What one render may build, on top of its variables' own size (the size of its answers, counted in characters).
VALUE_LIMIT = 1_000_000  # any one string, list or number (plus twice the variables' size)
OUTPUT_LIMIT = 2_000_000  # the rendered text (plus four times the variables' size)
CHARS_LIMIT = 50_000_000  # everything built along the way, together (plus twenty times the variables' size)
OPS_LIMIT = 250_000  # loop iterations, calls, filters and operators (plus the variables' size)
SECONDS_LIMIT = 10.0  # wall clock: the backstop, should a step be slow for its size
MACRO_STEPS = 5
MAX_DEPTH = 100  # nesting of lists and mappings
INT_BITS = 65_536  # a number of ~20,000 digits
MAX_POWER = 64


@dataclass
class Budget:
    """What is left to one render; ``value_limit`` and the others are fixed when it starts."""

    value_limit: int
    output_limit: int
    chars: int
    ops: int
    deadline: float
    written: int = 0
    # Sizes of the lists and mappings already measured, by id (holding the object keeps its id unique); lists and
    # mappings cannot change in the immutable sandbox, so a size stays right. Namespaces can and are not kept.
    sizes: dict[int, tuple[Any, int, int]] = field(default_factory=dict)

    @classmethod
    def for_variables(cls, variables: dict[str, Any]) -> Budget:
        budget = cls(value_limit=1 << 62, output_limit=0, chars=0, ops=0, deadline=0.0)
        size = budget.measure(variables)[0]
        budget.value_limit = VALUE_LIMIT + 2 * size
        budget.output_limit = OUTPUT_LIMIT + 4 * size
        budget.chars = CHARS_LIMIT + 20 * size
        budget.ops = OPS_LIMIT + size
        budget.deadline = time.monotonic() + SECONDS_LIMIT
        return budget

    def tick(self, count: int = 1) -> None:
        self.ops -= count
        if self.ops < 0:
            raise SecurityError(f"a template may take at most {OPS_LIMIT:,} steps (loop iterations, calls, filters) "
                                "in one render, plus one per character of its variables")
        if self.ops & 0x3FF == 0 and time.monotonic() > self.deadline:
            raise SecurityError(f"a template may render for at most {SECONDS_LIMIT:g} seconds")

    def allow(self, estimate: int, what: str) -> None:
        """Refuse, before it runs, a step whose result could be larger than any value may be."""
        if estimate > self.value_limit:
            raise SecurityError(f"{what} could build ~{estimate:,} characters; a template's values may have at most "
                                f"{self.value_limit:,}")

    def built(self, value: Any) -> Any:
        """Check and charge what a step built."""
        size = self.measure(value)[0]
        if size > self.value_limit:
            raise SecurityError(f"a template built a value of ~{size:,} characters; its values may have at most "
                                f"{self.value_limit:,}")
        self.chars -= size
        if self.chars < 0:
            raise SecurityError(f"a template may build at most {CHARS_LIMIT:,} characters in one render, plus twenty "
                                "times its variables' size")
        return value

    def measure(self, value: Any) -> tuple[int, int]:
        """(size, depth): characters, digits and elements, counted through every nested list and mapping (what
        printing the value would write, about), and how deep they nest."""
        return self._measure(value, set(), 0)

    def _measure(self, value: Any, active: set[int], level: int) -> tuple[int, int]:
        if isinstance(value, (str, bytes, bytearray, range)):
            return len(value), 0
        if isinstance(value, bool) or not isinstance(value, (int, list, tuple, set, frozenset, dict, Namespace)):
            return 1, 0
        if isinstance(value, int):
            return 1 + value.bit_length() * 3 // 10, 0
        if level > MAX_DEPTH:
            raise SecurityError(f"a template's values may nest at most {MAX_DEPTH} deep")
        key = id(value)
        known = self.sizes.get(key)
        if known is not None:
            return known[1], known[2]
        if key in active:  # a namespace that holds itself prints as "..."
            return 1, 0
        if isinstance(value, Namespace):
            items: Iterable[Any] = _pairs(object.__getattribute__(value, "_Namespace__attrs"))
        else:
            items = _pairs(value) if isinstance(value, dict) else value
        active.add(key)
        total, depth = 1, 0
        for item in items:
            size, inner = self._measure(item, active, level + 1)
            total, depth = total + size + 1, max(depth, inner + 1)
            if total > self.value_limit:
                break
        active.discard(key)
        if not isinstance(value, Namespace):
            self.sizes[key] = (value, total, depth)
        return total, depth


def _pairs(mapping: dict[Any, Any]) -> Iterator[Any]:
    for key, value in mapping.items():
        yield key
        yield value


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("judgebench_template_budget", default=None)


def budget() -> Budget:
    """The running render's budget; outside a render (jinja2 folding constants while it compiles), a fresh one."""
    return _current.get() or Budget.for_variables({})


def start(variables: dict[str, Any]) -> contextvars.Token[Budget | None]:
    return _current.set(Budget.for_variables(variables))


def stop(token: contextvars.Token[Budget | None]) -> None:
    _current.reset(token)


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


def _size(b: Budget, value: Any) -> int:
    return b.measure(value)[0]


def _widths(spec: str) -> int:
    """The widths and precisions a format spec asks for (every number in it, added up)."""
    return sum(int(n) for n in re.findall(r"\d+", spec))


def _pad(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return _size(b, value) + _count(_arg(args, kwargs, 0, "width", 80))


def _expandtabs(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    tabs = value.count("\t") if isinstance(value, str) else 0
    tabs = value.count(b"\t") if isinstance(value, bytes) else tabs
    return _size(b, value) + tabs * _count(_arg(args, kwargs, 0, "tabsize", 8))


def _replace(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    old, new, limit = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", ""), _arg(args, kwargs, 2, "count")
    length = _size(b, value)
    try:
        found = value.count(old) if old else length + 1
    except TypeError:
        found = length + 1
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        found = min(found, limit)
    return length + found * _size(b, new)


def _join(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """``sep.join(items)`` (a method: ``value`` is the separator) or ``items|join(sep)`` (a filter)."""
    if isinstance(value, (str, bytes)):
        separator, items = value, _arg(args, kwargs, 0, "iterable", ())
    else:
        separator, items = _arg(args, kwargs, 0, "d", ""), value
    count = len(items) if isinstance(items, Sized) else 0
    return _size(b, items) + count * _size(b, separator)


def _fields(b: Budget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int]:
    """The largest argument of a format, and the largest number among them (a width given as an argument)."""
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], dict):
        values = list(values[0].values())
    largest = max((_size(b, v) for v in values), default=0)
    return largest, max((_count(v) for v in values if isinstance(v, int)), default=0)


def _str_format(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    if not isinstance(value, str):
        return _size(b, value)
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
        return _size(b, value)
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
    longest = max((_size(b, v) for v in table.values()), default=1) if isinstance(table, dict) else 1
    return _size(b, value) * max(longest, 1)


def _times(factor: int) -> Estimate:
    def estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        return factor * _size(b, value)
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
    return _size(b, value) + lines * (_size(b, width) if isinstance(width, str) else _count(width))


def _wordwrap(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    wrap = _arg(args, kwargs, 2, "wrapstring", None)
    return (_size(b, value) + 1) * (1 + (_size(b, wrap) if wrap is not None else 1))


def _truncate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return _size(b, value) + _size(b, _arg(args, kwargs, 2, "end", "..."))


def _fill(count_index: int, count_name: str) -> Estimate:
    """``batch`` and ``slice``: the items, and a filler (or an empty list) per unit of their count."""
    def estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        filler = _arg(args, kwargs, count_index + 1, "fill_with", None)
        count = _count(_arg(args, kwargs, count_index, count_name, 1))
        return _size(b, value) + count * (1 + (_size(b, filler) if filler is not None else 0))
    return estimate


def _indented(indent_index: int) -> Estimate:
    """``tojson`` and ``pprint``: each nested element on its own line, indented by its depth."""
    def estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        size, depth = b.measure(value)
        indent = _arg(args, kwargs, indent_index, "indent", 1) if indent_index >= 0 else 1
        step = _size(b, indent) if isinstance(indent, str) else _count(indent)
        return 6 * size + size * step * (depth + 1)
    return estimate


def _sum(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    start = _arg(args, kwargs, 1, "start", 0)
    size = _size(b, value)
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
_READS_WHOLE = frozenset({"join", "sum", "batch", "slice"})


def _default_estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Any other step: what it is given, and any number it is given taken as a count."""
    values = (value, *args, *kwargs.values())
    return sum(_size(b, v) for v in values) + sum(_count(v) for v in values if isinstance(v, (int, float)))


def _plain_estimate(b: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return sum(_size(b, v) for v in (value, *args, *kwargs.values()) if not isinstance(v, (int, float)))


_PLAIN_TYPES = (str, bytes, int, float, list, tuple, dict, set, frozenset, range)


def _method_estimate(method: Any) -> tuple[Any, Estimate | None]:
    """(the object a bound method works on, its estimate); None for a macro, whose own steps are checked."""
    if isinstance(method, jinja2.runtime.Macro):
        return None, None
    # jinja2 hands a template str.format wrapped in its own checks: the string is the wrapped method's.
    bound = getattr(method, "__wrapped__", method)
    owner = getattr(bound, "__self__", None)
    name = getattr(bound, "__name__", "")
    if isinstance(owner, _PLAIN_TYPES):
        return owner, METHODS.get(name, _plain_estimate)
    if method is dict or method is Namespace:
        return None, _plain_estimate
    return owner, _default_estimate


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that is estimated before it runs and checked after, against the running render's budget."""
    estimate = FILTERS.get(name, _plain_estimate if name in PLAIN_FILTERS else _default_estimate)
    skip = 1 if _PassArg.from_obj(func) is not None else 0  # the context or environment jinja2 passes first
    per_character = STEPS_A_CHARACTER.get(name, 0)

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        b = budget()
        b.tick()
        if len(args) > skip:
            if name in _READS_WHOLE and not isinstance(args[skip], Sized):
                args = (*args[:skip], tuple(args[skip]), *args[skip + 1:])
            b.allow(estimate(b, args[skip], args[skip + 1:], kwargs), f"the filter {name!r}")
            b.tick(_size(b, args[skip]) * per_character)
        return b.built(func(*args, **kwargs))

    return guarded


class _Guard(NodeTransformer):
    """Routes loops, ``~`` and literal lists, tuples and mappings through the environment's checks."""

    @staticmethod
    def _hook(name: str, node: nodes.Node, *args: nodes.Node) -> nodes.Call:
        return nodes.Call(nodes.EnvironmentAttribute(name), list(args), [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._hook("judgebench_iterate", node, node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._hook("judgebench_concat", node, *node.nodes)

    def _built(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node
        return self._hook("judgebench_built", node, node)

    visit_List = visit_Tuple = visit_Dict = _built


_HOOKS = frozenset({"judgebench_iterate", "judgebench_concat", "judgebench_built"})


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox whose every step is charged to the running render's budget (see the module)."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items()}
        # lipsum writes paragraphs by the million from one number, and is of no use to a judge's prompt.
        self.globals.pop("lipsum", None)
        self.globals["range"] = budgeted_range
        # Every {{ expression }} passes here before it is written: the text written is counted where the template
        # writes it, so a refusal names that line.
        self.finalize = self.judgebench_write

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = super()._parse(source, name, filename)
        guarded: nodes.Template = _Guard().visit(template)
        guarded.set_environment(self)
        return guarded

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__self__", None) is __self and getattr(__obj, "__name__", "") in _HOOKS:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
            return __obj(*args)
        if isinstance(__obj, jinja2.Undefined):  # jinja2 says which name is undefined
            return super().call(__context, __obj, *args, **kwargs)
        b = budget()
        # A macro call costs jinja2 as much as a few other steps: counted so, exponential macros stop as soon.
        b.tick(MACRO_STEPS if isinstance(__obj, jinja2.runtime.Macro) else 1)
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (__self.judgebench_iterate(args[0]), *args[1:])
        owner, estimate = _method_estimate(__obj)
        if estimate is not None:
            plain = {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
            if getattr(__obj, "__name__", "") == "join" and args and not isinstance(args[0], Sized):
                args = (tuple(args[0]), *args[1:])
            b.allow(estimate(b, owner, args, plain), f"calling {getattr(__obj, '__name__', 'it')}")
        return b.built(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        b = budget()
        b.tick()
        b.allow(_binop_estimate(b, operator, left, right), f"the operator {operator!r}")
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, int) and result.bit_length() > INT_BITS:
            raise SecurityError(f"a template's numbers may have at most {INT_BITS:,} bits")
        return b.built(result)

    def concat(self, parts: Iterable[Any]) -> str:
        """The text of a macro, a block or a ``{% set %}`` capture: checked as it grows."""
        b, total, pieces = budget(), 0, []
        for part in parts:
            total += len(part)
            if total > b.output_limit:
                raise SecurityError(f"a template may write at most {b.output_limit:,} characters")
            pieces.append(part)
        return b.built("".join(pieces))

    def judgebench_write(self, value: Any) -> Any:
        b = budget()
        b.written += b.measure(value)[0]
        if b.written > b.output_limit:
            raise SecurityError(f"a template may write at most {b.output_limit:,} characters in one render")
        return value

    def judgebench_iterate(self, iterable: Any) -> Any:
        """A loop's items: a sized one is charged whole before it starts, anything else item by item."""
        b = budget()
        if isinstance(iterable, Sized):
            b.tick(len(iterable))
            return iterable
        return _ticking(iterable, b)

    def judgebench_concat(self, *parts: Any) -> str:
        b = budget()
        b.tick()
        b.allow(sum(10 * _size(b, p) for p in parts), "the operator '~'")
        return b.built("".join(str(p) for p in parts))

    def judgebench_built(self, value: Any) -> Any:
        b = budget()
        b.tick()
        return b.built(value)


def _ticking(iterable: Iterable[Any], b: Budget) -> Iterator[Any]:
    for item in iterable:
        b.tick()
        yield item


def _binop_estimate(b: Budget, operator: str, left: Any, right: Any) -> int:
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
            return _size(b, sized[0]) * counts[0]
        return 1
    if operator == "%" and isinstance(left, str):
        return printf_estimate(b, left, (right,), {})
    return _size(b, left) + _size(b, right)


def budgeted_range(*args: int) -> range:
    """``range()``, charged to the render's steps whole (so nested loops stop before they start)."""
    numbers = range(*args)
    budget().tick(len(numbers))
    return numbers
