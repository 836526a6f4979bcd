"""`make bench`: every benchmark, results printed and saved to bench/out/results.json.

`--stats-only` skips the runner benchmark (which needs the embedded server and a few minutes) and the Ray engine's
(judgebench[ray]; a local Ray instance and the stub server)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_runner
import bench_stats


def main() -> None:
    results = {"alpaca_eval_2_leaderboard": bench_stats.main()}
    print(json.dumps(results, indent=2), flush=True)
    if "--stats-only" not in sys.argv:
        results["runner_vs_bare_openai_loop"] = bench_runner.main()
        print(json.dumps(results["runner_vs_bare_openai_loop"], indent=2))
        if importlib.util.find_spec("ray") is not None:  # judgebench[ray]
            import bench_ray

            results["ray_engine_vs_local_runner"] = bench_ray.main(n=4096)
            print(json.dumps(results["ray_engine_vs_local_runner"], indent=2))
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
