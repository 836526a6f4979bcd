"""The default run as a new user meets it: `judgebench run` with no options (the built-in sample on the embedded
llama.cpp server), after install. Cold: a fresh results directory (no cache, the server started, every answer
and judgment asked); cached: the same command again on the same directory, where every request is served from
the cache. The goal is a cold run under 2 minutes on 2 idle cores, with no failure, and a rerun that makes 0
requests.

    python bench/bench_default_run.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 120.0
LIMIT_S = 1800  # a run past this is stopped: the figure is then "over the limit", not a hang of `make bench`


def one_run(out: Path) -> dict[str, object]:
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "judgebench.cli", "run", "--out", str(out), "--no-progress"],
                              capture_output=True, text=True, timeout=LIMIT_S, env={**os.environ})
    except subprocess.TimeoutExpired:
        return {"seconds": None, "exit_status": None, "over_limit_s": LIMIT_S}
    seconds = time.perf_counter() - started
    made = re.search(r"total requests made: (\d+)", done.stdout)
    failed = re.findall(r"(\d+) of \d+ judgments failed", done.stderr)
    return {"seconds": round(seconds, 1), "exit_status": done.returncode,
            "requests_made": int(made.group(1)) if made else None,
            "failed_judgments": sum(int(n) for n in failed),
            "stderr_tail": done.stderr.strip().splitlines()[-3:] if done.returncode else []}


def main() -> dict[str, object]:
    out = Path(tempfile.mkdtemp(prefix="bench-default-run-")) / "results"
    cold = one_run(out)
    cached = one_run(out)
    cold_s = cold["seconds"]
    return {
        "command": "judgebench run (no options)", "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cold": cold, "cached": cached, "goal_s": GOAL_S,
        "cold_within_goal": isinstance(cold_s, float) and cold_s <= GOAL_S,
        "cold_vs_cached": round(cold_s / cached["seconds"], 1)
        if isinstance(cold_s, float) and isinstance(cached["seconds"], float) else None,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
