"""Start-up cost of the command line: wall time and peak memory (max RSS) of `judgebench --help`, `judgebench
tasks`, `judgebench run --help` and `python -c "import judgebench"`, each in a fresh process, several times,
medians reported. Goal (issue 19): `--help` and `tasks` under 0.3 s and 80 MB.

`--against DIR` measures a second source tree the same way, alternating with this one, and reports the ratios
(e.g. a checkout of an older commit: `git worktree add /tmp/before HEAD~3`).

Each process runs as the installed `judgebench` script does (``from judgebench.cli import main; main()``) with the
source tree first on PYTHONPATH. Bytecode is written by a warm-up run, as `pip install` compiles it: without it
every start would time the compiler, not the imports."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 7
GOAL_WALL_S = 0.3
GOAL_RSS_MB = 80.0
SCRIPT = "import sys; from judgebench.cli import main; sys.argv[0] = 'judgebench'; sys.exit(main())"
COMMANDS = {
    "judgebench --help": ["-c", SCRIPT, "--help"],
    "judgebench tasks": ["-c", SCRIPT, "tasks"],
    "judgebench run --help": ["-c", SCRIPT, "run", "--help"],
    "import judgebench": ["-c", "import judgebench"],
    # The floor: what the interpreter alone costs on this machine now (a busy machine raises every line).
    "python -c pass": ["-c", "pass"],
}


def _environment(source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(source)
    return env


def measure_once(args: list[str], source: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, max RSS in MB) of one process. The CPU time (user + system) barely moves with
    the machine's load, the wall time does: on a busy machine compare the CPU times, or the ratios."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], env=_environment(source), cwd=source,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait4 gives this child's own peak memory (getrusage(RUSAGE_CHILDREN) would give the largest child so far).
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{args} exited {process.returncode}: {stderr.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux reports KB


def _check_imported_from(source: Path) -> None:
    found = subprocess.run([sys.executable, "-c", "import judgebench; print(judgebench.__file__)"], cwd=source,
                           env=_environment(source), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(source):
        raise RuntimeError(f"{source}: judgebench is imported from {found} instead, the comparison would be wrong")


def measure(sources: dict[str, Path], repeats: int = REPEATS) -> dict[str, dict[str, dict[str, float]]]:
    """Per source and command: median wall and RSS. Sources alternate inside each repeat, so a machine that gets
    busier during the benchmark slows both alike."""
    samples: dict[str, dict[str, list[tuple[float, float, float]]]] = {s: {c: [] for c in COMMANDS} for s in sources}
    for source in sources.values():  # warm-up: writes the bytecode, and checks which tree is imported
        _check_imported_from(source)
        for args in COMMANDS.values():
            measure_once(args, source)
    for _ in range(repeats):
        for command, args in COMMANDS.items():
            for name, source in sources.items():
                samples[name][command].append(measure_once(args, source))
    return {name: {command: {"wall_s": round(statistics.median(w for w, _, _ in runs), 3),
                             "cpu_s": round(statistics.median(c for _, c, _ in runs), 3),
                             "max_rss_mb": round(statistics.median(r for _, _, r in runs), 1)}
                   for command, runs in by_command.items()}
            for name, by_command in samples.items()}


def main(against: Path | None = None, repeats: int = REPEATS) -> dict[str, object]:
    sources = {"this": ROOT, **({"against": against.resolve()} if against else {})}
    medians = measure(sources, repeats)
    result: dict[str, object] = {"repeats": repeats, "load_average_1min": round(os.getloadavg()[0], 1),
                                 "cpus": os.cpu_count(), "goal": {"wall_s": GOAL_WALL_S, "max_rss_mb": GOAL_RSS_MB},
                                 **medians}
    if against:
        result["ratio_against_over_this"] = {
            command: {key: round(medians["against"][command][key] / value, 1) for key, value in figures.items()}
            for command, figures in medians["this"].items()}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another source tree to compare with (e.g. an older commit)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    options = parser.parse_args()
    print(json.dumps(main(options.against, options.repeats), indent=2))
