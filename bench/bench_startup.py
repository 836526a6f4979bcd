"""Start-up cost of the command line: wall time and peak memory (max RSS) of `judgebench --help`, `judgebench
tasks`, `judgebench run --help`, `python -c "import judgebench"` and `import judgebench.run.evaluate` (what a run
imports before its first request), each in a fresh process, several times, medians reported. Goal (issue 19):
`--help` and `tasks` under 0.3 s and 80 MB.

A fully cached rerun (issue 23): `judgebench run --task FILE --answers FILE --judge stub@URL#json` on 8,000 single-
grading items (bench/stub_server.py as the judge), run once to fill the cache, then again, every request from the
cache, timed as a whole process (start-up, task load, every judgment, records, statistics). Goal: under 1.5 s. With
`--against`, the two trees' summary.json must be byte-identical (the same numbers), and the bench says so.

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
    # What `judgebench run` imports before its first request (issue 23; the goal above is for the lines before).
    "import judgebench.run.evaluate": ["-c", "import judgebench.run.evaluate"],
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


CACHED_ITEMS = 8000
CACHED_GOAL_S = 1.5


def _cached_inputs(folder: Path, n_items: int) -> tuple[Path, Path]:
    """A single-grading task of ``n_items`` one-turn items and a FastChat answers file for it."""
    lines = ["name: bench-cached", "kind: single", "judge:", "  prompt: single.jinja", "  scale: [1, 10]",
             "  max_tokens: 32", "items:"]
    for i in range(n_items):
        lines += [f"  - id: q{i}", "    category: writing", "    turns:",
                  f"      - 'Question {i}: write two sentences about the number {i}.'"]
    task = folder / "task.yaml"
    task.write_text("\n".join(lines) + "\n")
    answers = folder / "bench-model.jsonl"
    with answers.open("w") as out:
        for i in range(n_items):
            out.write(json.dumps({"question_id": f"q{i}", "model_id": "bench-model", "choices": [
                {"index": 0, "turns": [f"An answer to q{i}, in two sentences."]}]}) + "\n")
    return task, answers


def cached_rerun(sources: dict[str, Path], n_items: int = CACHED_ITEMS, repeats: int = 3) -> dict[str, object]:
    """Each source's first run (filling its cache), then ``repeats`` cached reruns alternating between sources:
    medians of wall, CPU and max RSS, and whether the summaries agree byte for byte."""
    import tempfile

    sys.path.insert(0, str(ROOT / "bench"))
    from stub_server import running_stub

    folder = Path(tempfile.mkdtemp(prefix="jb-cached-rerun-"))
    task, answers = _cached_inputs(folder, n_items)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sources}
    summaries: dict[str, bytes] = {}
    with running_stub() as url:
        def args(name: str, run_id: str) -> list[str]:
            return ["-c", SCRIPT, "run", "--task", str(task), "--answers", str(answers), "--judge", f"stub@{url}#json",
                    "--concurrency", "64", "--out", str(folder / name), "--run-id", run_id, "--no-progress"]

        for name, source in sources.items():
            measure_once(args(name, "first"), source)
        for k in range(repeats):
            for name, source in sources.items():
                samples[name].append(measure_once(args(name, f"cached{k}"), source))
                summaries[name] = (folder / name / f"cached{k}" / "summary.json").read_bytes()
    found: dict[str, object] = {
        "n_judgments": n_items, "goal_s": CACHED_GOAL_S,
        **{name: {"wall_s": round(statistics.median(w for w, _, _ in runs), 3),
                  "cpu_s": round(statistics.median(c for _, c, _ in runs), 3),
                  "max_rss_mb": round(statistics.median(r for _, _, r in runs), 1)}
           for name, runs in samples.items()}}
    if len(sources) > 1:
        found["summary_json_identical"] = len(set(summaries.values())) == 1
    return found


def main(against: Path | None = None, repeats: int = REPEATS, cached: bool = True) -> dict[str, object]:
    sources = {"this": ROOT, **({"against": against.resolve()} if against else {})}
    medians = measure(sources, repeats)
    result: dict[str, object] = {"repeats": repeats, "load_average_1min": round(os.getloadavg()[0], 1),
                                 "cpus": os.cpu_count(), "goal": {"wall_s": GOAL_WALL_S, "max_rss_mb": GOAL_RSS_MB},
                                 **medians}
    if against:
        result["ratio_against_over_this"] = {
            command: {key: round(medians["against"][command][key] / value, 1) for key, value in figures.items()}
            for command, figures in medians["this"].items()}
    if cached:
        rerun = cached_rerun(sources)
        if against:
            this, other = rerun["this"], rerun["against"]
            assert isinstance(this, dict) and isinstance(other, dict)
            rerun["ratio_against_over_this"] = {key: round(other[key] / value, 2) for key, value in this.items()}
        result[f"cached_rerun_{CACHED_ITEMS}"] = rerun
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another source tree to compare with (e.g. an older commit)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-cached", action="store_true", help="leave out the cached rerun (it needs the stub)")
    options = parser.parse_args()
    print(json.dumps(main(options.against, options.repeats, not options.no_cached), indent=2))
