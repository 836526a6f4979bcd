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
