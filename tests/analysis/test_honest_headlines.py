"""Headline numbers that cannot be read as they look are flagged on every surface: a win rate whose ties are the
judge's two orders disagreeing (position bias), and an LC win rate from a difficulty table fitted on too few
models. Judges built on the real AlpacaEval 2.0 instructions and answers; `run`, `stats`, ``load()``, the
Markdown download and the site each checked."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.analysis.flags import BIASED_MARK, WEAK_MARK
from judgebench.analysis.leaderboard import ORDER_TIES, WEAK_LC, leaderboard, to_markdown
from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.cli import main
from judgebench.formats import judgebench as store
from judgebench.judging.verdicts import combine_orders
from judgebench.publish.site import build_site
from judgebench.publish.tables import format_scores
from judgebench.run.evaluate import RunConfig
from judgebench.stats.length_control import MIN_MODELS
from judgebench.stats.position_bias import LOW_CONSISTENCY
from judgebench.stats.winrate import DEFAULT_BOOTSTRAP

from ..publish.runs import fake_run

CLAUDE = "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"


@pytest.fixture(scope="module")
def instructions(shared_data: Path) -> pd.DataFrame:
    """claude-2 against gpt4_1106_preview on AlpacaEval 2.0's 805 instructions, as judgebench reads them."""
    return read_judgments([shared_data / CLAUDE]).frame


def _judged(frame: pd.DataFrame, judge: str, ab: list[str], ba: list[str]) -> pd.DataFrame:
    """The same items and answers under a judge that gave these verdicts (from the candidate's side) in each
    order: AB shows the candidate first, BA second."""
    preference = [combine_orders(a, b) for a, b in zip(ab, ba, strict=True)]
    return frame.assign(judge=judge, verdict_ab=ab, verdict_ba=ba, preference=preference)


def test_a_first_position_judge_reads_as_flagged_ties(instructions: pd.DataFrame) -> None:
    n = len(instructions)
    # "A" every time: the candidate wins when shown first and loses when shown second.
    frame = _judged(instructions, "always-first", ["win"] * n, ["loss"] * n)
    (row,) = score_rows(frame, n_bootstrap=200)
    assert (row.score, row.ci_low, row.ci_high, row.standard_error) == (50.0, 50.0, 50.0, 0.0)
    assert row.n_draws == n and row.order_agreement == 0.0 and row.order_biased
    text = format_scores([row])
    assert f"0% {BIASED_MARK}" in text and "position bias" in text and f"{100 * LOW_CONSISTENCY:.0f}%" in text
    (board_row,) = leaderboard(frame, n_bootstrap=50).rows
    assert board_row.order_biased and ORDER_TIES in board_row.badges
    assert f"0% {BIASED_MARK}" in to_markdown([board_row])
    # A judge whose two orders agree with each other is not flagged.
    sides = np.where(instructions["preference"] > 1.5, "win", "loss").tolist()
    (consistent,) = score_rows(_judged(instructions, "consistent", sides, sides), n_bootstrap=0)
    assert consistent.order_agreement == 1.0 and not consistent.order_biased
    assert BIASED_MARK not in format_scores([consistent])


def test_a_random_judge_gets_no_headline_lc(instructions: pd.DataFrame) -> None:
    """One model judged at random in each order: the LC comes from a difficulty table fitted on that one model,
    so it is flagged weak and the win rate ranks."""
    rng = np.random.default_rng(7)
    n = len(instructions)
    ab, ba = rng.choice(["win", "loss"], n).tolist(), rng.choice(["win", "loss"], n).tolist()
    (row,) = score_rows(_judged(instructions, "coin", ab, ba), n_bootstrap=200)
    assert row.length_controlled_winrate is not None and row.lc_weak and row.lc_table_models == 1 < MIN_MODELS
    assert row.ranked_by == "score" and row.ranking_value == row.score
    assert row.ranking_interval == (row.ci_low, row.ci_high)
    assert row.lc_ci_low is not None and row.lc_ci_low < row.length_controlled_winrate < row.lc_ci_high  # type: ignore[operator]
    text = format_scores([row])
    assert f"{row.length_controlled_winrate:.2f} {WEAK_MARK}" in text
    assert "fitted on 1 model(s)" in text and "ranked by the win rate instead" in text
    # Coin flips in each order agree half the time: these ties are the orders disagreeing too.
    assert row.order_agreement == pytest.approx(0.5, abs=0.05) and row.order_biased


def test_the_run_summary_stats_and_site_flag_a_first_position_judge(tmp_path: Path) -> None:
    run_dir = fake_run(tmp_path, reply="A fine answer. [[A]]")
    summary = json.loads((run_dir / store.SUMMARY).read_text())
    (row,) = summary["rows"]
    assert row["order_agreement"] == 0.0 and row["order_biased"] is True and row["score"] == 50.0
    assert row["ranked_by"] in ("score", "length_controlled_winrate")
    stats = CliRunner().invoke(main, ["stats", str(run_dir), "--bootstrap", "50"])
    assert stats.exit_code == 0, stats.output
    assert f"0% {BIASED_MARK}" in stats.output and "position bias" in stats.output
    out = tmp_path / "site"
    build_site([run_dir], out, n_bootstrap=50)
    index = (out / "index.html").read_text()
    assert 'class="flag" title="' in index and BIASED_MARK in index and "position bias" in index
    assert 'class="flag-notes"' in index


def test_the_site_shows_a_weak_lc_flagged_and_the_interval_of_what_ranks(shared_data: Path, tmp_path: Path) -> None:
    models = ["NullModel", "claude-2", "alpaca-7b"]
    inputs = [shared_data / f"alpaca_eval/results/{m}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
              for m in models]
    out = tmp_path / "site"
    build_site(inputs, out, n_bootstrap=50)
    rows = json.loads((out / "data" / "alpaca-eval-alpaca-eval-2-0__weighted_alpaca_eval_gpt4_turbo.json").read_text())
    assert [r["model"] for r in rows] == ["NullModel", "claude-2", "alpaca-7b"]
    assert all(r["lc_weak"] and r["ranked_by"] == "score" and WEAK_LC in r["badges"] for r in rows)
    index = (out / "index.html").read_text()
    for r in rows:
        # Each interval stands beside its own number: the score's and the LC's, each its own.
        assert f"{r['ci_low']:.2f} – {r['ci_high']:.2f}" in index
        assert f"{r['lc_ci_low']:.2f} – {r['lc_ci_high']:.2f}" in index
        assert r["lc_ci_low"] < r["length_controlled_winrate"] < r["lc_ci_high"]
    assert index.count(f">{WEAK_MARK}</span>") == len(rows)
    assert "ranked by the win rate instead" in index


def test_one_bootstrap_count_on_every_surface() -> None:
    """`run`, `stats`, the site, ``load()`` and the library default to the same resamples."""
    from judgebench.cli import leaderboard_command, stats

    defaults = [inspect.signature(f).parameters["n_bootstrap"].default
                for f in (judgebench.load, leaderboard, score_rows, build_site)]
    defaults.append(RunConfig.__dataclass_fields__["n_bootstrap"].default)
    defaults += [next(p.default for p in command.params if p.name == "bootstrap")
                 for command in (stats, leaderboard_command)]
    assert defaults == [DEFAULT_BOOTSTRAP] * len(defaults)
