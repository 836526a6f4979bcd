"""Twenty voters voting at once over loopback against the real `judgebench arena serve`: 120 votes, none lost,
none counted twice, every replay refused; the schedule's spread over pairs is reported (and saved to build/)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from judgebench.arena.store import read_votes
from judgebench.judging.schedule import pair_of

from ..conftest import ROOT
from .conftest import invite
from .test_api import _start_cli, _stop

pytestmark = pytest.mark.integration

N_VOTERS = 20
VOTES_EACH = 6


def test_twenty_voters_at_once(tmp_path: Path, mt_task_file: Path, answer_files: list[Path]) -> None:
    db = tmp_path / "arena.sqlite"
    args = ["--task", str(mt_task_file), *[a for f in answer_files for a in ("--answers", str(f))], "--db", str(db),
            "--port", "0", "--max-votes-per-day", "1000"]
    process, base = _start_cli(args, tmp_path / "serve.log")
    tokens = [invite(db, f"voter{i:02d}") for i in range(N_VOTERS)]
    start = threading.Barrier(N_VOTERS)
    accepted: list[str] = []
    statuses: Counter[int] = Counter()
    replays: Counter[int] = Counter()
    issued: list[tuple[int, str]] = []
    lock = threading.Lock()

    def vote(i: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[i]}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            start.wait()
            for n in range(VOTES_EACH):
                shown = client.get("/api/battle").json()
                body = {"battle_id": shown["battle_id"], "winner": ["A", "B", "tie", "both_bad"][(i + n) % 4]}
                reply = client.post("/api/vote", json=body)
                replay = client.post("/api/vote", json=body)
                with lock:
                    issued.append((i, shown["battle_id"]))
                    statuses[reply.status_code] += 1
                    replays[replay.status_code] += 1
                    if reply.status_code == 200:
                        accepted.append(shown["battle_id"])

    try:
        threads = [threading.Thread(target=vote, args=(i,)) for i in range(N_VOTERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        _stop(process)
    votes = read_votes(db)
    assert statuses == Counter({200: N_VOTERS * VOTES_EACH})
    assert replays == Counter({409: N_VOTERS * VOTES_EACH})
    assert sorted(v.battle_id for v in votes) == sorted(accepted)  # every 200 is a row, and only those
    assert len({b for _, b in issued}) == len(issued)  # no battle issued twice
    regular = [v for v in votes if v.check_of is None]
    spread = Counter(pair_of(v.model_a, v.model_b) for v in regular)
    assert len(spread) == 6  # four models: every pair battled
    report = {"votes": len(votes), "consistency_checks": len(votes) - len(regular),
              "pair_spread": {" vs ".join(pair): n for pair, n in sorted(spread.items())}}
    print(json.dumps(report, indent=2))
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "arena-load.json").write_text(json.dumps(report, indent=2) + "\n")
