"""One render's budget: how many steps a template may take and how much it may build (see ``sandbox``)."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from jinja2.sandbox import SecurityError
from jinja2.utils import Namespace

# What one render may build, on top of its variables' own size (the size of its answers, counted in characters).
VALUE_LIMIT = 1_000_000  # any one string, list or number (plus twice the variables' size)
OUTPUT_LIMIT = 2_000_000  # the rendered text (plus four times the variables' size)
CHARS_LIMIT = 20_000_000  # everything built along the way, together (plus twenty times the variables' size)
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
    unclocked: int = 0
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
        self.unclocked += 1
        if self.unclocked >= 256:  # reading the clock every step would cost as much as the step
            self.unclocked = 0
            if time.monotonic() > self.deadline:
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
        kind = type(value)
        if kind is str:  # most of what a template writes: no walk to start (each as ``_measure`` counts it)
            return len(value), 0
        if kind is int:
            return 1 + value.bit_length() * 3 // 10, 0
        return self._measure(value, set(), 0)

    def _measure(self, value: Any, active: set[int], level: int) -> tuple[int, int]:
        kind = type(value)
        # The exact types that are most of every render's values first, each measured as the general case below
        # measures it (a subclass, which may print itself its own way, takes the general case).
        if kind is str:
            return len(value), 0
        if kind is int:
            return 1 + value.bit_length() * 3 // 10, 0
        if kind is bool or kind is float or value is None:
            return 1, 0
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
            items: Iterable[Any] = chain.from_iterable(object.__getattribute__(value, "_Namespace__attrs").items())
        else:
            # A mapping counts its keys and its values, in turn (chain: no Python frame per element).
            items = chain.from_iterable(value.items()) if isinstance(value, dict) else value
        active.add(key)
        total, depth = 1, 0
        limit = self.value_limit
        for item in items:
            element = type(item)
            if element is str:  # the common elements without a call, each as above
                size, inner = len(item), 0
            elif element is int:
                size, inner = 1 + item.bit_length() * 3 // 10, 0
            elif element is bool or item is None:
                size, inner = 1, 0
            else:
                size, inner = self._measure(item, active, level + 1)
            total += size + 1
            if inner >= depth:
                depth = inner + 1
            if total > limit:
                break
        active.discard(key)
        if not isinstance(value, Namespace):
            self.sizes[key] = (value, total, depth)
        return total, depth


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("judgebench_template_budget", default=None)


def budget() -> Budget:
    """The running render's budget; outside a render (jinja2 folding constants while it compiles), a fresh one."""
    return _current.get() or Budget.for_variables({})


def start(variables: dict[str, Any]) -> contextvars.Token[Budget | None]:
    return _current.set(Budget.for_variables(variables))


def stop(token: contextvars.Token[Budget | None]) -> None:
    _current.reset(token)
