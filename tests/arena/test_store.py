"""The arena's SQLite store and its scheduling: real SQLite files in tmp_path."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from judgebench.arena import hygiene, store
from judgebench.arena.issue import next_battle
from judgebench.arena.pool import Pool
from judgebench.errors import ConfigError, DataError
from judgebench.judging.schedule import pair_of

from .conftest import invite

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def voter(db: Path, name: str) -> store.Voter:
    token = invite(db, name)
    conn = store.open_db(db)
    found = store.voter_for_token(conn, token)
    conn.close()
    assert found is not None and found.name == name
    return found


def test_tokens_are_stored_hashed_and_never_in_the_file(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    store.open_db(db, pool.benchmark, pool.task_name).close()
    token = invite(db, "alice")
    conn = store.open_db(db)
    assert store.voter_for_token(conn, token) == store.Voter(1, "alice")
    assert store.voter_for_token(conn, token + "x") is None
    stored = conn.execute("SELECT token_sha256 FROM voters").fetchone()[0]
    conn.close()
    import hashlib

    assert stored == hashlib.sha256(token.encode()).hexdigest()
    for path in tmp_path.iterdir():  # the database and its WAL: nowhere the token itself
        assert token.encode() not in path.read_bytes()


def test_reusing_a_database_for_another_benchmark_is_a_one_line_error(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    store.open_db(db, pool.benchmark, pool.task_name).close()
    with pytest.raises(ConfigError, match="holds votes on benchmark 'mt-bench', not 'alpaca-eval'") as caught:
        store.open_db(db, "alpaca-eval", "alpaca-eval-2")
    assert "\n" not in str(caught.value)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(DataError, match="not an arena's"):
        store.open_db(other, pool.benchmark, pool.task_name)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="not an arena database"):
        store.open_db(garbage, pool.benchmark, pool.task_name)


def test_revoked_voters_are_refused(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    store.open_db(db, pool.benchmark, pool.task_name).close()
    token = invite(db, "bob")
    conn = store.open_db(db)
    session = store.new_session(conn, store.Voter(1, "bob"))
    store.revoke_voter(conn, "bob")
    assert store.voter_for_token(conn, token) is None
    assert store.voter_for_session(conn, session) is None
    with pytest.raises(ConfigError):
        store.add_voter(conn, "")


def test_pairs_are_covered_evenly_and_no_voter_sees_an_item_and_pair_twice(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    conn = store.open_db(db, pool.benchmark, pool.task_name)
    voters = [voter(db, f"v{i}") for i in range(3)]
    rng = np.random.default_rng(1)
    n_pairs = len(pool.pairs())
    issued = []
    # Issue one battle each, then vote, round after round: counts include pending battles, so the first
    # n_pairs battles cover every pair once.
    for round_ in range(12):
        for v in voters:
            battle = next_battle(conn, v, pool, rng, NOW + timedelta(seconds=round_))
            issued.append(battle)
            store.record_vote(conn, v, battle.id, "A" if round_ % 2 else "tie", None, None, NOW)
    regular = [b for b in issued if b.check_of is None]
    first = Counter(pair_of(b.model_a, b.model_b) for b in regular[:n_pairs])
    assert sorted(first) == sorted(pool.pairs()) and set(first.values()) == {1}
    for v in voters:
        seen = [(b.item_id, pair_of(b.model_a, b.model_b)) for b in regular if b.voter_id == v.id]
        assert len(seen) == len(set(seen))
    sides = Counter(b.model_a for b in regular)
    assert len(sides) == len(pool.models)  # sides are drawn: every model shows up on the left


def test_consistency_checks_repeat_a_voted_battle_with_sides_swapped(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    conn = store.open_db(db, pool.benchmark, pool.task_name)
    v = voter(db, "carol")
    rng = np.random.default_rng(3)
    battles = []
    for i in range(64):  # 6 pairs x 12 items = 72 new battles: the regular ones never run out
        battle = next_battle(conn, v, pool, rng, NOW + timedelta(seconds=i))
        battles.append(battle)
        store.record_vote(conn, v, battle.id, "A", None, None, NOW)
    checks = [b for b in battles if b.check_of is not None]
    by_id = {b.id: b for b in battles}
    # No repeat before CHECKS_AFTER votes, nor before a battle has CHECK_GAP after it (the later of the two).
    assert all(b.check_of is None for b in battles[: max(hygiene.CHECKS_AFTER, hygiene.CHECK_GAP + 1)])
    # About one in CHECK_EVERY after that: 58 draws at 1/8 -> 7.25 expected, sd 2.5; 1..15 is beyond 2.5 sd.
    assert 1 <= len(checks) <= 15
    for check in checks:
        original = by_id[check.check_of]
        assert (check.model_a, check.model_b) == (original.model_b, original.model_a)
        assert (check.answer_a, check.answer_b) == (original.answer_b, original.answer_a)
        assert check.questions == original.questions and check.item_id == original.item_id
    assert len({c.check_of for c in checks}) == len(checks)  # each battle repeated once at most


def test_the_pending_battle_is_served_again_and_votes_are_refused_where_they_must_be(tmp_path: Path,
                                                                                    pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    conn = store.open_db(db, pool.benchmark, pool.task_name)
    alice, bob = voter(db, "alice"), voter(db, "bob")
    rng = np.random.default_rng(0)
    battle = next_battle(conn, alice, pool, rng, NOW)
    assert next_battle(conn, alice, pool, rng, NOW).id == battle.id
    with pytest.raises(store.BattleNotFound):
        store.record_vote(conn, bob, battle.id, "A", None, None, NOW)
    store.record_vote(conn, alice, battle.id, "B", "clearer", 1, NOW)
    with pytest.raises(store.AlreadyVoted):
        store.record_vote(conn, alice, battle.id, "A", None, 1, NOW)
    second = next_battle(conn, alice, pool, rng, NOW + timedelta(days=1))
    with pytest.raises(store.OverDailyCap, match="cap"):
        store.record_vote(conn, alice, second.id, "A", None, 1, NOW + timedelta(hours=1))
    with pytest.raises(store.OverDailyCap):
        next_battle(conn, alice, pool, rng, NOW, cap=1)
    store.record_vote(conn, alice, second.id, "A", None, 1, NOW + timedelta(days=1))  # a new UTC day
    conn.close()
    votes = store.read_votes(db)
    assert [(v.voter, v.winner, v.reason) for v in votes] == [("alice", "B", "clearer"), ("alice", "A", None)]
    assert votes[0].model_a == battle.model_a and votes[0].turn == len(battle.questions) == 2


def test_every_battle_is_used_up_then_no_battle_left(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    conn = store.open_db(db, pool.benchmark, pool.task_name)
    v = voter(db, "dave")
    rng = np.random.default_rng(5)
    total = sum(len(pool.shared_items(pair)) for pair in pool.pairs())
    regular = 0
    with pytest.raises(store.NoBattleLeft):
        for i in range(total * 2):
            battle = next_battle(conn, v, pool, rng, NOW + timedelta(seconds=i))
            regular += battle.check_of is None
            store.record_vote(conn, v, battle.id, "tie", None, None, NOW)
    assert regular == total


def test_a_repeat_comes_check_gap_battles_or_more_after_its_original(tmp_path: Path, pool: Pool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Every battle that may be a repeat is one (CHECK_EVERY = 1: the draw `random() >= 1` never declines).
    monkeypatch.setattr(hygiene, "CHECK_EVERY", 1)
    db = tmp_path / "a.sqlite"
    conn = store.open_db(db, pool.benchmark, pool.task_name)
    v = voter(db, "heidi")
    rng = np.random.default_rng(11)
    battles = []
    for _ in range(30):
        battle = next_battle(conn, v, pool, rng, NOW)  # one timestamp for all: the order is the insertion order
        battles.append(battle)
        store.record_vote(conn, v, battle.id, "A", None, None, NOW)
    position = {b.id: i for i, b in enumerate(battles)}
    checks = [(i, b) for i, b in enumerate(battles) if b.check_of is not None]
    assert len(checks) >= 5
    # The first battle has CHECK_GAP battles after it once CHECK_GAP + 1 have been issued: the first repeat is the
    # next one, and no repeat has fewer than CHECK_GAP battles between it and its original.
    assert checks[0][0] == hygiene.CHECK_GAP + 1 and checks[0][1].check_of == battles[0].id
    for i, check in checks:
        assert i - position[check.check_of] - 1 >= hygiene.CHECK_GAP
