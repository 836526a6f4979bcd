"""The command line's help, `judgebench tasks` and `import judgebench` load none of the heavy libraries (a guard for
the start-up time: bench/bench_startup.py measures it; nothing here is timed). Each case runs in a fresh
interpreter, since this test process has long imported them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The libraries that cost hundreds of milliseconds or tens of MB to import; only the commands that use them may.
HEAVY = ("pandas", "scipy", "matplotlib", "numpy", "jinja2", "httpx", "aiohttp", "openai", "anthropic", "yaml",
         "ppi_py", "numba")

CHECK = """
import json, sys
args = json.loads(sys.argv[1])
if args is None:
    import judgebench
else:
    from judgebench.cli import main
    try:
        main(args, prog_name="judgebench")
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
print(json.dumps(sorted(m for m in HEAVY if m in sys.modules)))
"""


def _heavy_loaded(args: list[str] | None) -> list[str]:
    script = f"HEAVY = {HEAVY!r}\n{CHECK}"
    done = subprocess.run([sys.executable, "-c", script, json.dumps(args)], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("args", [["--help"], ["tasks"], ["run", "--help"], ["stats", "--help"],
                                  ["calibrate", "--help"]],
                         ids=["help", "tasks", "run-help", "stats-help", "calibrate-help"])
def test_command_loads_no_heavy_library(args: list[str]) -> None:
    assert _heavy_loaded(args) == []


def test_import_judgebench_loads_no_heavy_library() -> None:
    assert _heavy_loaded(None) == []


def test_public_api_still_resolves_lazily() -> None:
    # The lazy names are the real objects, and asking for one that does not exist is an AttributeError.
    import judgebench
    from judgebench.analysis.results import load
    from judgebench.tasks.loader import load_task

    assert judgebench.load is load and judgebench.load_task is load_task
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = judgebench.no_such_name  # type: ignore[attr-defined]


# What `judgebench run` imports before its first request and for its summary, one judge: scipy (about a second and
# 70 MB) is for the statistics only some runs need (a panel's rank agreement, battles, length control).
RUN_PATH = """
import json, sys
from judgebench.cli import run  # noqa: F401
from judgebench.clients.backends import with_transport  # noqa: F401
from judgebench.clients.backends import lean  # noqa: F401
from judgebench.clients.endpoints import check_reachable  # noqa: F401
from judgebench.clients.pricing import load_prices  # noqa: F401
from judgebench.clients.serve import serving  # noqa: F401
from judgebench.run.evaluate import evaluate  # noqa: F401
from judgebench.run.battles import battles_work  # noqa: F401
from judgebench.analysis.diagnostics import format_report  # noqa: F401
from judgebench.publish.tables import format_scores  # noqa: F401
from judgebench.tasks import load_task  # noqa: F401
print(json.dumps(sorted(m for m in sys.modules if m == "scipy" or m.startswith("scipy."))))
"""


def test_the_run_path_loads_no_scipy() -> None:
    done = subprocess.run([sys.executable, "-c", RUN_PATH], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_bradley_terry_function_survives_its_module_being_imported() -> None:
    # The function shares its module's name and is imported on first use: importing the module (as battle_ranking
    # does) must not leave the module where the function is expected.
    import judgebench.stats
    import judgebench.stats.battle_ranking
    from judgebench.stats import bradley_terry
    from judgebench.stats.bradley_terry import bradley_terry as the_function

    assert bradley_terry is the_function and judgebench.stats.bradley_terry is the_function
