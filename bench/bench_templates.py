"""The template budget's cost and what it stops.

1. Rendering every prompt of the built-in sample tasks (json and text verdicts), with the budgeted sandbox vs jinja2's
   plain immutable sandbox on the same templates and variables, in the same run: the budget's overhead as a ratio.
2. Hostile templates (issue 19): seconds to the refusal and the growth of the process's peak memory, each run in a
   fresh process. Before the budget, `center(6000000000)` took 35 s and 6 GB and the others 2 GB or ran until killed.

    python bench/bench_templates.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jinja2  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

from judgebench.judging import prompts  # noqa: E402
from judgebench.judging.requests import render_all  # noqa: E402
from judgebench.tasks import load_task  # noqa: E402
from judgebench.types import Endpoint, Judge  # noqa: E402

HOSTILE = {
    "center": "{{ 'x'|center(6000000000) }}",
    "printf": "{{ '%2000000000d' % 1 }}",
    "str.format": "{{ '{:>2000000000}'.format(1) }}",
    "replace_loop": "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s|replace('x', 'xx') %}"
                    "{% endfor %}",
    "nested_loops": "{% set s = 'x' * 90000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "exponential_macro": "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(60) }}",
}
CHILD = """
import resource, sys, time
from pathlib import Path
from judgebench.judging.prompts import render_messages
from judgebench.errors import TaskError
folder = Path(sys.argv[1])
(folder / "evil.jinja").write_text("{% block user %}" + sys.argv[2] + "{% endblock %}")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    render_messages("evil.jinja", (str(folder),), {})
    outcome = "rendered"
except TaskError:
    outcome = "refused"
print(outcome, time.perf_counter() - start, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def _render_once(tasks: list[Any]) -> tuple[float, int]:
    endpoint = Endpoint(provider="openai", name="bench", model="bench", base_url="http://127.0.0.1:9/v1")
    judges = (Judge("json", endpoint, True), Judge("text", endpoint, False))
    start = time.perf_counter()
    count = sum(render_all(task, list(task.items), judges, every_item=True) for task in tasks)
    return time.perf_counter() - start, count


@lru_cache(maxsize=32)
def _plain(search_path: tuple[str, ...]) -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(loader=jinja2.FileSystemLoader(list(search_path)),
                                         undefined=jinja2.StrictUndefined, autoescape=False)


def overhead(rounds: int = 15) -> dict[str, Any]:
    """Best of ``rounds`` each, the two environments taking turns (a busy machine slows both alike)."""
    tasks = [load_task(name) for name in ("sample-mt", "sample-pairwise", "sample-battles")]
    original = prompts._environment
    best = {"budgeted": float("inf"), "plain": float("inf")}
    count = 0
    try:
        for _ in range(rounds):
            for name, environment in (("budgeted", original), ("plain", _plain)):
                prompts._environment = environment  # type: ignore[assignment]
                seconds, count = _render_once(tasks)
                best[name] = min(best[name], seconds)
    finally:
        prompts._environment = original
    return {"prompts": count, "budgeted_us_per_prompt": round(best["budgeted"] / count * 1e6, 1),
            "plain_sandbox_us_per_prompt": round(best["plain"] / count * 1e6, 1),
            "budgeted_vs_plain": round(best["budgeted"] / best["plain"], 2)}


def hostile(folder: Path) -> dict[str, Any]:
    found = {}
    for name, body in HOSTILE.items():
        out = subprocess.run([sys.executable, "-c", CHILD, str(folder), body], capture_output=True, text=True,
                             timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
        outcome, seconds, megabytes = out.stdout.split()
        found[name] = {"outcome": outcome, "seconds": round(float(seconds), 3),
                       "peak_memory_growth_mb": round(float(megabytes), 1)}
    return found


def main() -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return {"render_overhead": overhead(), "hostile_templates": hostile(Path(folder))}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
