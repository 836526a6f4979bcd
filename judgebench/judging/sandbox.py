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

from collections.abc import Callable, Iterable, Iterator, Sized
from functools import wraps
from typing import Any

import jinja2
import jinja2.nodes as nodes
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from .budget import INT_BITS, MACRO_STEPS, Budget, budget
from .estimates import (
    FILTERS,
    PLAIN_FILTERS,
    READS_WHOLE,
    STEPS_A_CHARACTER,
    binop_estimate,
    default_estimate,
    method_estimate,
    plain_estimate,
    size_of,
)


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that is estimated before it runs and checked after, against the running render's budget."""
    estimate = FILTERS.get(name, plain_estimate if name in PLAIN_FILTERS else default_estimate)
    skip = 1 if _PassArg.from_obj(func) is not None else 0  # the context or environment jinja2 passes first
    per_character = STEPS_A_CHARACTER.get(name, 0)

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        b = budget()
        b.tick()
        if len(args) > skip:
            if name in READS_WHOLE and not isinstance(args[skip], Sized):
                args = (*args[:skip], tuple(args[skip]), *args[skip + 1:])
            b.allow(estimate(b, args[skip], args[skip + 1:], kwargs), f"the filter {name!r}")
            b.tick(size_of(b, args[skip]) * per_character)
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
# Every attribute a plain dict has (its type's and object's): any other name is a key to jinja2's getattr.
_DICT_ATTRIBUTES = frozenset(name for kind in dict.__mro__ for name in vars(kind))
# LoopContext's counters: numbers and truth values (properties or plain attributes), safe by jinja2's rules.
_LOOP_COUNTERS = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth",
                            "depth0"})


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

    def getattr(self, obj: Any, attribute: str) -> Any:
        """jinja2's sandboxed ``obj.attribute``, with the two of every render's look-ups that need none of its
        checks answered at once, as jinja2 answers them: a key of a plain dict that is no attribute of dict (jinja2
        tries the attribute first, fails, and takes the item), and a loop's counters (a number or a truth value)."""
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except LookupError:
                return self.undefined(obj=obj, name=attribute)
        if kind is LoopContext and attribute in _LOOP_COUNTERS:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

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
        owner, estimate = method_estimate(__obj)
        if estimate is not None:
            plain = {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
            if getattr(__obj, "__name__", "") == "join" and args and not isinstance(args[0], Sized):
                args = (tuple(args[0]), *args[1:])
            b.allow(estimate(b, owner, args, plain), f"calling {getattr(__obj, '__name__', 'it')}")
        return b.built(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        b = budget()
        b.tick()
        b.allow(binop_estimate(b, operator, left, right), f"the operator {operator!r}")
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
        b.written += len(value) if type(value) is str else b.measure(value)[0]  # (a str: what measure counts)
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
        b.allow(sum(10 * size_of(b, p) for p in parts), "the operator '~'")
        return b.built("".join(str(p) for p in parts))

    def judgebench_built(self, value: Any) -> Any:
        b = budget()
        b.tick()
        return b.built(value)


def _ticking(iterable: Iterable[Any], b: Budget) -> Iterator[Any]:
    for item in iterable:
        b.tick()
        yield item


def budgeted_range(*args: int) -> range:
    """``range()``, charged to the render's steps whole (so nested loops stop before they start)."""
    numbers = range(*args)
    budget().tick(len(numbers))
    return numbers
