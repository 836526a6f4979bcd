"""Personal profiles end to end against the real embedded llama.cpp server (SmolLM2-135M-Instruct): `run --profile`
then `personal` against an arena database of votes. No mocks; kept short (two items). `rubric-report` on a panel's
real verdicts is tested with the rubric run in test_rubric_integration.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from judgebench.arena import store
from judgebench.formats.arena_db import BattleRow
from judgebench.tasks import load_task

pytestmark = pytest.mark.integration

ITEMS = ("writing-1", "roleplay-1")
# Two answerers of our own writing: one plain and short, one padded with filler.
ANSWERS = {
    "plain-bot": ["Thank you for watering my plants while I was away.", "Dear landlord, thank you kindly."],
    "padded-bot": ["Well, so, basically, um, you know, in general, thanks I guess for the plants and all that.",
                   "So, well, basically, dear landlord, um, thanks and so on and so forth, you know."],
}
PROFILE = "name: ana\nvalues:\n  - Is short and plain\ndislikes:\n  - {text: Is padded with filler words, weight: 2}\n"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


def _answers(tmp_path: Path) -> list[Path]:
    paths = []
    for model, turns in ANSWERS.items():
        path = tmp_path / f"{model}.jsonl"
        path.write_text("".join(json.dumps({"question_id": item, "model_id": model,
                                            "choices": [{"index": 0, "turns": turns}]}) + "\n" for item in ITEMS))
        paths.append(path)
    return paths


def _arena(path: Path) -> Path:
    task = {i.id: i for i in load_task("sample-mt").items}
    conn = store.open_db(path, benchmark=load_task("sample-mt").benchmark, task="sample-mt")
    moment = datetime(2026, 1, 5, tzinfo=timezone.utc)
    try:
        voter = store.voter_for_token(conn, store.add_voter(conn, "ana"))
        assert voter is not None
        for n, item in enumerate(ITEMS):
            moment += timedelta(minutes=1)
            turns = task[item].turns
            battle = BattleRow(f"b{n}", voter.id, item, task[item].category, turns, "plain-bot", "padded-bot",
                               tuple(ANSWERS["plain-bot"][: len(turns)]), tuple(ANSWERS["padded-bot"][: len(turns)]),
                               store.timestamp(moment))
            with store.immediate(conn):
                store.insert_battle(conn, battle)
            store.record_vote(conn, voter, battle.id, "A", None, None, moment)  # ana prefers the plain answer
    finally:
        conn.close()
    return path


def test_profile_run_and_personal_report_on_the_embedded_model(tmp_path: Path) -> None:
    out, profile = tmp_path / "results", tmp_path / "ana.yaml"
    profile.write_text(PROFILE)
    for answers in _answers(tmp_path):
        for extra in (("--profile", str(profile)), ()):  # the profile's judge, then the generic grader
            run = cli("run", "--task", "sample-mt", "--answers", str(answers), "--judge", "local#json", "--limit",
                      "2", "--out", str(out), *extra, cwd=tmp_path)
            assert run.returncode == 0, run.stderr + run.stdout
    db = _arena(tmp_path / "arena.db")
    report = cli("personal", "--votes", str(db), "--voter", "ana", "--profile", str(profile), "--json",
                 "--bootstrap", "100", str(out), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    shown = json.loads(report.stdout)
    protocols = {row["protocol"]: row for row in shown["agreement"]}
    assert set(protocols) == {"profile-ana", "sample-mt"}
    assert protocols["profile-ana"]["n_votes"] == 2 and protocols["sample-mt"]["n_votes"] == 2
    (diff,) = shown["differences"]
    assert diff["difference"] == pytest.approx(protocols["profile-ana"]["agreement"] -
                                               protocols["sample-mt"]["agreement"])
