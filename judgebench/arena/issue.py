"""Which battle a voter gets next: their pending one, now and then a consistency check, else a new battle chosen
by judging.schedule (pairs covered evenly first, then where the ranking is least certain). Counts include battles
issued but not yet voted on, so voters asking at once spread over the pairs; all of it runs under the database's
write lock (``BEGIN IMMEDIATE``), so two voters never race for the same counts."""

from __future__ import annotations

import secrets
import sqlite3
from collections import Counter
from datetime import datetime

import numpy as np

from ..judging.schedule import Pair, Result, assign_items, choose_pairs, pair_of
from . import hygiene
from .pool import Pool
from .store import (
    BattleRow,
    NoBattleLeft,
    OverDailyCap,
    Voter,
    battle_from_row,
    immediate,
    insert_battle,
    pending_battle,
    timestamp,
    votes_on_day,
)

_OUTCOME = {"A": 1.0, "B": 0.0, "tie": 0.5, "both_bad": 0.5}


def next_battle(conn: sqlite3.Connection, voter: Voter, pool: Pool, rng: np.random.Generator, moment: datetime,
                cap: int | None = None) -> BattleRow:
    """The voter's pending battle, or a new one (stored before it is returned)."""
    with immediate(conn):
        if cap is not None and votes_on_day(conn, voter.id, hygiene.utc_day(moment)) >= cap:
            raise OverDailyCap(f"you have cast today's {cap} votes (the cap per voter and UTC day): "
                               "thank you, come back tomorrow")
        pending = pending_battle(conn, voter)
        if pending is not None:
            return pending
        battle = _consistency_check(conn, voter, rng, moment) or _new_battle(conn, voter, pool, rng, moment)
        insert_battle(conn, battle)
        return battle


def _consistency_check(conn: sqlite3.Connection, voter: Voter, rng: np.random.Generator,
                       moment: datetime) -> BattleRow | None:
    """About one battle in ``hygiene.CHECK_EVERY``, once the voter has voted ``hygiene.CHECKS_AFTER`` times: a
    battle they voted on, not repeated yet, with ``hygiene.CHECK_GAP`` of their battles or more issued after it
    (never the one they just saw), sides swapped."""
    # rowid: the order battles were inserted in (the table is never deleted from), even within one timestamp. The
    # voter's battle CHECK_GAP places before their newest has CHECK_GAP after it: it and older ones may be repeated.
    voted = conn.execute("SELECT b.* FROM battles b JOIN votes v ON v.battle_id = b.id WHERE b.voter_id = ? "
                         "AND b.check_of IS NULL AND b.flagged IS NULL AND NOT EXISTS "
                         "(SELECT 1 FROM battles c WHERE c.check_of = b.id) AND b.rowid <= "
                         "(SELECT rowid FROM battles WHERE voter_id = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?) "
                         "ORDER BY b.rowid", (voter.id, voter.id, hygiene.CHECK_GAP)).fetchall()
    n_votes = conn.execute("SELECT COUNT(*) FROM votes WHERE voter_id = ?", (voter.id,)).fetchone()[0]
    if n_votes < hygiene.CHECKS_AFTER or not voted or rng.random() >= 1 / hygiene.CHECK_EVERY:
        return None
    original = battle_from_row(voted[int(rng.integers(len(voted)))])
    return BattleRow(_battle_id(), voter.id, original.item_id, original.category, original.questions,
                     original.model_b, original.model_a, original.answer_b, original.answer_a, timestamp(moment),
                     original.flagged, check_of=original.id)


def _new_battle(conn: sqlite3.Connection, voter: Voter, pool: Pool, rng: np.random.Generator,
                moment: datetime) -> BattleRow:
    counts: Counter[Pair] = Counter()
    used: dict[Pair, Counter[str]] = {}
    seen: set[tuple[str, Pair]] = set()
    for row in conn.execute("SELECT voter_id, item_id, model_a, model_b FROM battles WHERE check_of IS NULL"):
        pair = pair_of(row["model_a"], row["model_b"])
        counts[pair] += 1
        used.setdefault(pair, Counter())[row["item_id"]] += 1
        if row["voter_id"] == voter.id:
            seen.add((row["item_id"], pair))
    results = [Result(row["model_a"], row["model_b"], _OUTCOME[row["winner"]]) for row in conn.execute(
        "SELECT b.model_a, b.model_b, v.winner FROM votes v JOIN battles b ON b.id = v.battle_id "
        "WHERE b.flagged IS NULL AND b.check_of IS NULL")]
    fresh = {pair: [i for i in pool.shared_items(pair) if (i, pair) not in seen] for pair in pool.pairs()}
    open_pairs = [pair for pair, items in fresh.items() if items]
    if not open_pairs:
        raise NoBattleLeft("you have voted on every battle this arena has: thank you")
    pair = choose_pairs(open_pairs, counts, results, 1, rng)[0]
    scheduled = assign_items([pair], fresh[pair], used, rng)[0]
    item = pool.items[scheduled.item_id]
    answer_a = pool.answers[scheduled.model_a][item.id]
    answer_b = pool.answers[scheduled.model_b][item.id]
    flagged = hygiene.identity_leak([*answer_a, *answer_b], [scheduled.model_a, scheduled.model_b], item.turns)
    return BattleRow(_battle_id(), voter.id, item.id, item.category, item.turns, scheduled.model_a,
                     scheduled.model_b, answer_a, answer_b, timestamp(moment), flagged)


def _battle_id() -> str:
    # Random, so an id says nothing of the models, the item or the order battles were issued in.
    return secrets.token_urlsafe(12)
