"""Preference profiles: the YAML read with file:line errors, turned into a rubric over any task's items, judged in
the real pipeline (in-process fake model), and compared with a voter's arena votes beside the generic judge; the
command line and the library give the same numbers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from judgebench.analysis.personal import personal_report, voter_votes
from judgebench.analysis.records import read_judgments
from judgebench.arena import store
from judgebench.cli import main
from judgebench.errors import DataError, TaskError
from judgebench.formats.arena_db import BattleRow
from judgebench.formats.labels import read_labels
from judgebench.judging.kinds import KINDS
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.tasks.profile import apply_profile, load_profile
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script

PROFILE = """\
name: ana
values:
  - Answers in plain words
  - {text: Comes to the point at once, weight: 2}
dislikes:
  - {text: Pads the answer with filler, weight: 3}
"""
ANSWER = {"a": "ZQX-ONE answer", "b": "ZQX-TWO answer"}


def _profile(tmp_path: Path, text: str = PROFILE) -> Path:
    path = tmp_path / "ana.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_profile_becomes_a_rubric_over_any_task(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path))
    assert [(p.text, p.weight) for p in profile.values] == [("Answers in plain words", 1.0),
                                                             ("Comes to the point at once", 2.0)]
    for name in ("sample-mt", "sample-pairwise", "sample-battles"):
        task = load_task(name)
        judged = apply_profile(task, profile)
        assert judged.kind == "rubric" and judged.protocol == "profile-ana" and judged.benchmark == task.benchmark
        assert [i.id for i in judged.items] == [i.id for i in task.items]
        criteria = judged.items[0].criteria
        assert [(c.id, c.points, c.tags, c.scope) for c in criteria] == [
            ("value-1", 1.0, ("value",), "task"), ("value-2", 2.0, ("value",), "task"),
            ("dislike-1", -3.0, ("dislike",), "task")]
        assert criteria[0].source.endswith("ana.yaml:3")
        KINDS["rubric"].check(judged, name)  # the kind accepts it as one of its own tasks


@pytest.mark.parametrize(("text", "error"), [
    ("name: ana\ndislikes: [Rambles]\n", r"ana.yaml:1: a profile needs at least one line under values"),
    ("values:\n  - {text: Short, weight: 0}\n", r"ana.yaml:2: weight must be a number above 0"),
    ("values: [Short]\nlikes: [x]\n", r"ana.yaml:2: unknown field 'likes'"),
    ("values:\n  - Short\n  - short\n", r"ana.yaml:3: 'short' is already at .*ana.yaml:2"),
    ("name: a b\nvalues: [Short]\n", r"ana.yaml:1: a profile's name"),
    ("values:\n  - {text: Short, points: 2}\n", r"ana.yaml:2: unknown field 'points'"),
])
def test_bad_profiles_say_where(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(TaskError, match=error):
        load_profile(_profile(tmp_path, text))


def _reply(body: dict[str, Any]) -> str:
    """Answers: model a's and b's texts. The profile's judge: a meets both values, b pads (the dislike) and meets
    the first value only; the generic grader prefers b (8 against 3)."""
    if "response_format" not in body:
        return ANSWER[body["model"]]
    prompt = body["messages"][-1]["content"]
    properties = list(body["response_format"]["json_schema"]["schema"]["properties"])
    first = "ZQX-ONE" in prompt
    if properties[0] == "score":
        return json.dumps({"score": 3 if first else 8, "explanation": "scripted"})
    return json.dumps({"value-1": True, "value-2": first, "dislike-1": not first})


def _run(task_name: str, out: Path, profile: Path | None) -> None:
    task = load_task(task_name)
    if profile is not None:
        task = apply_profile(task, load_profile(profile))
    with fake_model(Script([("fn", _reply)])) as url:
        judge = Endpoint(provider="openai", name="judge", model="judge", base_url=url, concurrency=2)
        for name in ("a", "b"):
            model = Endpoint(provider="openai", name=name, model=name, base_url=url, concurrency=2)
            config = RunConfig(model=model, judges=(Judge("judge#json", judge, constrained=True),), out=out,
                               cache_path=out / "cache.sqlite", limit=5, progress=False)
            evaluate(task, config)


# (item, winner) of each voter's votes: ana mostly prefers a (as her profile says), once a tie; bob prefers b.
VOTES = {"ana": [("writing-1", "A"), ("roleplay-1", "A"), ("reasoning-1", "tie"), ("math-1", "A"),
                 ("coding-1", "B")],
         "bob": [("writing-1", "B"), ("roleplay-1", "B")]}


def _arena(path: Path, benchmark: str) -> Path:
    task = {i.id: i for i in load_task("sample-mt").items}
    conn = store.open_db(path, benchmark=benchmark, task="sample-mt")
    moment = datetime(2026, 1, 5, tzinfo=timezone.utc)
    try:
        for voter_name, votes in VOTES.items():
            voter = store.voter_for_token(conn, store.add_voter(conn, voter_name))
            assert voter is not None
            for n, (item, winner) in enumerate(votes):
                moment += timedelta(minutes=1)
                # Shown sides alternate: the vote names a side, the model behind it is what counts.
                a, b = ("a", "b") if n % 2 == 0 else ("b", "a")
                winner = winner if n % 2 == 0 or winner == "tie" else {"A": "B", "B": "A"}[winner]
                turns = task[item].turns
                battle = BattleRow(f"{voter_name}-{n}", voter.id, item, task[item].category, turns, a, b,
                                   tuple(ANSWER[a] for _ in turns), tuple(ANSWER[b] for _ in turns),
                                   store.timestamp(moment))
                with store.immediate(conn):
                    store.insert_battle(conn, battle)
                store.record_vote(conn, voter, battle.id, winner, None, None, moment)
    finally:
        conn.close()
    return path


@pytest.fixture(scope="module")
def personal_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("personal")
    profile = _profile(base)
    out = base / "results"
    _run("sample-mt", out, profile)  # the profile's judge
    _run("sample-mt", out, None)  # the generic judge: single grades
    return out, _arena(base / "arena.db", load_task("sample-mt").benchmark), profile


def test_profile_judge_agrees_with_its_voter_better(personal_runs: tuple[Path, Path, Path]) -> None:
    out, db, _ = personal_runs
    frame = read_judgments((out,), "auto").frame
    assert set(frame["protocol"]) == {"sample-mt", "profile-ana"}
    votes = voter_votes(read_labels(db), "ana")
    report = personal_report(frame, votes, "ana", "profile-ana", n_bootstrap=200)
    rows = report.agreement.set_index("protocol")
    # From the definition: the profile's judge always prefers a, the generic one always b; ana's votes say a, a,
    # tie, a, b (by model, whatever side it was shown on).
    said = [w for _, w in VOTES["ana"]]
    profile_hits = np.array([w == "A" for w in said], dtype=float)
    generic_hits = np.array([w == "B" for w in said], dtype=float)
    assert rows.loc["profile-ana", "n_votes"] == 5 and bool(rows.loc["profile-ana", "profile"])
    assert rows.loc["profile-ana", "agreement"] == pytest.approx(profile_hits.mean())
    assert rows.loc["sample-mt", "agreement"] == pytest.approx(generic_hits.mean())
    assert rows.loc["profile-ana", "ci_low"] <= rows.loc["profile-ana", "agreement"] <= rows.loc["profile-ana",
                                                                                                  "ci_high"]
    diff = report.differences.iloc[0]
    assert diff["n_votes"] == 5 and diff["difference"] == pytest.approx((profile_hits - generic_hits).mean())
    assert diff["ci_low"] <= diff["difference"] <= diff["ci_high"]
    # bob's votes: the generic judge is his.
    bob = personal_report(frame, voter_votes(read_labels(db), "bob"), "bob", "profile-ana", n_bootstrap=0)
    assert bob.differences.iloc[0]["difference"] == pytest.approx(-1.0)


def test_cli_prints_the_same_numbers(personal_runs: tuple[Path, Path, Path]) -> None:
    out, db, profile = personal_runs
    result = CliRunner().invoke(main, ["personal", "--votes", str(db), "--voter", "ana", "--profile", str(profile),
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    frame = read_judgments((out,), "auto").frame
    library = personal_report(frame, voter_votes(read_labels(db), "ana"), "ana", "profile-ana").to_json()
    assert shown == json.loads(json.dumps(library))
    text = CliRunner().invoke(main, ["personal", "--votes", str(db), "--voter", "ana", "--profile", str(profile),
                                     str(out)])
    assert text.exit_code == 0 and "profile-ana" in text.stdout and "difference" in text.stdout


def test_unknown_voter_and_no_profile_runs(personal_runs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    out, db, profile = personal_runs
    with pytest.raises(DataError, match="no counted vote by voter 'eve'; the voters are: ana, bob"):
        voter_votes(read_labels(db), "eve")
    frame = read_judgments((out,), "auto").frame
    with pytest.raises(DataError, match="no judgment of protocol 'profile-zed'"):
        personal_report(frame, voter_votes(read_labels(db), "ana"), "ana", "profile-zed", n_bootstrap=0)
    result = CliRunner().invoke(main, ["personal", "--votes", str(db), "--voter", "eve", "--profile", str(profile),
                                       str(out)])
    assert result.exit_code != 0 and "no counted vote by voter 'eve'" in result.output
    assert "Traceback" not in result.output


def test_run_profile_option_judges_with_the_rubric(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--profile", str(profile), "--dry-run",
                                       "--model", "m@http://127.0.0.1:9/v1", "--judge", "j@http://127.0.0.1:9/v1",
                                       "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "sample-mt.profile-ana" in result.output


def test_votes_exported_as_labels_give_the_same_report(personal_runs: tuple[Path, Path, Path],
                                                        tmp_path: Path) -> None:
    """An export of the votes (pairwise labels with a voter column) reads as the arena's database does."""
    out, db, profile = personal_runs
    exported = tmp_path / "votes.csv"
    read_labels(db).to_csv(exported, index=False)
    args = ["personal", "--voter", "ana", "--profile", str(profile), "--json", str(out)]
    from_db = CliRunner().invoke(main, [args[0], "--votes", str(db), *args[1:]])
    from_csv = CliRunner().invoke(main, [args[0], "--votes", str(exported), *args[1:]])
    assert from_db.exit_code == 0 and from_csv.exit_code == 0, from_csv.output
    assert json.loads(from_db.stdout) == json.loads(from_csv.stdout)


def test_outcomes_from_pairwise_verdicts_and_scores() -> None:
    """A pairwise verdict's preference decides its battle from the model's side; two scores decide by the higher,
    equal scores tie; a failed judgment decides nothing."""
    import pandas as pd

    from judgebench.analysis.personal import judge_outcomes

    rows = [  # benchmark, protocol, judge, item, model, opponent, turn, preference, score, error
        ("b", "pw", "j", "q1", "x", "y", 1, 2.0, None, None), ("b", "pw", "j", "q2", "x", "y", 1, 1.0, None, None),
        ("b", "pw", "j", "q3", "x", "y", 1, 1.5, None, None), ("b", "pw", "j", "q4", "x", "y", 1, 2.0, None, "boom"),
        ("b", "sc", "k", "q1", "x", None, 1, None, 0.5, None), ("b", "sc", "k", "q1", "y", None, 1, None, 0.8, None),
        ("b", "sc", "k", "q2", "x", None, 1, None, 0.5, None), ("b", "sc", "k", "q2", "y", None, 1, None, 0.5, None),
    ]
    frame = pd.DataFrame(rows, columns=["benchmark", "protocol", "judge", "item_id", "model", "opponent", "turn",
                                        "preference", "score", "error"])
    found = judge_outcomes(frame)
    pair = frozenset(("x", "y"))
    assert found[("b", "pw", "j")] == {("q1", pair, 1): "x", ("q2", pair, 1): "y", ("q3", pair, 1): "tie"}
    assert found[("b", "sc", "k")] == {("q1", pair, 1): "y", ("q2", pair, 1): "tie"}


def test_profile_replaces_a_rubric_tasks_own_criteria(tmp_path: Path) -> None:
    judged = apply_profile(load_task("sample-rubric"), load_profile(_profile(tmp_path)))
    assert all([c.id for c in item.criteria] == ["value-1", "value-2", "dislike-1"] for item in judged.items)
    assert judged.protocol == "profile-ana" and judged.rubric is not None and judged.rubric.style == "points"


def test_rubric_report_without_rubric_judgments_says_so(personal_runs: tuple[Path, Path, Path]) -> None:
    out, _, _ = personal_runs
    generic = [str(p) for p in out.iterdir() if p.is_dir() and "-sample-mt-" in p.name]
    assert len(generic) == 2
    result = CliRunner().invoke(main, ["rubric-report", *generic])
    assert result.exit_code != 0 and "no rubric judgment among the inputs" in result.output
    assert "Traceback" not in result.output
