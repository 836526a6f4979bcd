"""The arena's ranking survives any flag pattern. A vote whose battle gave a model away (its answer names its maker,
arena.hygiene) is left out of the ranking; the anchor is chosen among the models that still have a counted vote,
a model with none is listed as unranked with the reason, and a ranking with no counted vote at all says so. Each
pattern through the library (analysis.battles, arena.ranking), `judgebench stats --battles`, `judgebench
leaderboard` and the arena app's /api/ranking (a real uvicorn on loopback, as tests/arena does)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from judgebench.analysis.battles import battle_groups
from judgebench.analysis.records import read_judgments
from judgebench.arena import store as arena
from judgebench.arena.pool import Pool
from judgebench.arena.ranking import arena_ranking
from judgebench.cli import main

from ..arena.conftest import invite, serve_arena

MODELS = ("alpha", "beta", "gamma", "delta")
STRENGTH = {"alpha": 3, "beta": 2, "gamma": 1, "delta": 0}
NAMES_ITSELF = "an answer names its maker"

Flagged = Callable[[str, str], bool]


def anchor_flagged(a: str, b: str) -> bool:
    """Every battle of alpha: the model in the most battles (all tie) and first by name, so the would-be anchor."""
    return "alpha" in (a, b)


def all_flagged(a: str, b: str) -> bool:
    return True


def one_pair_flagged(a: str, b: str) -> bool:
    """Only alpha's battles against beta: alpha still plays gamma and delta."""
    return {a, b} == {"alpha", "beta"}


def make_arena(tmp_path: Path, flagged: Flagged) -> Path:
    """An arena database where every ordered pair battled three times, the stronger model mostly winning."""
    db = tmp_path / "arena.sqlite"
    conn = arena.open_db(db, "bench", "t")
    arena.add_voter(conn, "alice")
    voter = arena.Voter(1, "alice")
    pairs = [(a, b) for a in MODELS for b in MODELS if a != b]
    for number, (a, b) in enumerate(pairs * 3):
        item = f"q{number % 4}"
        arena.insert_battle(conn, arena.BattleRow(
            f"b{number}", 1, item, "c0", (f"question {item}",), a, b, (f"{a} answers {item}",),
            (f"{b} answers {item}",), f"2026-01-05T12:{number // 60:02d}:{number % 60:02d}+00:00",
            NAMES_ITSELF if flagged(a, b) else None))
        winner = "A" if (STRENGTH[a] > STRENGTH[b]) != (number % 5 == 0) else "B"
        arena.record_vote(conn, voter, f"b{number}", winner, None, None, arena.now_utc())
    conn.close()
    return db


def _stats_battles(db: Path, *options: str) -> tuple[int, str]:
    """`stats --battles` without resamples (the scores and the anchor do not depend on them; the arena's ranking
    page computes its own intervals)."""
    result = CliRunner().invoke(main, ["stats", "--battles", "--bootstrap", "0", *options, str(db)])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result.exit_code, result.stdout


def _api_ranking(tmp_path: Path, db: Path) -> dict:
    token = invite(db, "reader")
    with serve_arena(db, Pool("bench", "t", {}, {})) as base, httpx.Client(base_url=base, timeout=120) as client:
        response = client.get("/api/ranking", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


# -- every battle of the would-be anchor flagged ---------------------------------------------------------------------

def test_anchor_all_flagged_library_anchors_a_model_with_games(tmp_path: Path) -> None:
    db = make_arena(tmp_path, anchor_flagged)
    (group,) = battle_groups(read_judgments([db]).frame, n_bootstrap=0)
    assert group.baseline == "beta"  # of the models with a game, the first by name (all are in 18 battles)
    assert {r.model for r in group.rows} == {"beta", "gamma", "delta"}
    (left,) = group.unranked
    assert left.model == "alpha" and left.n_battles == 6 * 3 and "18 left out" in left.reason
    assert NAMES_ITSELF in left.reason
    ranking = arena_ranking(db, n_bootstrap=0)
    assert ranking.anchor == "beta" and {r.model for r in ranking.models} == {"beta", "gamma", "delta"}
    assert [u.model for u in ranking.unranked] == ["alpha"] and ranking.empty_note is None


def test_anchor_all_flagged_stats_battles_lists_it_unranked(tmp_path: Path) -> None:
    db = make_arena(tmp_path, anchor_flagged)
    code, text = _stats_battles(db)
    assert code == 0 and "against beta" in text
    assert "unranked: alpha: no game to rank it by: of its 18 battle(s), 18 left out (most often: " in text
    code, out = _stats_battles(db, "--json")
    rows = {r["model"]: r for r in json.loads(out)}
    assert code == 0 and rows["alpha"]["bt_score"] is None and "left out" in rows["alpha"]["unranked"]
    assert all(rows[m]["unranked"] is None and rows[m]["baseline"] == "beta" for m in ("beta", "gamma", "delta"))
    # The would-be anchor cannot be asked for either: a one-line error, not a crash.
    result = CliRunner().invoke(main, ["stats", "--battles", "--bootstrap", "0", "--baseline", "alpha", str(db)])
    last = result.output.splitlines()[-1]
    assert result.exit_code == 1 and last.startswith(
        "Error: --baseline 'alpha' has no game in bench judged by human: no game to rank it by")
    assert "Traceback" not in result.output


def test_anchor_all_flagged_leaderboard_builds(tmp_path: Path) -> None:
    db = make_arena(tmp_path, anchor_flagged)
    result = CliRunner().invoke(main, ["leaderboard", str(db), "--out", str(tmp_path / "site"), "--bootstrap", "10"])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads((tmp_path / "site" / "data" / "bench__human.json").read_text())}
    assert rows["alpha"]["score"] is None and "left out" in rows["alpha"]["unranked"]
    assert "unranked" in rows["alpha"]["badges"] and rows["beta"]["score"] == 50.0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "alpha: unranked: no game to rank it by" in page


def test_anchor_all_flagged_api_ranking_answers(tmp_path: Path) -> None:
    db = make_arena(tmp_path, anchor_flagged)
    data = _api_ranking(tmp_path, db)
    assert data["anchor"] == "beta" and {m["model"] for m in data["models"]} == {"beta", "gamma", "delta"}
    assert [u["model"] for u in data["unranked"]] == ["alpha"] and "left out" in data["unranked"][0]["reason"]
    assert data["n_flagged"] == 18 and data["empty_note"] is None


# -- every battle of every model flagged -----------------------------------------------------------------------------

def test_every_battle_flagged_library_is_an_empty_ranking(tmp_path: Path) -> None:
    db = make_arena(tmp_path, all_flagged)
    (group,) = battle_groups(read_judgments([db]).frame, n_bootstrap=0)
    assert group.baseline is None and group.rows == () and group.n_games == 0
    assert [u.model for u in group.unranked] == sorted(MODELS) and "no ranking" in (group.empty_note or "")
    ranking = arena_ranking(db, n_bootstrap=0)
    assert ranking.anchor is None and ranking.models == () and len(ranking.unranked) == len(MODELS)
    assert ranking.empty_note == "no ranking: none of the 36 votes is counted (36 flagged because an answer gave " \
                                 "its model away, 0 consistency repeats)"


def test_every_battle_flagged_stats_battles_says_no_ranking(tmp_path: Path) -> None:
    db = make_arena(tmp_path, all_flagged)
    code, text = _stats_battles(db)
    assert code == 0
    assert text.splitlines()[0] == ("bench, judged by human: no ranking: none of the battles of 4 model(s) became a "
                                    "game (every one failed or was left out)")
    assert sum(line.startswith("unranked: ") for line in text.splitlines()) == len(MODELS)
    code, out = _stats_battles(db, "--json")
    assert code == 0 and {r["model"] for r in json.loads(out)} == set(MODELS)
    assert all(r["bt_score"] is None and r["unranked"] for r in json.loads(out))


def test_every_battle_flagged_leaderboard_builds(tmp_path: Path) -> None:
    db = make_arena(tmp_path, all_flagged)
    result = CliRunner().invoke(main, ["leaderboard", str(db), "--out", str(tmp_path / "site"), "--bootstrap", "10"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "site" / "data" / "bench__human.json").read_text())
    assert {r["model"] for r in rows} == set(MODELS) and all(r["unranked"] and r["score"] is None for r in rows)


def test_every_battle_flagged_api_ranking_answers(tmp_path: Path) -> None:
    db = make_arena(tmp_path, all_flagged)
    data = _api_ranking(tmp_path, db)
    assert data["anchor"] is None and data["models"] == [] and len(data["unranked"]) == len(MODELS)
    assert data["empty_note"].startswith("no ranking: none of the 36 votes is counted")


# -- a model flagged only against one opponent -----------------------------------------------------------------------

def test_flagged_against_one_opponent_library_keeps_every_model(tmp_path: Path) -> None:
    db = make_arena(tmp_path, one_pair_flagged)
    frame = read_judgments([db]).frame
    (group,) = battle_groups(frame, n_bootstrap=0)
    assert {r.model for r in group.rows} == set(MODELS) and group.unranked == ()
    games = {r.model: r.n_games for r in group.rows}
    assert games["alpha"] == games["beta"] == 12 and games["gamma"] == games["delta"] == 18
    assert arena_ranking(db, n_bootstrap=0).unranked == ()


def test_flagged_against_one_opponent_stats_battles(tmp_path: Path) -> None:
    db = make_arena(tmp_path, one_pair_flagged)
    code, text = _stats_battles(db)
    assert code == 0 and "unranked" not in text and "30 games" in text  # 36 votes, 6 of them flagged


def test_flagged_against_one_opponent_api_ranking(tmp_path: Path) -> None:
    db = make_arena(tmp_path, one_pair_flagged)
    data = _api_ranking(tmp_path, db)
    assert {m["model"] for m in data["models"]} == set(MODELS) and data["unranked"] == []
    assert data["n_flagged"] == 6 and data["n_counted"] == 30


@pytest.mark.parametrize("flagged", [anchor_flagged, all_flagged, one_pair_flagged])
def test_arena_ranking_agrees_with_stats_battles_under_any_flag_pattern(tmp_path: Path, flagged: Flagged) -> None:
    db = make_arena(tmp_path, flagged)
    code, out = _stats_battles(db, "--json")
    ranking = arena_ranking(db, n_bootstrap=0)
    ranked = [(r["model"], r["bt_score"]) for r in json.loads(out) if r["unranked"] is None]
    assert code == 0 and ranked == [(r.model, r.bt_score) for r in ranking.models]


def test_two_groups_that_never_met_are_not_ranked_on_one_scale() -> None:
    """alpha-beta and gamma-delta battles only: gamma and delta have no score against the anchor alpha; they are
    listed as unranked with the reason, and alpha and beta are ranked as they would be alone."""
    from judgebench.analysis.battles import battle_groups
    from judgebench.formats.table import judgments_frame
    from judgebench.types import Judgment
    from tests.judgments import flat

    def battle(item: str, model: str, opponent: str, outcome: str) -> Judgment:
        preference = {"win": 2.0, "loss": 1.0, "tie": 1.5}[outcome]
        return flat(benchmark="b", item_id=item, category="c", model=model, judge="j", turn=1, kind="battles",
                        opponent=opponent, verdict_ab=outcome, verdict_ba=outcome, preference=preference)

    pairs = [("alpha", "beta"), ("gamma", "delta")]
    judgments = [battle(f"{a}-{i}", a, b, "win" if i % 3 else "loss") for a, b in pairs for i in range(12)]
    both = battle_groups(judgments_frame(judgments), n_bootstrap=20)
    alone = battle_groups(judgments_frame(judgments[:12]), n_bootstrap=20)
    (group,), (only,) = both, alone
    assert group.baseline == "alpha"
    assert [r.model for r in group.rows] == [r.model for r in only.rows] == ["alpha", "beta"]
    assert [(r.bt_score, r.ci_low, r.ci_high) for r in group.rows] == [(r.bt_score, r.ci_low, r.ci_high)
                                                                      for r in only.rows]
    reasons = {u.model: u.reason for u in group.unranked}
    assert sorted(reasons) == ["delta", "gamma"]
    assert "no chain of games links it to the anchor alpha" in reasons["gamma"] and "delta" in reasons["gamma"]
