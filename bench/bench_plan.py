"""`run --dry-run` on AlpacaEval 2.0 (805 items, generation + both pairwise orders, two judges), against an empty
cache and against a cache holding every request, next to what every run already does before sending anything:
rendering every judge prompt once (``render_all``). The ratio says what a dry run costs in prompt renders.

Needs the public AlpacaEval files in ../shared/data (as `make bench` has them); otherwise the built-in sample."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from judgebench.clients.pricing import builtin_prices
from judgebench.judging.requests import render_all
from judgebench.run.cache import Cache
from judgebench.run.plan import plan_task, walk
from judgebench.tasks import load_task
from judgebench.types import ChatReply, ChatRequest, Endpoint, Judge, Task

ROUNDS = 3
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _task(workdir: Path) -> Task:
    outputs = SHARED / "alpaca_eval" / "results" / "gpt4_1106_preview" / "model_outputs.json"
    if not outputs.exists():
        return load_task("sample-pairwise")
    path = workdir / "ae.yaml"
    path.write_text(f"include: alpaca-eval-2-both-orders.yaml\nreference:\n  source: {{path: {outputs}}}\n",
                    encoding="utf-8")
    return load_task(str(path), allow_paths=[SHARED])


def _timed(function: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def main() -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="jb-bench-plan-"))
    task = _task(workdir)
    items = list(task.items)
    model = Endpoint(provider="openai", name="cand", model="cand", base_url="http://127.0.0.1:9/v1")
    gpt = Endpoint(provider="openai", name="gpt-4o", model="gpt-4o", base_url="https://api.openai.com/v1")
    claude = Endpoint(provider="anthropic", name="claude", model="claude-sonnet-4-20250514")
    judges = (Judge("gpt-4o", gpt), Judge("claude", claude))
    prices = builtin_prices()

    # A cache holding every request of the run: answered with a short text, stored as a run would store it.
    cache = Cache(workdir / "cache.sqlite")

    def answer(request: ChatRequest) -> ChatReply:
        reply = ChatReply("A short answer. [[A]]", "stop", 100, 20)
        cache.put(request, reply)
        return reply

    walk(task, items, model, judges, None, answer, lambda _: 1)

    render, cold, warm = [], [], []
    for _ in range(ROUNDS):
        render.append(_timed(lambda: render_all(task, items, judges))[0])
        seconds, cold_plan = _timed(lambda: plan_task(task, items, model, judges, None, lambda _: None, prices))
        cold.append(seconds)
        seconds, warm_plan = _timed(lambda: plan_task(task, items, model, judges, None, cache.get, prices))
        warm.append(seconds)
    cache.close()
    assert warm_plan.to_send == 0 and cold_plan.cached == 0 and warm_plan.cached == cold_plan.to_send
    base = statistics.median(render)
    return {"task": task.name, "n_items": len(items), "n_requests": cold_plan.to_send, "rounds": ROUNDS,
            "render_all_s": [round(x, 3) for x in render], "dry_run_empty_cache_s": [round(x, 3) for x in cold],
            "dry_run_warm_cache_s": [round(x, 3) for x in warm],
            "ratio_empty_cache_over_render_all": round(statistics.median(cold) / base, 3),
            "ratio_warm_cache_over_render_all": round(statistics.median(warm) / base, 3)}


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
