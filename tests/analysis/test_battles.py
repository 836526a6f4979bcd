"""`judgebench stats --battles` and analysis.battles on real AlpacaEval annotations and on Arena-Hard's layout:
raw Bradley-Terry against the published win rates and a hand count of weighted games, style control against
what AlpacaEval's own length control says about the same models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.analysis.battles import battle_groups
from judgebench.analysis.records import read_judgments
from judgebench.cli import main
from judgebench.stats.style_control import STYLE_FEATURES

AE2 = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
LEADERBOARD = "alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
# The same models told to answer concisely or verbosely (AlpacaEval's length-gaming check).
FAMILIES = {"gpt-3.5-turbo-1106": ["gpt-3.5-turbo-1106_concise", "gpt-3.5-turbo-1106_verbose"],
            "alpaca-7b": ["alpaca-7b", "alpaca-7b_concise", "alpaca-7b_verbose"],
            "claude-2.1": ["claude-2.1", "claude-2.1_concise"]}


def test_style_control_on_alpaca_eval_moves_scores_as_length_control_does(shared_data: Path) -> None:
    import pandas as pd

    models = [m for family in FAMILIES.values() for m in family]
    frame = read_judgments([shared_data / AE2.format(m) for m in models]).frame
    (group,) = battle_groups(frame, n_bootstrap=40)
    board = pd.read_csv(shared_data / LEADERBOARD, index_col=0)
    rows = {r.model: r for r in group.rows}
    # One game per annotation that has a preference (a few have none).
    assert group.baseline == "gpt4_1106_preview" and group.n_games == int(frame["preference"].notna().sum())
    for m in models:
        # Every game is against the baseline: Bradley-Terry's score is the published win rate.
        assert rows[m].bt_score == pytest.approx(board.loc[m, "win_rate"], abs=0.01)
        # Controlling style moves each score the way AlpacaEval's length control moves it (towards the verbose
        # baseline's level: every LC win rate here is above the raw one).
        lc = board.loc[m, "length_controlled_winrate"]
        assert lc > rows[m].bt_score and rows[m].styled_score is not None and rows[m].styled_score > rows[m].bt_score
    for name in ("gpt-3.5-turbo-1106", "claude-2.1"):
        # Concise and verbose prompting of one model mostly changes style: controlled, the spread shrinks. (Not
        # tried on alpaca-7b, whose variants' raw win rates are all within 1 point, LC's within 2.4.)
        family = FAMILIES[name]
        raw = [rows[m].bt_score for m in family]
        styled = [rows[m].styled_score for m in family]
        assert max(styled) - min(styled) < (max(raw) - min(raw)) / 2  # type: ignore[type-var, operator]
    coefficients = {c.name: c for c in group.coefficients}
    assert list(coefficients) == list(STYLE_FEATURES)
    # The judge's preference for longer answers, the reason AlpacaEval controls length, is beyond doubt.
    assert coefficients["length"].ci_low is not None and coefficients["length"].ci_low > 0.3
    assert group.style_note is None


def test_stats_battles_prints_both_rankings_and_the_coefficients(shared_data: Path) -> None:
    paths = [str(shared_data / AE2.format(m)) for m in ("claude-2", "alpaca-7b", "gpt-3.5-turbo-0301")]
    text = CliRunner().invoke(main, ["stats", "--battles", "--bootstrap", "20", *paths])
    assert text.exit_code == 0, text.output
    assert "styled score" in text.stdout and "style coefficients" in text.stdout
    for name in (*STYLE_FEATURES, "claude-2", "alpaca-7b", "gpt-3.5-turbo-0301", "gpt4_1106_preview"):
        assert name in text.stdout
    result = CliRunner().invoke(main, ["stats", "--battles", "--json", "--bootstrap", "20", *paths])
    rows = json.loads(result.stdout)
    assert {r["model"] for r in rows} == {"claude-2", "alpaca-7b", "gpt-3.5-turbo-0301", "gpt4_1106_preview"}
    for r in rows:
        assert [c["name"] for c in r["style_coefficients"]] == list(STYLE_FEATURES)
        assert r["styled_ci_low"] <= r["styled_score"] <= r["styled_ci_high"]
        # Ranks count the models whose interval lies wholly above.
        above = sum(o["ci_low"] > r["ci_high"] for o in rows)
        assert r["rank"] == 1 + above
    # The text table shows the JSON's numbers.
    claude = next(r for r in rows if r["model"] == "claude-2")
    assert f"{claude['bt_score']:.2f}" in text.stdout and f"{claude['styled_score']:.2f}" in text.stdout


def test_an_unknown_baseline_is_a_one_line_error(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "--battles", "--baseline", "nobody", "--bootstrap", "0",
                                       str(shared_data / AE2.format("claude-2"))])
    assert result.exit_code == 1
    assert "--baseline 'nobody' is in no battle" in result.output and "Traceback" not in result.output


def _arena_hard_file(tmp_path: Path) -> Path:
    """Arena-Hard's layout: game 1 shows the baseline as A, game 2 the model as A."""
    games = [("B>A", "A>>B"), ("A>B", "A>B"), ("A=B", "B>A"), ("B>>A", None)]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps({"question_id": f"q{i}", "model": "m", "judge": "gpt-4", "baseline": "base",
                                          "games": [{"score": g1}, {"score": g2}]})
                              for i, (g1, g2) in enumerate(games)))
    return path


def test_arena_hard_judgments_count_each_order_and_much_better_thrice(tmp_path: Path) -> None:
    """Counted by hand: q0 the model wins game 1 and much-better wins game 2 (3 games); q1 loses then wins; q2
    ties then loses; q3 has an unparsed game and counts not at all. 5.5 points of 8 games."""
    result = CliRunner().invoke(main, ["stats", "--battles", "--json", "--bootstrap", "0",
                                       str(_arena_hard_file(tmp_path))])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert rows["m"]["bt_score"] == pytest.approx(100 * 5.5 / 8, abs=1e-4)
    assert rows["m"]["n_games"] == 6 and rows["base"]["bt_score"] == 50.0
    # The files hold no answers: no style control, and the note says why.
    assert rows["m"]["styled_score"] is None and rows["m"]["style_coefficients"] == []
    assert "no game has its answers' length" in rows["m"]["style_note"]
    text = CliRunner().invoke(main, ["stats", "--battles", "--bootstrap", "0", str(_arena_hard_file(tmp_path))])
    assert "note: no game has its answers' length" in text.stdout


def test_graded_judgments_are_no_battles(shared_data: Path) -> None:
    """arena-bench-v1's 1-10 grades of single answers have no opponent: nothing to rank as battles."""
    path = shared_data / "arena_hard/arena-bench-v1_pr1/model_judgment/claude-1.jsonl.gz"
    assert battle_groups(read_judgments([path]).frame) == []
    result = CliRunner().invoke(main, ["stats", "--battles", str(path)])
    assert result.exit_code == 0 and result.stdout.strip() == "(no battles)"


def test_a_pairwise_run_records_both_answers_style_and_gets_style_control(tmp_path: Path) -> None:
    """Our own pairwise kind counts the candidate's and the reference's markdown (stats.style, code left out), so
    `stats --battles` on the run fits style control."""
    from judgebench.run.evaluate import RunConfig, evaluate
    from judgebench.stats.style import answer_counts
    from judgebench.tasks import load_task
    from judgebench.types import Endpoint, Judge

    from ..fakemodel import fake_model
    from ..fakeserver import Script

    task = load_task("sample-pairwise")
    texts = ["# Tips\n- sleep\n- **rest**\n- read", "A prime has **two** divisors.", "```\n# not a header\n```\nCrumb",
             "Canberra.", "## Miles\n1. 5 km\n2. **3.1** miles"]
    answers = tmp_path / "outputs.json"
    answers.write_text(json.dumps([{"instruction": item.turns[0], "output": text, "generator": "cand"}
                                   for item, text in zip(task.items, texts, strict=True)]))
    with fake_model(Script([("ok", "Final verdict: [[A]]"), ("ok", "Final verdict: [[B]]")])) as url:
        judge = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=1)
        evaluate(task, RunConfig(model=None, judges=(Judge("judge", judge),), out=tmp_path / "r",
                                 cache_path=tmp_path / "c.sqlite", answers_file=answers, progress=False,
                                 n_bootstrap=20))
    frame = read_judgments([tmp_path / "r"]).frame
    assert len(frame) == len(texts)
    for row in frame.itertuples():
        item = next(i for i in task.items if i.id == row.item_id)
        own, reference = answer_counts([texts[task.items.index(item)]]), answer_counts(task.reference_for(item.id))
        assert (row.headers, row.lists, row.bold) == (own.headers, own.lists, own.bold)
        assert (row.opponent_headers, row.opponent_lists, row.opponent_bold) == (
            reference.headers, reference.lists, reference.bold)
        assert row.length == len(texts[task.items.index(item)])
    (group,) = battle_groups(frame, n_bootstrap=5)
    assert group.coefficients and all(r.styled_score is not None for r in group.rows)
