"""Server start-up: a run that needs two servers (a model and a judge on different specs) starts them together
(``serving``: their loads overlap) instead of one after the other (``start`` twice, the way a plain loop would).
Both sides start the same two real llama.cpp servers on the embedded SmolLM2 GGUF, alternating, and the time is
from the first launch until both answer ``GET /v1/models`` with their model. One spec named twice (the model and
a judge) costs one start: the third line.

    python bench/bench_serve.py
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from judgebench.clients.backends.local import model_path
from judgebench.clients.serve import ServedSpec, parse_served, serving, start

ROUNDS = 3


def one_after_the_other(specs: list[ServedSpec], log_dir: Path) -> float:
    started = time.perf_counter()
    servers = []
    try:
        for spec in specs:
            servers.append(start(spec, log_dir=log_dir))
        return time.perf_counter() - started
    finally:
        for server in servers:
            server.stop()


def together(specs: list[ServedSpec], log_dir: Path) -> float:
    started = time.perf_counter()
    with serving(specs, log_dir=log_dir):
        return time.perf_counter() - started


def main() -> dict[str, object]:
    gguf = model_path()
    model = parse_served(f"llamacpp:{gguf}")
    judge = parse_served(f"llamacpp:{gguf} --n_ctx 2048")  # another configuration: another server
    log_dir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    sequential, overlapped, shared = [], [], []
    for _ in range(ROUNDS):
        sequential.append(one_after_the_other([model, judge], log_dir))
        overlapped.append(together([model, judge], log_dir))
        shared.append(together([model, model], log_dir))
    seq, ovl, one = (statistics.median(x) for x in (sequential, overlapped, shared))
    return {
        "servers": "llama.cpp (llama-cpp-python) on SmolLM2-135M-Instruct Q4_1, two specs",
        "rounds": ROUNDS,
        "two_servers_one_after_the_other_s": round(seq, 2),
        "two_servers_together_s": round(ovl, 2),
        "same_spec_twice_one_server_s": round(one, 2),
        "together_speedup_vs_one_after_the_other": round(seq / ovl, 2),
        "same_spec_twice_speedup_vs_two_servers_one_after_the_other": round(seq / one, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
