"""`make bench`: every benchmark, results printed and saved to bench/out/results.json.

`--stats-only` skips the runner, transport, judgment path, server start-up, llama.cpp slots, default run, arena and
Ray engine benchmarks (they need stub or embedded servers, judgebench[ray] for the last, and several minutes)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_arena
import bench_batch
import bench_battles
import bench_default_run
import bench_judgment_path
import bench_llamacpp_slots
import bench_pipeline
import bench_plan
import bench_prefix_order
import bench_rubric
import bench_rubric_quality
import bench_rubric_sources
import bench_serve
import bench_startup
import bench_stats
import bench_summary
import bench_templates
import bench_transport
import bench_viewer


def main() -> None:
    results = {"alpaca_eval_2_leaderboard": bench_stats.main()}
    print(json.dumps(results, indent=2), flush=True)
    # The cached rerun starts the stub: not with --stats-only.
    results["cli_startup"] = bench_startup.main(cached="--stats-only" not in sys.argv)
    print(json.dumps(results["cli_startup"], indent=2), flush=True)
    # A run's statistics alone on 100,000 judgments: from its columns (numpy) against the judgments frame.
    results["run_summary_100k"] = bench_summary.main(100_000, ["whole", "fractional"], None, 3, 1000)
    print(json.dumps(results["run_summary_100k"], indent=2), flush=True)
    results["bradley_terry_styled_vs_raw"] = bench_battles.main()
    print(json.dumps(results["bradley_terry_styled_vs_raw"], indent=2), flush=True)
    results["dry_run_vs_render_all"] = bench_plan.main()
    print(json.dumps(results["dry_run_vs_render_all"], indent=2), flush=True)
    results["template_budget"] = bench_templates.main()
    print(json.dumps(results["template_budget"], indent=2), flush=True)
    results["site_viewer_100k"] = bench_viewer.main()
    print(json.dumps(results["site_viewer_100k"], indent=2), flush=True)
    results["rubric_tables_healthbench_size"] = bench_rubric.main()
    print(json.dumps(results["rubric_tables_healthbench_size"], indent=2), flush=True)
    results["rubric_sources"] = bench_rubric_sources.main()
    print(json.dumps(results["rubric_sources"], indent=2), flush=True)
    results["rubric_report_3000_criteria"] = bench_rubric_quality.main()
    print(json.dumps(results["rubric_report_3000_criteria"], indent=2), flush=True)
    if "--stats-only" not in sys.argv:
        results["pipeline"] = bench_pipeline.main()
        print(json.dumps(results["pipeline"], indent=2))
        results["prefix_order_on_a_simulated_prefix_cache"] = bench_prefix_order.main(window=1)
        print(json.dumps(results["prefix_order_on_a_simulated_prefix_cache"], indent=2))
        results["lean_transport_vs_sdk_loop"] = bench_transport.main()
        print(json.dumps(results["lean_transport_vs_sdk_loop"], indent=2))
        results["judgment_path_vs_aiohttp_loop"] = bench_judgment_path.main()
        print(json.dumps(results["judgment_path_vs_aiohttp_loop"], indent=2))
        results["batch_bookkeeping_vs_direct"] = bench_batch.main()
        print(json.dumps(results["batch_bookkeeping_vs_direct"], indent=2))
        results["serve_startup"] = bench_serve.main()
        print(json.dumps(results["serve_startup"], indent=2))
        results["llamacpp_slots"] = bench_llamacpp_slots.main()
        print(json.dumps(results["llamacpp_slots"], indent=2))
        results["default_run_cold_and_cached"] = bench_default_run.main()
        print(json.dumps(results["default_run_cold_and_cached"], indent=2))
        if importlib.util.find_spec("starlette") is not None:  # judgebench[arena]
            results["arena_20_voters"] = bench_arena.main()
            print(json.dumps(results["arena_20_voters"], indent=2))
        if importlib.util.find_spec("ray") is not None:  # judgebench[ray]
            import bench_ray

            results["ray_engine_vs_local_runner"] = bench_ray.main(n=4096)
            print(json.dumps(results["ray_engine_vs_local_runner"], indent=2))
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
