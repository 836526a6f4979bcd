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


# The libraries for tables and fits, hundreds of milliseconds and tens of MB to import (pandas brings pyarrow): a
# single-grading run judged over HTTP needs none of them before its summary. scipy is for the statistics only some
# runs need (a panel's rank agreement, battles, length control); pandas is for the tables that some summaries and
# every reading of results build.
TABLE_LIBRARIES = ("pandas", "pyarrow", "scipy")

# What `judgebench run` imports before its first request and for its summary, one judge on answers files: the
# modules that use pandas import it on first use (judgebench.lazy).
RUN_PATH = """
import json, sys
from judgebench.cli import run  # noqa: F401
from judgebench.clients.backends import with_transport  # noqa: F401
from judgebench.clients.backends import lean  # noqa: F401
from judgebench.clients.endpoints import check_reachable  # noqa: F401
from judgebench.clients.pricing import load_prices  # noqa: F401
from judgebench.clients.serve import serving  # noqa: F401
from judgebench.formats import read_answers, read_parsed  # noqa: F401
from judgebench.formats import alpaca_eval, fastchat, judgebench as store  # noqa: F401
from judgebench.formats.table import ColumnStore, judgment_row  # noqa: F401
from judgebench.run.evaluate import evaluate  # noqa: F401
from judgebench.run.battles import battles_work  # noqa: F401
from judgebench.run.executors import open_executor  # noqa: F401
from judgebench.analysis.diagnostics import diagnose, format_report  # noqa: F401
from judgebench.analysis.records import canonical_frame  # noqa: F401
from judgebench.analysis.scores import score_rows  # noqa: F401
from judgebench.judging.kinds import kind_of  # noqa: F401
from judgebench.publish.tables import format_scores  # noqa: F401
from judgebench.tasks import load_task  # noqa: F401
print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] in LIBRARIES)))
"""


def test_the_run_path_imports_no_table_library() -> None:
    script = f"LIBRARIES = {TABLE_LIBRARIES!r}\n{RUN_PATH}"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# A whole `judgebench run` of a single-grading task on an answers file, judged by a scripted server over HTTP (the
# lean transport), in a fresh interpreter that notes which function first imports each table library: none does.
# The task, answers, requests, cache, replies and records need none, and a one-judge single-grading run's summary
# is computed from its columns with numpy (analysis.run_summary).
WHOLE_RUN = """
import json, sys, traceback
from pathlib import Path

first = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in LIBRARIES and name not in first:
            first[name] = [frame.name for frame in traceback.extract_stack()]
        return None


sys.meta_path.insert(0, Watch())
from judgebench.cli import main
from tests.fakeserver import Script, fake_server

folder = Path(sys.argv[1])
with fake_server(Script([("ok", '{"score": 7}')]), keep_alive=True) as url:
    try:
        main(["run", "--task", str(folder / "task.yaml"), "--answers", str(folder / "answers.jsonl"),
              "--judge", f"scripted@{url}#json", "--out", str(folder / "results"), "--run-id", "r",
              "--no-progress"], prog_name="judgebench")
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
print(json.dumps({name: "_summarize" in stack for name, stack in first.items()}))
"""


def _whole_run_imports(tmp_path: Path, libraries: tuple[str, ...]) -> dict[str, bool]:
    """Which of ``libraries`` a whole run of WHOLE_RUN imports, and whether the summary does."""
    lines = ["name: lean-run", "kind: single", "judge:", "  prompt: single.jinja", "  scale: [1, 10]", "items:"]
    answers = []
    for i in range(3):
        lines += [f"  - id: q{i}", "    turns:", f"      - 'Question {i}?'"]
        answers.append(json.dumps({"question_id": f"q{i}", "model_id": "m",
                                   "choices": [{"index": 0, "turns": [f"Answer {i}."]}]}))
    (tmp_path / "task.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "answers.jsonl").write_text("\n".join(answers) + "\n")
    script = f"LIBRARIES = {libraries!r}\n{WHOLE_RUN}"
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                               "JUDGEBENCH_CACHE_DIR": str(tmp_path / "jb-cache")}, check=True)
    summary = json.loads((tmp_path / "results" / "r" / "summary.json").read_text())
    assert summary["n_judgments"] == 3 and summary["n_failed"] == 0 and summary["rows"][0]["score"] == 7.0
    imported: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return imported


def test_a_whole_single_grading_run_imports_no_table_library(tmp_path: Path) -> None:
    # Each library imported, and whether the summary imported it: none was imported at all.
    assert _whole_run_imports(tmp_path, TABLE_LIBRARIES) == {}


def test_a_run_without_a_progress_bar_imports_no_client_or_bar_it_does_not_use(tmp_path: Path) -> None:
    """The command line's reachability probe uses the standard library's HTTP client (httpx would bring its own
    command line tool, pygments), and a run with no bar to show (--no-progress, a log) does not import tqdm."""
    assert _whole_run_imports(tmp_path, ("httpx", "pygments", "tqdm")) == {}


def test_the_bradley_terry_function_survives_its_module_being_imported() -> None:
    # The function shares its module's name and is imported on first use: importing the module (as battle_ranking
    # does) must not leave the module where the function is expected.
    import judgebench.stats
    import judgebench.stats.battle_ranking
    from judgebench.stats import bradley_terry
    from judgebench.stats.bradley_terry import bradley_terry as the_function

    assert bradley_terry is the_function and judgebench.stats.bradley_terry is the_function


def test_a_run_from_python_loads_no_http_client_it_does_not_use() -> None:
    """A run from Python (``evaluate``: a notebook's, a benchmark's) sends its requests with aiohttp: httpx (which
    the SDK transport uses) is not imported, nor the command line tool its package loads (pygments)."""
    script = ("import json, sys\nfrom judgebench.run.evaluate import evaluate  # noqa: F401\n"
              "from judgebench.clients.endpoints import check_reachable  # noqa: F401\n"
              "print(json.dumps(sorted(m for m in ('httpx', 'pygments') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
