"""Voters and sessions in the arena's database (real SQLite files) and through the real `judgebench arena`
commands: re-inviting a revoked voter, names that cannot rewrite a terminal line, sessions that expire."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.arena import store
from judgebench.arena.pool import Pool
from judgebench.cli import main
from judgebench.errors import ConfigError

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def conn(tmp_path: Path, pool: Pool) -> sqlite3.Connection:
    return store.open_db(tmp_path / "a.sqlite", pool.benchmark, pool.task_name)


def test_a_revoked_voter_is_invited_again_with_a_new_token(conn: sqlite3.Connection) -> None:
    first = store.add_voter(conn, "eve")
    eve = store.voter_for_token(conn, first)
    assert eve is not None
    with pytest.raises(ConfigError, match="already invited: to give them a new token, revoke") as caught:
        store.add_voter(conn, "eve")
    assert "\n" not in str(caught.value) and "arena revoke" in str(caught.value)
    store.revoke_voter(conn, "eve")
    second = store.add_voter(conn, "eve")
    assert second != first
    assert store.voter_for_token(conn, first) is None  # the old token stays dead
    assert store.voter_for_token(conn, second) == eve  # the same voter (their votes stay theirs)
    store.revoke_voter(conn, "eve")  # and revoked again, the second token dies too
    assert store.voter_for_token(conn, second) is None
    assert conn.execute("SELECT COUNT(*) FROM voters").fetchone()[0] == 1


def test_the_cli_reinvites_a_revoked_voter(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    store.open_db(db, pool.benchmark, pool.task_name).close()
    runner = CliRunner()
    first = runner.invoke(main, ["arena", "invite", "--db", str(db), "eve"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["arena", "invite", "--db", str(db), "eve"])
    assert again.exit_code == 1 and "revoke" in again.output and len(again.output.strip().splitlines()) == 1
    assert runner.invoke(main, ["arena", "revoke", "--db", str(db), "eve"]).exit_code == 0
    reinvited = runner.invoke(main, ["arena", "invite", "--db", str(db), "eve"])
    assert reinvited.exit_code == 0, reinvited.output
    old, new = first.output.strip().splitlines()[-1], reinvited.output.strip().splitlines()[-1]
    assert new.startswith("arena-") and new != old
    check = store.open_db(db)
    assert store.voter_for_token(check, old) is None and store.voter_for_token(check, new) is not None
    check.close()
    listed = runner.invoke(main, ["arena", "voters", "--db", str(db)])
    assert listed.output.startswith("eve:") and "(revoked)" not in listed.output


@pytest.mark.parametrize("name", ["eve\u202e", "\u202egnp.exe", "a\tb", "a\nb", "a\x1b[31mred", "zero\u200bwidth",
                                  "line\u2028break", "x" * (store.MAX_NAME + 1), "   "])
def test_names_with_control_or_format_characters_are_refused(conn: sqlite3.Connection, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        store.add_voter(conn, name)
    message = str(caught.value)
    assert "\n" not in message and all(c.isprintable() for c in message)
    assert conn.execute("SELECT COUNT(*) FROM voters").fetchone()[0] == 0


@pytest.mark.parametrize("name", ["Zoë", "李雷", "O'Brien", "Anna Lena", "x" * store.MAX_NAME])
def test_printable_names_of_any_script_are_accepted(conn: sqlite3.Connection, name: str) -> None:
    assert store.voter_for_token(conn, store.add_voter(conn, name)) is not None


def test_the_cli_refuses_a_bidi_name_and_escapes_one_stored_before(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "a.sqlite"
    store.open_db(db, pool.benchmark, pool.task_name).close()
    runner = CliRunner()
    refused = runner.invoke(main, ["arena", "invite", "--db", str(db), "eve\u202eevil"])
    assert refused.exit_code == 1 and "\u202e" not in refused.output
    assert "U+202E" in refused.output and len(refused.output.strip().splitlines()) == 1
    # A database written before names were checked: `arena voters` escapes the character instead of printing it.
    conn = store.open_db(db)
    conn.execute("INSERT INTO voters (name, token_sha256, created) VALUES (?, ?, ?)",
                 ("mallory\u202e", "0" * 64, store.timestamp(NOW)))
    conn.close()
    listed = runner.invoke(main, ["arena", "voters", "--db", str(db)])
    assert listed.exit_code == 0 and "\u202e" not in listed.output
    assert listed.output.startswith("mallory\\u202e:")


def test_sessions_expire_on_the_server(conn: sqlite3.Connection) -> None:
    eve = store.voter_for_token(conn, store.add_voter(conn, "eve"))
    assert eve is not None
    session = store.new_session(conn, eve, NOW)
    assert store.voter_for_session(conn, session, NOW + timedelta(days=29, hours=23)) == eve
    assert store.voter_for_session(conn, session, NOW + timedelta(days=30, seconds=1)) is None


def test_logins_prune_expired_sessions_and_keep_each_voters_newest(conn: sqlite3.Connection) -> None:
    eve = store.voter_for_token(conn, store.add_voter(conn, "eve"))
    bob = store.voter_for_token(conn, store.add_voter(conn, "bob"))
    assert eve is not None and bob is not None
    stale = store.new_session(conn, bob, NOW)
    logins = [store.new_session(conn, eve, NOW + timedelta(days=31, minutes=i)) for i in range(25)]
    rows = conn.execute("SELECT voter_id, COUNT(*) FROM sessions GROUP BY voter_id").fetchall()
    # bob's session expired and was deleted by eve's first login; eve keeps her newest MAX_SESSIONS_PER_VOTER.
    assert [tuple(row) for row in rows] == [(eve.id, store.MAX_SESSIONS_PER_VOTER)]
    later = NOW + timedelta(days=32)
    assert store.voter_for_session(conn, stale, NOW) is None
    kept = len(logins) - store.MAX_SESSIONS_PER_VOTER
    assert all(store.voter_for_session(conn, s, later) is None for s in logins[:kept])
    assert all(store.voter_for_session(conn, s, later) == eve for s in logins[kept:])
