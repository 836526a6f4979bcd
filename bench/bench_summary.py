"""The statistics at the end of a run alone (evaluate's summary: score rows and diagnostics) on a ColumnStore of N
single-grading judgments of one judge: wall and CPU time, tracemalloc peak and the peak RSS the step adds, each
in a fresh process, medians of several.

Paths: ``run`` is what this tree's `judgebench run` does (the columns path where the run qualifies: analysis.
run_summary), ``frame`` the judgments frame, score_rows and diagnose (main's run path before the columns path).
``--against DIR`` measures another source tree's run path the same way, alternating, and checks the two give the
same summary (rows and diagnostics as JSON, byte for byte). Shapes: ``whole`` (whole grades, one turn, as the
cached-rerun bench) and ``fractional`` (any float grade and two turns: the compensated sums pandas' groupby mean
makes, the slowest case)."""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")


def build_store(n: int, shape: str) -> Any:
    import numpy as np

    from judgebench.formats.table import ColumnStore, judgment_row
    from judgebench.types import AnswerTraits, Failure, Grade, Judgment, JudgmentId

    rng = np.random.default_rng(0)
    turns = 2 if shape == "fractional" else 1
    store = ColumnStore()
    for position in rng.permutation(n):
        item, turn = divmod(int(position), turns)
        identity = JudgmentId("bench", "bench-cached", "stub#json", "bench-model", None, f"q{item}", turn + 1)
        category = CATEGORIES[item % len(CATEGORIES)]
        if position % 97 == 0:
            judgment = Judgment(identity, "single", category, failure=Failure("parse", "no grade"), scale=(1, 10),
                                answer=AnswerTraits(40))
        else:
            score = float(rng.integers(1, 11)) if shape == "whole" else float(1 + 9 * rng.random())
            judgment = Judgment(identity, "single", category, Grade(score), scale=(1, 10), answer=AnswerTraits(40))
        store.append(judgment_row(judgment))
    return store


def summarize(store: Any, path: str, n_bootstrap: int) -> tuple[Any, Any]:
    from judgebench.analysis.diagnostics import diagnose
    from judgebench.analysis.records import canonical_frame
    from judgebench.analysis.scores import score_rows

    if path == "run":
        try:
            from judgebench.analysis.run_summary import summarized_by_columns, table_summary
        except ImportError:  # a tree without the columns path: its run path is the frame's
            pass
        else:
            if summarized_by_columns(store):
                return table_summary(store, n_bootstrap)
    frame = canonical_frame(store, "bench")
    return tuple(score_rows(frame, n_bootstrap)), diagnose(frame)


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(n: int, shape: str, path: str, n_bootstrap: int) -> dict[str, Any]:
    store = build_store(n, shape)
    summarize(build_store(200, shape), path, n_bootstrap)  # imports and first calls, outside the measurement
    gc.collect()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:  # the peak RSS from now on (Linux)
        refs.write("5")
    wall, cpu = time.perf_counter(), time.process_time()
    rows, diagnostics = summarize(store, path, n_bootstrap)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_added = _status("VmHWM") - before
    text = json.dumps({"rows": [asdict(r) for r in rows], "diagnostics": diagnostics.to_json()})
    del rows, diagnostics
    gc.collect()
    tracemalloc.start()
    summarize(store, path, n_bootstrap)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"wall_s": wall, "cpu_s": cpu, "rss_added_mb": rss_added, "tracemalloc_peak_mb": peak,
            "summary_sha256": hashlib.sha256(text.encode()).hexdigest()}


def measure_once(source: Path, n: int, shape: str, path: str, n_bootstrap: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(source)
    found = subprocess.run([sys.executable, __file__, "--child", str(n), shape, path, str(n_bootstrap)],
                           cwd=source, env=env, capture_output=True, text=True)
    if found.returncode:
        raise RuntimeError(found.stderr[-2000:])
    result: dict[str, Any] = json.loads(found.stdout)
    return result


def main(n: int, shapes: list[str], against: Path | None, repeats: int, n_bootstrap: int) -> dict[str, Any]:
    cases = {"this run": (ROOT, "run"), "this frame": (ROOT, "frame"),
             **({"against run": (against.resolve(), "run")} if against else {})}
    report: dict[str, Any] = {"n_judgments": n, "n_bootstrap": n_bootstrap, "repeats": repeats,
                              "load_average_1min": round(os.getloadavg()[0], 1)}
    for shape in shapes:
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
        for _ in range(repeats):  # alternating: a machine that gets busier slows every case alike
            for name, (source, path) in cases.items():
                samples[name].append(measure_once(source, n, shape, path, n_bootstrap))
        medians = {name: {key: round(statistics.median(s[key] for s in runs), 3)
                          for key in ("wall_s", "cpu_s", "rss_added_mb", "tracemalloc_peak_mb")}
                   for name, runs in samples.items()}
        found: dict[str, Any] = dict(medians)
        found["summaries_identical"] = len({s["summary_sha256"] for runs in samples.values() for s in runs}) == 1
        for other in [name for name in cases if name != "this run"]:
            found[f"ratio {other} / this run"] = {key: round(value / medians["this run"][key], 2)
                                                  if medians["this run"][key] else None
                                                  for key, value in medians[other].items()}
        report[shape] = found
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--shapes", default="whole,fractional")
    parser.add_argument("--against", type=Path, help="another source tree (e.g. a worktree of main)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=1000, help="the score rows' resamples (run's default)")
    options = parser.parse_args()
    print(json.dumps(main(options.n, options.shapes.split(","), options.against, options.repeats,
                          options.bootstrap), indent=2))
