"""The arena database read as judgments (formats.arena_db): auto-detected, every counted vote one judgment,
flagged votes and consistency repeats handled as documented, the ranking from games_frame + rank_battles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.analysis.records import read_judgments
from judgebench.arena import store
from judgebench.arena.pool import Pool
from judgebench.arena.ranking import arena_ranking
from judgebench.cli import main
from judgebench.formats import detect_format, read_sources
from judgebench.stats.battle_ranking import games_frame, rank_battles
from judgebench.stats.style import answer_counts

from .conftest import invite


def battle(pool: Pool, voter_id: int, number: int, item: str, a: str, b: str, flagged: str | None = None,
           check_of: str | None = None) -> store.BattleRow:
    return store.BattleRow(f"b{number}", voter_id, item, pool.items[item].category, pool.items[item].turns, a, b,
                           pool.answers[a][item], pool.answers[b][item], f"2026-01-05T12:00:{number:02d}+00:00",
                           flagged, check_of)


@pytest.fixture
def voted_db(tmp_path: Path, pool: Pool) -> tuple[Path, list[tuple[store.BattleRow, str]]]:
    """Two voters on the same item and pair, a flagged battle, a consistency repeat."""
    db = tmp_path / "votes.sqlite"
    conn = store.open_db(db, pool.benchmark, pool.task_name)
    invite(db, "alice")
    invite(db, "bob")
    a, b, c = "gpt-4", "alpaca-13b", "claude-v1"
    plan = [
        (battle(pool, 1, 1, "81", a, b), "A"),
        (battle(pool, 2, 2, "81", a, b), "A"),          # bob, same item and pair: both count
        (battle(pool, 2, 3, "81", b, a), "B"),          # bob again, other order (his own battle): counts
        (battle(pool, 1, 4, "82", c, b), "tie"),
        (battle(pool, 1, 5, "83", b, c), "both_bad"),
        (battle(pool, 2, 6, "84", a, c), "B"),
        (battle(pool, 1, 7, "85", c, a, flagged="an answer names 'OpenAI'"), "A"),
        (battle(pool, 1, 8, "81", b, a, check_of="b1"), "B"),  # alice's repeat of b1: the same model (gpt-4)
    ]
    for row, winner in plan:
        store.insert_battle(conn, row)
        voter = store.Voter(row.voter_id, "alice" if row.voter_id == 1 else "bob")
        store.record_vote(conn, voter, row.id, winner, None, None, store.now_utc())
    conn.close()
    return db, plan


def test_detected_and_read_as_human_battle_judgments(voted_db: tuple[Path, list]) -> None:
    db, plan = voted_db
    assert detect_format(db) == "arena"
    judgments = read_sources(db)[0].judgments
    assert len(judgments) == 7  # 8 votes, less the consistency repeat
    assert {j.kind for j in judgments} == {"battles"} and {j.judge for j in judgments} == {"human"}
    by_winner = {"A": ("win", 2.0), "B": ("loss", 1.0), "tie": ("tie", 1.5), "both_bad": ("tie", 1.5)}
    counted = [(row, winner) for row, winner in plan if row.check_of is None]
    for j, (row, winner) in zip(judgments, counted, strict=True):
        assert (j.model, j.opponent, j.item_id, j.turn) == (row.model_a, row.model_b, row.item_id, 2)
        assert (j.verdict_ab, j.preference) == by_winner[winner] and j.verdict_ba is None
        assert j.length == sum(len(t) for t in row.answer_a)
        assert j.opponent_length == sum(len(t) for t in row.answer_b)
        assert (j.headers, j.lists, j.bold) == tuple(vars(answer_counts(row.answer_a)).values())
        assert (j.error is None) == (row.flagged is None)


def test_every_vote_counts_once_in_the_games_and_the_ranking(voted_db: tuple[Path, list]) -> None:
    db, plan = voted_db
    result = read_judgments([db])
    assert result.n_superseded == 0 and len(result.frame) == 7  # different voters' votes on one item all stay
    games = games_frame(result.frame)
    points = {"A": 1.0, "B": 0.0, "tie": 0.5, "both_bad": 0.5}
    expected = Counter((row.model_a, row.model_b, points[w]) for row, w in plan
                       if row.flagged is None and row.check_of is None)
    assert Counter(zip(games["model_a"], games["model_b"], games["outcome"], strict=True)) == expected
    assert set(games["weight"]) == {1.0}
    ranking = rank_battles(games)
    played = Counter(m for (a, b, _), n in expected.items() for m in (a, b) for _ in range(n))
    assert {m.model: m.n_games for m in ranking.raw} == dict(played)
    # The arena's own ranking page is the same computation on the same frame.
    page = arena_ranking(db)
    assert [m.model for m in page.models] == [m.model for m in ranking.raw]
    assert [m.bt_score for m in page.models] == pytest.approx([m.score for m in ranking.raw], abs=1e-9)
    # ... and `stats --battles` prints the very rows the page shows, intervals and ranks included.
    cli = CliRunner().invoke(main, ["stats", "--battles", "--json", str(db)])
    assert cli.exit_code == 0, cli.output
    keys = ("model", "bt_score", "ci_low", "ci_high", "rank", "styled_score", "styled_rank", "n_games")
    assert [{k: row[k] for k in keys} for row in json.loads(cli.stdout)] == \
        [{k: getattr(m, k) for k in keys} for m in page.models]
    assert (page.n_votes, page.n_counted, page.n_flagged, page.n_checks) == (8, 6, 1, 1)


def test_read_votes_gives_typed_rows(voted_db: tuple[Path, list]) -> None:
    db, plan = voted_db
    votes = store.read_votes(db)
    assert [v.battle_id for v in votes] == [row.id for row, _ in plan]
    repeat = votes[-1]
    assert repeat.check_of == "b1" and repeat.voter == "alice" and not repeat.counted
    assert votes[6].flagged == "an answer names 'OpenAI'" and votes[1].voter == "bob"
    assert {v.benchmark for v in votes} == {"mt-bench"} and votes[0].category == "writing"


def test_a_plain_sqlite_file_is_a_one_line_error(tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "x.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    from judgebench.errors import DataError

    with pytest.raises(DataError, match="not an arena database"):
        read_judgments([other])


def test_voter_reports_pair_each_repeat_with_its_original(voted_db: tuple[Path, list]) -> None:
    from judgebench.arena.ranking import voter_reports

    db, _ = voted_db
    votes = store.read_votes(db)
    day = votes[0].created[:10]
    reports = {r.voter: r for r in voter_reports(votes, ["alice", "bob"], today=day)}
    # alice chose gpt-4 in b1 (A = gpt-4) and again in its repeat b8 (B = gpt-4): one agreement in one check, which
    # a random clicker matches with probability 3/8.
    alice = reports["alice"].consistency
    assert (alice.n_checks, alice.n_agree) == (1, 1) and alice.p_value == pytest.approx(3 / 8)
    assert reports["bob"].consistency.n_checks == 0
    assert (reports["alice"].votes_today, reports["alice"].votes_total) == (5, 5)
    assert arena_ranking(db).notes == ("alice: 1/1 repeats agreed (p = 0.375): NOT better than chance",)


def test_agree_with_the_arena_counts_each_counted_vote_once_per_judge(voted_db: tuple[Path, list]) -> None:
    """`agree --labels arena.sqlite`: each counted vote (not the flagged one, not the repeat) against the judge's
    verdict on the same item, pair and turn; votes on another benchmark are never matched."""
    from dataclasses import replace

    from judgebench.analysis.agreement import pairwise_agreement
    from judgebench.analysis.records import judgments_frame
    from judgebench.errors import DataError
    from judgebench.formats.labels import arena_labels
    from tests.judgments import flat

    db, _plan = voted_db
    labels = arena_labels(db)
    assert len(labels) == 6
    # The judge: gpt-4 beats alpaca-13b on 81 in both orders; claude-v1 and alpaca-13b split on 82 (a tie);
    # alpaca-13b beats claude-v1 on 83; gpt-4 beats claude-v1 on 84.
    verdicts = [("81", "gpt-4", "alpaca-13b", "win", "win"), ("82", "claude-v1", "alpaca-13b", "win", "loss"),
                ("83", "alpaca-13b", "claude-v1", "win", "win"), ("84", "gpt-4", "claude-v1", "win", "win")]
    points = {"win": 1.0, "tie": 0.5, "loss": 0.0}
    judge = [flat(benchmark=labels["benchmark"].iloc[0], item_id=item, category="writing", model=m, judge="j",
                      turn=2, kind="battles", opponent=o, verdict_ab=ab, verdict_ba=ba,
                      preference=1 + (points[ab] + points[ba]) / 2) for item, m, o, ab, ba in verdicts]
    (result,) = pairwise_agreement(judgments_frame(judge), labels)
    # By hand, the six counted votes' winners: gpt-4, gpt-4, gpt-4 (81, three votes), tie (82), tie (83: both
    # bad), claude-v1 (84). The judge's: gpt-4 x3, tie, alpaca-13b, gpt-4.
    assert (result.n_s1, result.s1) == (6, pytest.approx(4 / 6))
    assert (result.n_s2, result.s2) == (4, pytest.approx(3 / 4))
    other = [replace(j, id=replace(j.id, benchmark="other-bench")) for j in judge]
    with pytest.raises(DataError, match="other-bench"):
        pairwise_agreement(judgments_frame(other), labels)
