"""The judges' profile without labels (analysis.judge_profiles): each number against a direct computation on the
same judgments, and the same table from the command line, the notebook and the site."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.analysis.diagnostics import diagnose
from judgebench.analysis.judge_profiles import COLUMN_NAMES, PROFILE_COLUMNS, judge_prices, judge_profiles
from judgebench.analysis.records import read_judgments
from judgebench.cli import main
from judgebench.clients.pricing import Price, PriceEntry, load_prices
from judgebench.formats import judgebench as store
from judgebench.formats.table import judgments_frame
from tests.judgments import flat

from ..publish.runs import fake_run

MODELS = ("gpt-4o", "claude-3", "llama-3")
JUDGES = ("gpt-judge", "claude-judge")
PRICE = PriceEntry("gpt-judge", Price(2.0, 8.0, 1.0, 4.0), "test", False)


def _judgment(rng: random.Random, judge: str, model: str, item: int) -> Any:
    """A pairwise judgment against a reference: the gpt judge favours gpt-4o; about 1 in 12 fails to parse; the gpt
    judge's requests are recorded (one in 20 failed and carries no tokens), the claude judge's are not (as another
    harness's file)."""
    calls = []
    if judge == "gpt-judge":
        calls = [{"cache_key": f"k{item}{o}", "label": o, "prompt_tokens": rng.randint(200, 400),
                  "completion_tokens": rng.randint(5, 50), "latency_s": rng.uniform(0.1, 2.0)} for o in ("AB", "BA")]
        if rng.random() < 0.05:
            calls[1] = {"cache_key": f"k{item}BA", "label": "BA", "error": "timed out"}
    fields: dict[str, Any] = {"opponent": "reference", "length": float(rng.choice([100, 200, 300])),
                              "opponent_length": 200.0, "calls": calls}
    if rng.random() < 1 / 12:
        fields.update(error="no verdict", failure="parse")
    else:
        lean = 0.75 if judge == "gpt-judge" and model == "gpt-4o" else 0.45
        ab, ba = (rng.choices(["win", "loss", "tie"], [lean, 1 - lean - 0.1, 0.1])[0] for _ in range(2))
        points = {"win": 1.0, "tie": 0.5, "loss": 0.0}
        fields.update(verdict_ab=ab, verdict_ba=ba, preference=1.0 + (points[ab] + points[ba]) / 2)
    return flat("bench", f"q{item}", "general", model, judge, 1, "pairwise", **fields)


@pytest.fixture(scope="module")
def judgments() -> list[Any]:
    rng = random.Random(7)
    found = [_judgment(rng, judge, model, item) for judge in JUDGES for model in MODELS for item in range(60)]
    # Waiting in a provider batch: no value yet, and no part of any profile.
    found.append(flat("bench", "q999", "general", "gpt-4o", "gpt-judge", 1, "pairwise", opponent="reference",
                      error="pending", failure="pending"))
    return found


def _direct(frame: pd.DataFrame, judge: str) -> dict[str, float]:
    """The profile's numbers computed straight from the frame's columns."""
    part = frame[(frame["judge"] == judge) & (frame["failure"] != "pending")]
    both = part["verdict_ab"].notna() & part["verdict_ba"].notna()
    decided = part[part["preference"].notna() & (part["preference"] != 1.5)
                   & (part["length"] != part["opponent_length"])]
    return {"n": len(part), "failed": part["error"].notna().mean(), "parse": (part["failure"] == "parse").mean(),
            "consistency": (both & (part["verdict_ab"] == part["verdict_ba"])).sum() / len(part),
            "longer": ((decided["preference"] > 1.5) == (decided["length"] > decided["opponent_length"])).mean(),
            "n_longer": len(decided)}


def _self_preference(frame: pd.DataFrame, judge: str, other: str, model: str) -> float:
    """The difference in differences of stats.self_preference, by hand: a judge's win rate of the model less its
    mean over models, less the same for the other judge."""
    data = frame[frame["preference"].notna()].assign(value=lambda f: f["preference"] - 1)
    means = data.groupby(["judge", "model"])["value"].mean()
    relative = {j: means[j][model] - means[j].mean() for j in (judge, other)}
    return float(relative[judge] - relative[other])


def test_each_number_matches_a_direct_computation(judgments: list[Any]) -> None:
    frame = judgments_frame(judgments)
    table = judge_profiles(frame, {"gpt-judge": PRICE})
    assert list(table.columns) == COLUMN_NAMES and sorted(table["judge"]) == sorted(JUDGES)
    for judge in JUDGES:
        row = table.set_index("judge").loc[judge]
        direct = _direct(frame, judge)
        assert row["n_judgments"] == direct["n"] == 180
        assert row["failure_rate"] == pytest.approx(direct["failed"])
        assert row["parse_failure_rate"] == pytest.approx(direct["parse"]) and direct["parse"] > 0
        assert row["consistency"] == pytest.approx(direct["consistency"]) and row["n_both_orders"] == direct["n"]
        assert row["prefers_longer"] == pytest.approx(direct["longer"]) and row["n_longer"] == direct["n_longer"]
        assert np.isnan(row["flip_rate"]) and np.isnan(row["grade_sd"])  # no prompt asked twice
    # The table is ranked by position consistency.
    assert list(table["consistency"]) == sorted(table["consistency"], reverse=True)


def test_self_preference_is_the_diagnostics_own(judgments: list[Any]) -> None:
    frame = judgments_frame(judgments)
    row = judge_profiles(frame).set_index("judge").loc["gpt-judge"]
    by_hand = _self_preference(frame, "gpt-judge", "claude-judge", "gpt-4o")
    assert row["self_preference_model"] == "gpt-4o" and row["self_preference"] == pytest.approx(by_hand)
    assert by_hand > 0.1 and row["self_preference_low"] > 0  # the favour given is seen, with an interval above 0
    (reported,) = [p for _, p in diagnose(frame).self_preference if p.judge == "gpt-judge"]
    assert (row["self_preference_low"], row["self_preference_high"]) == (reported.ci_low, reported.ci_high)


def test_tokens_cost_and_time_per_1000_judgments(judgments: list[Any]) -> None:
    table = judge_profiles(judgments_frame(judgments), {"gpt-judge": PRICE}).set_index("judge")
    mine = [j for j in judgments if j.judge == "gpt-judge" and j.failure_kind != "pending"]
    answered = [c for j in mine for c in j.calls if c.error is None]
    prompt, completion = sum(c.prompt_tokens for c in answered), sum(c.completion_tokens for c in answered)
    row = table.loc["gpt-judge"]
    assert row["prompt_tokens_per_1000"] == pytest.approx(1000 * prompt / len(mine))
    assert row["completion_tokens_per_1000"] == pytest.approx(1000 * completion / len(mine))
    assert row["cost_per_1000_usd"] == pytest.approx((2.0 * prompt + 8.0 * completion) / 1e6 * 1000 / len(mine))
    assert row["priced_as"] == "gpt-judge"
    assert row["seconds_per_1000"] == pytest.approx(1000 * sum(c.latency_s for c in answered) / len(mine), rel=1e-3)
    unrecorded = table.loc["claude-judge"]  # its file records no requests: nothing is made up
    assert unrecorded[["prompt_tokens_per_1000", "cost_per_1000_usd", "seconds_per_1000"]].isna().all()


def test_every_column_is_documented() -> None:
    assert all(c.description for c in PROFILE_COLUMNS)
    assert judge_profiles(judgments_frame([flat("b", "q", "c", "m", "j", 1, "single", score=5.0)])).shape[1] == len(
        PROFILE_COLUMNS)


@pytest.fixture(scope="module")
def priced_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real run (the fake model answering and judging) and a price table pricing its model."""
    tmp = tmp_path_factory.mktemp("profiles")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp / "jb-cache"))
        run = fake_run(tmp, reply="Fine. [[A]]")
    prices = tmp / "prices.yaml"
    prices.write_text("models:\n  fake-model: {input: 3.0, output: 15.0}\n")
    return run, prices


def test_a_runs_judge_is_priced_from_its_recorded_endpoint(priced_run: tuple[Path, Path]) -> None:
    run, prices = priced_run
    assert judge_prices([run]) == {"fake-judge": None}  # a URL server: the built-in table prices none
    entry = judge_prices([run.parent], load_prices(prices))["fake-judge"]
    assert entry is not None and entry.model == "fake-model"
    row = judge_profiles(read_judgments([run]).frame, {"fake-judge": entry}).iloc[0]
    # The tokens the run's judgments.jsonl records, read here as plain JSON.
    records = [json.loads(line) for line in (run / store.JUDGMENTS).read_text().splitlines()]
    calls = [c for r in records for c in r["calls"]]
    prompt, completion = sum(c["prompt_tokens"] for c in calls), sum(c["completion_tokens"] for c in calls)
    assert prompt > 0 and row["n_judgments"] == len(records)
    assert row["cost_per_1000_usd"] == pytest.approx((3.0 * prompt + 15.0 * completion) / 1e6 * 1000 / len(records))
    assert row["consistency"] == 0.0  # "[[A]]" in both orders: the first position always wins


def test_the_command_line_and_the_notebook_show_the_same_table(priced_run: tuple[Path, Path]) -> None:
    run, prices = priced_run
    result = CliRunner().invoke(main, ["judges", str(run.parent), "--prices", str(prices), "--json"])
    assert result.exit_code == 0, result.output
    printed = pd.DataFrame(json.loads(result.stdout), columns=COLUMN_NAMES)
    notebook = judgebench.load(run.parent).judges(prices=prices)
    expected = judge_profiles(read_judgments([run.parent]).frame,
                              judge_prices([run.parent], load_prices(prices)))
    pd.testing.assert_frame_equal(notebook, expected)
    for column in COLUMN_NAMES:
        assert [None if pd.isna(v) else v for v in printed[column]] == \
               [None if pd.isna(v) else v for v in expected[column]], column
    text = CliRunner().invoke(main, ["judges", str(run)])
    assert text.exit_code == 0 and "fake-judge" in text.stdout and "consistency" in text.stdout


def test_families_keep_a_judge_named_after_its_config_from_preferring_a_namesake(shared_data: Path,
                                                                               tmp_path: Path) -> None:
    # AlpacaEval's annotator alpaca_eval_cot_gpt4_turbo_fn is no relative of alpaca-7b, though the default family
    # rule (a name's leading letters) reads both as "alpaca"; --families says who is whose.
    results = shared_data / "alpaca_eval" / "results"
    files = [str(p) for m in ("alpaca-7b", "claude-2.1", "gpt4_1106_preview", "gpt-3.5-turbo-0301")
             for p in sorted((results / m).glob("*/annotations.json.gz"))]
    families = tmp_path / "families.yaml"
    families.write_text("gpt4: [alpaca_eval_cot_gpt4, gpt4]\nllama: [alpaca-7b]\nclaude: [claude]\n")

    def rows(*extra: str) -> dict[str, Any]:
        result = CliRunner().invoke(main, ["judges", *files, "--json", *extra])
        assert result.exit_code == 0, result.output
        (row,) = [r for r in json.loads(result.output[result.output.index("["):])
                  if r["judge"] == "alpaca_eval_cot_gpt4_turbo_fn"]
        return dict(row)

    assert rows()["self_preference_model"] == "alpaca-7b"
    assert rows("--families", str(families))["self_preference_model"] != "alpaca-7b"
