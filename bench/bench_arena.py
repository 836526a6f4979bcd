"""The human arena under load: 20 voters at once, each with its own token, over loopback against the real
`judgebench arena serve` (a subprocess) on real MT-Bench answers of four models (all 80 questions). Each vote is a
GET /api/battle (which schedules a battle under the database's write lock) then a POST /api/vote (which records
it under the lock). Reported: votes per second over the whole run, and the p50/p95 latency of each request and of
a whole vote (both requests).

    python bench/bench_arena.py   (needs ../shared/data, or JUDGEBENCH_SHARED_DATA)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

from judgebench.arena import store
from judgebench.judging.schedule import pair_of

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("JUDGEBENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))
MODELS = ["gpt-4", "claude-v1", "vicuna-13b-v1.3", "alpaca-13b"]
N_VOTERS = 20
VOTES_EACH = 30


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    task = work / "mt.yaml"
    data = SHARED / "mt_bench"
    task.write_text(f"include: mt-bench.yaml\nsource:\n  path: {data}/question.jsonl\n"
                    f"  references: {{path: {data}/reference_answer/gpt-4.jsonl}}\n")
    db, log = work / "arena.sqlite", work / "serve.log"
    answers = [a for m in MODELS for a in ("--answers", str(data / "model_answer" / f"{m}.jsonl"))]
    process = subprocess.Popen([sys.executable, "-m", "judgebench.cli", "arena", "serve", "--task", str(task),
                                *answers, "--db", str(db), "--port", "0", "--max-votes-per-day", "100000"],
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                               env={**os.environ, "PYTHONPATH": str(ROOT), "JUDGEBENCH_ALLOW_PATH": str(SHARED)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"serving (http://\S+)/", log.read_text())
        if found:
            return process, found.group(1), db
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"arena serve did not start: {log.read_text()}")


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-arena-") as tmp:
        process, base, db = start_server(Path(tmp))
        try:
            conn = store.open_db(db)
            tokens = [store.add_voter(conn, f"voter{i:02d}") for i in range(N_VOTERS)]
            conn.close()
            gets: list[float] = []
            posts: list[float] = []
            failures: Counter[int] = Counter()
            lock = threading.Lock()
            barrier = threading.Barrier(N_VOTERS + 1)

            def voter(token: str) -> None:
                with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                    barrier.wait()
                    for n in range(VOTES_EACH):
                        t0 = time.perf_counter()
                        shown = client.get("/api/battle")
                        t1 = time.perf_counter()
                        reply = client.post("/api/vote", json={"battle_id": shown.json()["battle_id"],
                                                               "winner": ["A", "B", "A", "tie"][n % 4]})
                        t2 = time.perf_counter()
                        with lock:
                            gets.append(t1 - t0)
                            posts.append(t2 - t1)
                            if reply.status_code != 200:
                                failures[reply.status_code] += 1

            threads = [threading.Thread(target=voter, args=(t,)) for t in tokens]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        votes = store.read_votes(db)
    spread = Counter(pair_of(v.model_a, v.model_b) for v in votes if v.check_of is None)
    whole = np.array(gets) + np.array(posts)

    def ms(values: list[float] | np.ndarray, q: float) -> float:
        return round(float(np.percentile(values, q)) * 1000, 1)

    return {
        "voters": N_VOTERS, "votes": len(votes), "refused": dict(failures), "seconds": round(elapsed, 2),
        "votes_per_s": round(len(votes) / elapsed, 1),
        "battle_p50_ms": ms(gets, 50), "battle_p95_ms": ms(gets, 95),
        "vote_p50_ms": ms(posts, 50), "vote_p95_ms": ms(posts, 95),
        "battle_plus_vote_p50_ms": ms(whole, 50), "battle_plus_vote_p95_ms": ms(whole, 95),
        "consistency_checks": sum(v.check_of is not None for v in votes),
        "pair_spread": {" vs ".join(pair): n for pair, n in sorted(spread.items())},
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
