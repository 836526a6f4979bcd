"""The sandbox's cheaper steps (issue 23) answer as the general ones did: a value's measured size and depth, a
plain dict's keys and a loop's counters read through the sandbox, and the limits they feed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

from judgebench.judging.budget import MAX_DEPTH, OPS_LIMIT, Budget
from judgebench.judging.sandbox import BudgetedSandbox


def _pairs(mapping: dict[Any, Any]) -> Iterator[Any]:
    for key, value in mapping.items():
        yield key
        yield value


def reference_measure(value: Any, limit: int, active: set[int] | None = None, level: int = 0) -> tuple[int, int]:
    """The measure as the sandbox first wrote it: one general walk, isinstance by isinstance, no memo."""
    active = set() if active is None else active
    if isinstance(value, (str, bytes, bytearray, range)):
        return len(value), 0
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple, set, frozenset, dict, Namespace)):
        return 1, 0
    if isinstance(value, int):
        return 1 + value.bit_length() * 3 // 10, 0
    if level > MAX_DEPTH:
        raise SecurityError("too deep")
    key = id(value)
    if key in active:
        return 1, 0
    items: Iterable[Any]
    if isinstance(value, Namespace):
        items = _pairs(object.__getattribute__(value, "_Namespace__attrs"))
    else:
        items = _pairs(value) if isinstance(value, dict) else value
    active.add(key)
    total, depth = 1, 0
    for item in items:
        size, inner = reference_measure(item, limit, active, level + 1)
        total, depth = total + size + 1, max(depth, inner + 1)
        if total > limit:
            break
    active.discard(key)
    return total, depth


class Text(str):
    pass


class Number(int):
    pass


def _values() -> list[Any]:
    loop: list[Any] = [1, "two"]
    loop.append(loop)
    space = Namespace(a=1, b="text")
    space.me = space  # type: ignore[attr-defined]
    return [
        "", "answer é 😀", Text("sub"), b"bytes", bytearray(b"ab"), range(7), 0, 1, -1, 2**64, -(2**200), Number(99),
        True, False, None, 1.5, float("nan"), object(), [], {}, (), set(), frozenset({1, "a"}),
        {"turns": [{"question": "q", "answer": "a", "reference": None}], "turn": 1, "scale_low": 1,
         "scale_high": 10, "constrained": True, "frame": "x" * 40},
        [[[["deep"]]], (1, (2, (3,))), {"k": {"j": [True, None, 2.5, Number(3), Text("t")]}}],
        {1: "int key", (1, 2): "tuple key", None: [b"x", range(3)]}, loop, space, Namespace(),
        [{"a": "b" * 1000}] * 50,
    ]


@pytest.mark.parametrize("value", _values(), ids=lambda v: type(v).__name__)
def test_a_value_measures_as_the_general_walk_measured_it(value: Any) -> None:
    budget = Budget(value_limit=1 << 62, output_limit=0, chars=0, ops=0, deadline=0.0)
    assert budget.measure(value) == reference_measure(value, 1 << 62)
    assert budget.measure(value) == reference_measure(value, 1 << 62)  # again, from the memo of sizes


def test_a_measure_stops_where_the_general_walk_stopped() -> None:
    value = [{"a": "x" * 300, "b": ["y" * 200, 5, None]}] * 40 + ["z" * 5000]
    for limit in (0, 1, 300, 305, 1_000, 7_777, 30_000):
        budget = Budget(value_limit=limit, output_limit=0, chars=0, ops=0, deadline=0.0)
        assert budget.measure(value) == reference_measure(value, limit)


def test_a_value_nested_too_deep_is_refused_as_before() -> None:
    value: list[Any] = ["bottom"]
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(SecurityError, match="nest at most"):
        Budget.for_variables({"v": value})


def test_the_limits_scale_with_the_variables_size_as_before() -> None:
    variables = {"turns": [{"question": "q" * 100, "answer": "a" * 2000, "reference": None}], "turn": 1, "x": 2**70}
    size = reference_measure(variables, 1 << 62)[0]
    assert Budget.for_variables(variables).ops == OPS_LIMIT + size


KEYS = ["question", "answer", "missing", "items", "keys", "get", "pop", "update", "clear", "__class__", "__dict__",
        "_private", "__init__", "mro", "copy", "fromkeys"]


@pytest.mark.parametrize("key", KEYS)
def test_a_dict_attribute_reads_as_jinja2s_sandbox_reads_it(key: str) -> None:
    ours, theirs = BudgetedSandbox(undefined=jinja2.StrictUndefined), \
        ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    data = {"question": "q?", "answer": "a.", "items": "a key named items", "_private": "p", "__class__": "c",
            "pop": 1}
    found, expected = ours.getattr(data, key), theirs.getattr(data, key)
    assert type(found) is type(expected)
    if isinstance(expected, jinja2.Undefined):
        assert found._undefined_hint == expected._undefined_hint and found._undefined_name == expected._undefined_name
    elif callable(expected):
        assert getattr(found, "__name__", None) == getattr(expected, "__name__", None)
    else:
        assert found == expected


def test_a_loops_counters_and_methods_read_as_before() -> None:
    source = ("{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
              "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.depth }}{{ loop.depth0 }}"
              "{{ loop.cycle('a', 'b') }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}")
    variables = {"items": ["p", "q", "r"]}
    assert BudgetedSandbox().from_string(source).render(variables) \
        == ImmutableSandboxedEnvironment().from_string(source).render(variables)
    unsafe = "{% for x in items %}{{ loop._iterator }}{% endfor %}"
    for environment in (BudgetedSandbox(undefined=jinja2.StrictUndefined),
                        ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)):
        with pytest.raises(SecurityError, match="unsafe"):
            environment.from_string(unsafe).render(variables)
