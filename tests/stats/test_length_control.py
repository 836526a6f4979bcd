"""Length-controlled win rate with difficulty tables, against AlpacaEval 2.0's published leaderboard."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from judgebench.errors import DataError
from judgebench.formats.difficulty import read_difficulty_csv, write_difficulty_csv
from judgebench.formats.identity import instruction_id
from judgebench.stats.length_control import (
    ALPACA_EVAL_PRIOR,
    MIN_MODELS,
    THIN_TABLE,
    UNKNOWN_ITEMS,
    DifficultyTable,
    ModelAnnotations,
    fit_difficulty,
    length_controlled_winrate,
    length_controlled_winrates,
)
from judgebench.stats.winrate import DEFAULT_SEED, resample_counts

ANNOTATIONS = "alpaca_eval/results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
LEADERBOARD = "alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
BASELINE = "gpt4_1106_preview"
# bench/bench_lc_loo.py: over the 35 models with all 805 rows, leave-one-out tables give a mean |difference| of
# 0.37 and at most 1.73 points; the goal was 0.5 and 2.
TOLERANCE = 2.0

Data = tuple[dict[str, ModelAnnotations], pd.Series]
Tables = Callable[[str], DifficultyTable]


@pytest.fixture(scope="module")
def alpaca_eval(shared_data: Path) -> Data:
    """Every model's annotations against the baseline (the baseline's own file left out) by results directory,
    and the published LC win rates."""
    models = {}
    for path in sorted(shared_data.glob(ANNOTATIONS)):
        name = path.parents[1].name
        if name == BASELINE:
            continue
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = json.load(fh)
        models[name] = ModelAnnotations(
            np.array([instruction_id(r["instruction"]) for r in rows]),
            np.array([np.nan if r["preference"] is None else float(r["preference"]) or 1.5 for r in rows]),
            np.array([len(r["output_2"] or "") for r in rows], dtype=float),
            np.array([len(r["output_1"] or "") for r in rows], dtype=float))
    board = pd.read_csv(shared_data / LEADERBOARD, index_col=0)
    assert len(models) >= 40
    return models, board["length_controlled_winrate"]


@pytest.fixture(scope="module")
def leave_one_out(alpaca_eval: Data) -> Tables:
    """A table fitted on every model but the given one (each fitted once per module)."""
    models, _ = alpaca_eval

    @cache
    def table_without(name: str) -> DifficultyTable:
        return fit_difficulty({n: m for n, m in models.items() if n != name})

    return table_without


@pytest.mark.parametrize("model", ["alpaca-7b", "gemma-7b-it", "vicuna-13b-v1.5", "gpt-3.5-turbo-0301",
                                   "claude-2.1_concise", "FuseChat-Llama-3.2-3B-Instruct"])
def test_a_model_alone_with_a_table_of_the_others_reproduces_the_leaderboard(alpaca_eval: Data, leave_one_out: Tables,
                                                                            model: str) -> None:
    models, published = alpaca_eval
    table = leave_one_out(model)
    assert table.n_models == len(models) - 1 and model not in table.source
    result = length_controlled_winrate(models[model], table)
    assert result.length_controlled_winrate == pytest.approx(published[model], abs=TOLERANCE)
    assert result.notes == () and result.n_items == 805 and result.n_unknown == 0


@pytest.mark.parametrize("model", ["gpt-3.5-turbo-1106_verbose", "Mixtral-8x7B-Instruct-v0.1_concise",
                                   "gpt-3.5-turbo-1106_concise", "alpaca-7b_verbose"])
def test_a_length_gaming_model_stays_near_its_published_lc(alpaca_eval: Data, leave_one_out: Tables,
                                                           model: str) -> None:
    models, published = alpaca_eval
    result = length_controlled_winrate(models[model], leave_one_out(model))
    # alpaca-7b_verbose's file lacks 3 rows and AlpacaEval looked difficulty up by row position, so its
    # published LC used shifted difficulties (bench/bench_lc_loo.py); the bound that matters holds for all:
    # verbosity does not buy an LC far above the published one.
    assert result.length_controlled_winrate <= published[model] + TOLERANCE
    assert result.length_controlled_winrate == pytest.approx(published[model], abs=TOLERANCE)


def test_the_lc_does_not_depend_on_the_company(alpaca_eval: Data, leave_one_out: Tables) -> None:
    models, published = alpaca_eval
    table = leave_one_out("alpaca-7b")
    alone = length_controlled_winrate(models["alpaca-7b"], table)
    few = ["alpaca-7b", "claude-2", "vicuna-13b"]
    with_two = length_controlled_winrates({n: models[n] for n in few}, table)["alpaca-7b"]
    with_all = length_controlled_winrates(models, table)["alpaca-7b"]
    assert alone == with_two == with_all
    assert alone.length_controlled_winrate == pytest.approx(published["alpaca-7b"], abs=TOLERANCE)


def test_too_few_models_are_noted(alpaca_eval: Data) -> None:
    models, _ = alpaca_eval
    few = {n: models[n] for n in ["alpaca-7b", "claude-2", "vicuna-13b"]}
    result = length_controlled_winrates(few)["alpaca-7b"]
    assert result.notes == (THIN_TABLE,) and result.table_models == 3 < MIN_MODELS and result.weak
    assert result.message is not None and "3 model(s)" in result.message


def test_the_lc_interval_is_a_bootstrap_over_items(alpaca_eval: Data, leave_one_out: Tables) -> None:
    """The LC's own interval, against an independent refit of every resample (scipy's BFGS on the weighted
    objective) over the win rate's own resamples of items."""
    models, published = alpaca_eval
    model = "gpt-3.5-turbo-0301"
    table, data = leave_one_out(model), models[model]
    n_bootstrap = 40
    result = length_controlled_winrate(data, table, n_bootstrap=n_bootstrap)
    assert not result.weak and result.ci_low is not None and result.ci_high is not None
    keep = ~np.isnan(data.preference)
    delta = data.length_baseline - data.length_model
    gamma = table.lookup(data.items[keep])
    y = data.preference[keep] - 1
    features = np.column_stack([np.tanh(delta / delta.std(ddof=1))[keep], gamma, np.ones_like(y)])
    prior = np.array([table.length_sensitivity, table.difficulty_weight, 0.0])
    penalty = len(y) * np.array([*table.prior_strength, 0.0])
    values = []
    for counts in resample_counts(len(y), n_bootstrap, DEFAULT_SEED):
        def loss(v: np.ndarray, c: np.ndarray = counts) -> float:
            z = features @ v
            return float((c * (np.logaddexp(0, z) - y * z)).sum() + 0.5 * (penalty * (v - prior) ** 2).sum())

        def grad(v: np.ndarray, c: np.ndarray = counts) -> np.ndarray:
            return features.T @ (c * (expit(features @ v) - y)) + penalty * (v - prior)

        v = minimize(loss, np.array([result.phi, result.psi, result.theta]), jac=grad, method="BFGS",
                     options={"gtol": 1e-9}).x
        values.append(float((counts * expit(v[1] * gamma + v[2])).sum() / len(y) * 100))
    low, high = np.quantile(values, [0.025, 0.975])
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), abs=1e-4)
    assert result.ci_low < result.length_controlled_winrate < result.ci_high
    assert result.ci_low < published[model] < result.ci_high


def test_items_the_table_does_not_know_are_left_out_and_counted(alpaca_eval: Data, leave_one_out: Tables) -> None:
    models, _ = alpaca_eval
    full = leave_one_out("alpaca-7b")
    known = DifficultyTable(full.item_ids[:700], full.difficulty[:700], full.length_sensitivity, full.n_models,
                            "first 700 items", full.difficulty_weight)
    result = length_controlled_winrate(models["alpaca-7b"], known)
    assert (result.n_items, result.n_unknown, result.notes) == (700, 105, (UNKNOWN_ITEMS,))
    assert np.isnan(known.lookup(["not an item"])).all()
    with pytest.raises(ValueError, match="known difficulty"):
        length_controlled_winrate(models["alpaca-7b"], DifficultyTable(("x",), np.zeros(1), 0.0, 40, "other"))


def test_csv_round_trip(alpaca_eval: Data, leave_one_out: Tables, tmp_path: Path) -> None:
    models, _ = alpaca_eval
    table = leave_one_out("alpaca-7b")
    texts = {instruction_id(t): t for t in ["Write a haiku,\nthen \"explain\" it.", "# not a header line"]}
    table = DifficultyTable(table.item_ids + tuple(texts), np.append(table.difficulty, [0.25, -3.5]),
                            table.length_sensitivity, table.n_models, "fitted on\n40 models", table.difficulty_weight)
    path = tmp_path / "difficulty.csv"
    write_difficulty_csv(table, path, texts)
    back = read_difficulty_csv(path, instruction_id)
    assert back.item_ids == table.item_ids
    np.testing.assert_array_equal(back.difficulty, table.difficulty)
    assert (back.length_sensitivity, back.difficulty_weight, back.prior_strength, back.n_models) == (
        table.length_sensitivity, table.difficulty_weight, table.prior_strength, table.n_models)
    assert back.source == "fitted on 40 models"
    assert length_controlled_winrate(models["alpaca-7b"], back) == length_controlled_winrate(models["alpaca-7b"], table)
    # The same file under another item identity is caught, not silently mismatched.
    with pytest.raises(DataError, match="not the id of its instruction"):
        read_difficulty_csv(path, lambda text: text)


def test_reads_alpaca_eval_format(tmp_path: Path) -> None:
    # AlpacaEval's instruction_difficulty.csv: keyed by the row's position in the evaluation set.
    path = tmp_path / "instruction_difficulty.csv"
    path.write_text("index,instruction_difficulty\n0,-0.5\n1,1.25\n2,0.0\n", encoding="utf-8")
    instructions = ["What is 2+2?", "Write a sonnet.", "Name a colour."]
    table = read_difficulty_csv(path, instruction_id, instructions=instructions)
    assert table.item_ids == tuple(instruction_id(t) for t in instructions)
    np.testing.assert_array_equal(table.lookup([instruction_id("Write a sonnet."), "unknown"]), [1.25, np.nan])
    assert table.n_models is None and (table.length_sensitivity, table.difficulty_weight) == ALPACA_EVAL_PRIOR
    with pytest.raises(DataError, match="instructions in their order"):
        read_difficulty_csv(path, instruction_id)
    with pytest.raises(DataError, match="index '2' is not a row"):
        read_difficulty_csv(path, instruction_id, instructions=instructions[:2])
    # Keyed by instruction text instead.
    keyed = tmp_path / "by_instruction.csv"
    keyed.write_text('instruction,instruction_difficulty\n"Write a sonnet.",1.25\n', encoding="utf-8")
    assert read_difficulty_csv(keyed, instruction_id).item_ids == (instruction_id("Write a sonnet."),)


def test_annotations_from_a_judgments_frame() -> None:
    frame = pd.DataFrame({"item_id": ["a", "b"], "preference": [1.75, None], "length": [10, 30],
                          "opponent_length": [20, 20]})
    ann = ModelAnnotations.from_frame(frame)
    assert ann.items.tolist() == ["a", "b"]
    np.testing.assert_array_equal(ann.preference, [1.75, np.nan])
    np.testing.assert_allclose(ann.tanh_std_delta(), np.tanh(np.array([10.0, -10.0]) / np.std([10, -10], ddof=1)))


def test_cli_a_model_alone_with_a_fitted_table_gets_its_number_in_the_pool(shared_data: Path, tmp_path: Path) -> None:
    """`judgebench difficulty fit` on a pool, then `stats --difficulty`: one model evaluated alone gets exactly the
    LC it gets beside the others, and a thin pool is said."""
    from click.testing import CliRunner

    from judgebench.cli import main

    pool = [shared_data / ANNOTATIONS.replace("*", m) for m in
            ("claude-2", "alpaca-7b", "vicuna-13b", "gemma-7b-it", "wizardlm-13b", "phi-2")]
    table = tmp_path / "difficulty.csv"
    fitted = CliRunner().invoke(main, ["difficulty", "fit", *map(str, pool), "--out", str(table)])
    assert fitted.exit_code == 0, fitted.output
    assert "fitted on 6 model(s)" in fitted.stdout and "fewer than the 20" in fitted.stderr
    alone = CliRunner().invoke(main, ["stats", "--json", "--bootstrap", "0", "--difficulty", str(table), str(pool[0])])
    together = CliRunner().invoke(main, ["stats", "--json", "--bootstrap", "0", "--difficulty", str(table),
                                         *map(str, pool)])
    assert alone.exit_code == 0 and together.exit_code == 0, alone.output + together.output
    (one,) = json.loads(alone.stdout)
    in_pool = {r["model"]: r for r in json.loads(together.stdout)}["claude-2"]
    assert one["length_controlled_winrate"] == in_pool["length_controlled_winrate"]
    assert "fewer than the 20" in one["lc_note"]


def test_cli_alpaca_evals_own_table_offline_is_a_clear_error(shared_data: Path) -> None:
    from click.testing import CliRunner

    from judgebench.cli import main

    result = CliRunner().invoke(main, ["stats", "--difficulty", "alpaca-eval",
                                       str(shared_data / ANNOTATIONS.replace("*", "claude-2"))])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--difficulty alpaca-eval" in result.output and "cannot download" in result.output
