"""The site on battles: a run of task kind ``battles`` (scripted judge on loopback) and a human arena's database (a
real SQLite, votes written by arena.store) on the same benchmark. Every model gets a page with all its battles and
their texts; the numbers are those of `stats --battles` and `agree --labels`; a vote the arena left out is no
failure."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.analysis.battles import BATTLE_BOOTSTRAP
from judgebench.analysis.judge_rankings import compare_judges
from judgebench.analysis.records import read_judgments
from judgebench.arena import store as arena
from judgebench.cli import main
from judgebench.formats import judgebench as runs
from judgebench.publish import pages
from judgebench.publish.site import build_site
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script

# "zeta" sorts last: in an all-pairs run it is only ever the opponent of the others' judgments.
MODELS = ("alpha", "beta", "gamma", "zeta")
STRENGTH = {"alpha": 3, "beta": 1, "gamma": 2, "zeta": 0}
N_ITEMS = 6
_SHOWN = re.compile(r"<\|Assistant ([AB]), answer 1 [0-9a-f]+\|>\n(\S+)")


def _answer(model: str, item: str) -> str:
    return f"{model} answers {item} <b>bold</b>"


def _question(item: str) -> str:
    return f"question {item} asks something"


def _judge(body: dict[str, Any]) -> str:
    """Prefers the stronger model, but on one item in three the weaker one (so no model wins every game)."""
    shown = dict(_SHOWN.findall(body["messages"][-1]["content"]))
    first, second = shown["A"], shown["B"]
    upset = int(hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest(), 16) % 3 == 0
    first_better = (STRENGTH[first] > STRENGTH[second]) != upset
    return "[[A>B]]" if first_better else "[[B>A]]"


@pytest.fixture(scope="module")
def battle_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the run directory, the arena database) on benchmark "bench"."""
    tmp = tmp_path_factory.mktemp("site-battles")
    items = "".join(f"  - {{id: q{i}, category: c{i % 2}, turns: ['{_question(f'q{i}')}']}}\n" for i in range(N_ITEMS))
    (tmp / "t.yaml").write_text("name: bench\nbenchmark: bench\nkind: battles\njudge:\n  prompt: battle.jinja\n"
                                "  labels: [A>>B, A>B, A=B, B>A, B>>A]\nbattles:\n  schedule: all-pairs\n"
                                f"items:\n{items}")
    task = load_task(str(tmp / "t.yaml"))
    files = []
    for model in MODELS:
        path = tmp / f"{model}.jsonl"
        path.write_text("".join(json.dumps({"question_id": item.id, "model_id": model, "choices": [
            {"index": 0, "turns": [_answer(model, item.id)]}]}) + "\n" for item in task.items))
        files.append(path)
    with fake_model(Script([("fn", _judge)])) as url:
        endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=4)
        result = evaluate(task, RunConfig(model=None, judges=(Judge("fake-judge", endpoint),), out=tmp / "r",
                                          cache_path=tmp / "c.sqlite", progress=False, n_bootstrap=20,
                                          answers_files=tuple(files)))
    db = tmp / "arena.sqlite"
    conn = arena.open_db(db, "bench", "t")
    arena.add_voter(conn, "alice")
    voter = arena.Voter(1, "alice")
    pairs = [(a, b) for a in MODELS for b in MODELS if a != b]
    for number, (a, b) in enumerate(pairs * 2):
        item = f"q{number % N_ITEMS}"
        flagged = "an answer names its maker" if number == 5 else None
        arena.insert_battle(conn, arena.BattleRow(
            f"b{number}", 1, item, "c0", (_question(item),), a, b, (_answer(a, item),), (_answer(b, item),),
            f"2026-01-05T12:00:{number:02d}+00:00", flagged))
        winner = "A" if (STRENGTH[a] > STRENGTH[b]) != (number % 4 == 0) else "B"
        arena.record_vote(conn, voter, f"b{number}", "tie" if number % 7 == 0 else winner, None, None,
                          arena.now_utc())
    conn.close()
    return result.run_dir, db


@pytest.fixture(scope="module")
def site(battle_inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site-out") / "site"
    result = CliRunner().invoke(main, ["leaderboard", *map(str, battle_inputs), "--out", str(out),
                                       "--bootstrap", "30"])
    assert result.exit_code == 0, result.output
    return out


def _stats_battles(path: Path, judge: str) -> list[dict[str, Any]]:
    cli = CliRunner().invoke(main, ["stats", "--battles", "--json", str(path)])
    assert cli.exit_code == 0, cli.output
    return [row for row in json.loads(cli.stdout) if row["judge"] == judge]


def test_every_model_has_a_page_the_opponent_only_one_included(battle_inputs: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    run_dir, _ = battle_inputs  # the run alone: no human vote names zeta as answer A's model
    records = runs.read_jsonl(run_dir / runs.JUDGMENTS)
    assert "zeta" not in {r["model"] for r in records} and "zeta" in {r["opponent"] for r in records}
    site = tmp_path / "site"
    assert build_site([run_dir], site, n_bootstrap=20).status == "updated"
    links = pages.model_pages(list(MODELS))
    for model in MODELS:
        assert (site / links[model]).is_file()
    index = (site / "index.html").read_text()
    assert all(f'href="{links[m]}"' in index for m in MODELS)
    zeta = html.unescape((site / links["zeta"]).read_text())
    assert f"{3 * N_ITEMS} judgments" in zeta and "not in the inputs" not in zeta


def test_a_model_page_lists_every_battle_with_both_answers(battle_inputs: tuple[Path, Path], site: Path) -> None:
    run_dir, db = battle_inputs
    frame = read_judgments([run_dir, db]).frame
    page = html.unescape((site / pages.model_pages(["zeta"])["zeta"]).read_text())
    expected = 0
    for judge, n in (("fake-judge", 3 * N_ITEMS), ("human", 12)):  # 3 opponents x items; 6 ordered pairs x 2 votes
        mine = frame[(frame["judge"] == judge) & ((frame["model"] == "zeta") | (frame["opponent"] == "zeta"))]
        assert len(mine) == n and f"{n} judgments" in page
        expected += min(pages.MAX_PER_GROUP, n)
    # Every shown battle has its question and both answers; none is without its texts.
    assert "not in the inputs" not in page
    shown = page.count("<article class=\"judgment\">")
    assert shown == expected
    # zeta's answer is its own, first, on either side of the record; the other model's is its opponent's.
    assert page.count("Answer of zeta (this page's model)") == page.count("Answer of its opponent, ") == shown
    assert "opponent: zeta" not in page and "Answer of its opponent, zeta" not in page
    for item in {f"q{i}" for i in range(N_ITEMS)}:
        assert _question(item) in page and _answer("zeta", item) in page
    # The verdicts are zeta's: the weakest model, judged by the script's rule.
    verdicts = re.findall(r"zeta (beat|lost to|and \w+ tied)", page)
    assert len(verdicts) == shown and "lost to" in verdicts
    by_judge = frame[frame["judge"] == "fake-judge"]
    losses = by_judge[((by_judge["model"] == "zeta") & (by_judge["preference"] < 1.5))
                      | ((by_judge["opponent"] == "zeta") & (by_judge["preference"] > 1.5))]
    wins = by_judge[((by_judge["model"] == "zeta") & (by_judge["preference"] > 1.5))
                    | ((by_judge["opponent"] == "zeta") & (by_judge["preference"] < 1.5))]
    section = page.split("judge: human")[0] if page.index("judge: fake-judge") < page.index("judge: human") else page
    assert len(re.findall(r"zeta lost to \w+", section.split("judge: fake-judge", 1)[1])) == len(losses)
    assert len(re.findall(r"zeta beat \w+", section.split("judge: fake-judge", 1)[1])) == len(wins)


def test_battle_tables_are_stats_battles_rows(battle_inputs: tuple[Path, Path], site: Path) -> None:
    run_dir, db = battle_inputs
    for path, judge in ((run_dir, "fake-judge"), (db, "human")):
        expected = _stats_battles(path, judge)
        rows = json.loads((site / "data" / f"bench__{judge}.json").read_text())
        keys = ("model", "rank")
        assert [{k: r[k] for k in keys} for r in rows] == [{k: e[k] for k in keys} for e in expected]
        assert [(r["score"], r["ci_low"], r["ci_high"]) for r in rows] == \
            [pytest.approx((e["bt_score"], e["ci_low"], e["ci_high"]), abs=1e-9) for e in expected]
        # n: the games each model played, as the glossary says.
        assert [r["n"] for r in rows] == [e["n_games"] for e in expected]
    index = (site / "index.html").read_text()
    assert f"{BATTLE_BOOTSTRAP} bootstrap samples of games" in index
    assert "in battle tables (Bradley-Terry) games" in index


def test_flagged_votes_are_not_failures(battle_inputs: tuple[Path, Path], site: Path) -> None:
    _, db = battle_inputs
    frame = read_judgments([db]).frame
    flagged = frame[frame["error"].notna()]
    assert len(flagged) == 1 and (flagged["failure"] == "excluded").all()  # the arena's reader: left out, not failed
    rows = json.loads((site / "data" / "bench__human.json").read_text())
    assert all(r["n_failed"] == 0 and not any("failed" in b for b in r["badges"]) for r in rows)
    assert sum(r["n"] for r in rows) == 2 * (len(frame) - 1)  # every counted vote is one game for each side


def test_judges_side_by_side_equal_agree(battle_inputs: tuple[Path, Path], site: Path) -> None:
    run_dir, db = battle_inputs
    cli = CliRunner().invoke(main, ["agree", str(run_dir), "--labels", str(db), "--json"])
    assert cli.exit_code == 0, cli.output
    (agree,) = [r for r in json.loads(cli.stdout)["rankings"] if r["judge"] == "fake-judge"]
    frame = read_judgments([run_dir, db]).frame
    (comparison,) = compare_judges(frame[frame["opponent"].notna()])
    assert comparison.reference == "human"
    (mine,) = [j for j in comparison.judges if j.judge == "fake-judge"]
    assert mine.agreement is not None and mine.n_common == len(agree["models"]) == len(MODELS)
    assert (mine.agreement.spearman, *mine.agreement.spearman_ci) == \
        pytest.approx((agree["spearman"], *agree["spearman_ci"]), abs=1e-12)
    assert (mine.agreement.kendall, *mine.agreement.kendall_ci) == \
        pytest.approx((agree["kendall"], *agree["kendall_ci"]), abs=1e-12)
    # ... and the page prints those numbers.
    index = (site / "index.html").read_text()
    printed = (f"ρ = {agree['spearman']:.2f} [{agree['spearman_ci'][0]:.2f}, {agree['spearman_ci'][1]:.2f}], "
               f"τ = {agree['kendall']:.2f} [{agree['kendall_ci'][0]:.2f}, {agree['kendall_ci'][1]:.2f}]")
    assert printed in index
