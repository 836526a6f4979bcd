"""Length-controlled win rate of one model evaluated alone, against the AlpacaEval 2.0 leaderboard.

For every model with AlpacaEval 2.0 annotations in ../shared/data and a leaderboard row: fit a difficulty table
on all the OTHER models (leave-one-out), evaluate this model alone with it, and compare with the published
length_controlled_winrate. In the same run, the baselines: (a) the model fitted alone with no table and (b) all
models fitted jointly (both the behaviour before difficulty tables), and (c) AlpacaEval's own
instruction_difficulty.csv when one is given (--alpaca-eval-csv or $JUDGEBENCH_AE_DIFFICULTY_CSV; it is not in
the GitHub repository but in the tatsu-lab/alpaca_eval dataset on the Hugging Face Hub).

Five annotation files have fewer than 805 rows. AlpacaEval looks difficulty up by the row's position in the
file, so past a missing row each instruction gets its neighbour's difficulty, and the published LC of those
models is computed with that shift (it shows in their published psi, about half everyone else's). We look items
up by id; the "AE rows" column evaluates them the way AlpacaEval did, to show the difference is that and no more.

`--pool-sizes` adds the curve behind MIN_MODELS: tables fitted on random pools of k other models.

Run: python bench/bench_lc_loo.py [--pool-sizes] [--alpaca-eval-csv PATH]   (about 40 s; 4 minutes more with
--pool-sizes)

Measured (40 models; d = ours - published, in points):
    LOO, each model alone with a table               mean|d| 0.53  max 3.14 (text_davinci_001, a short file)
    LOO, short files looked up as AlpacaEval did     mean|d| 0.36  max 1.73 (claude-2)
    LOO, the 35 models with all 805 rows             mean|d| 0.37  max 1.73 (claude-2)
    (a) alone, no table (before)                     mean|d| 1.43  max 6.30 (gpt-3.5-turbo-1106_concise)
    (b) all models jointly (before)                  mean|d| 0.62  max 3.24 (text_davinci_001)
    our table + AlpacaEval's published psi, theta    mean|d| 0.06  max 0.14 (NullModel)
The last line says our difficulty is AlpacaEval's up to shift and scale; the LOO gap is in the per-model fit.
Tables on k random other models: k=5 mean|d| 1.52, k=12 1.20, k=20 0.86, k=30 0.58 (MIN_MODELS = 20).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's judgebench, not an installed one

from judgebench.formats.difficulty import read_difficulty_csv
from judgebench.formats.identity import instruction_id
from judgebench.stats.length_control import (
    DifficultyTable,
    ModelAnnotations,
    _fit_coefficients,
    _fit_joint,
    _usable,
    fit_difficulty,
    length_controlled_winrate,
)

SHARED = Path(os.environ.get("JUDGEBENCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
AE = SHARED / "alpaca_eval"
ANNOTATIONS = "results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
LEADERBOARD = "leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
WEIGHTS = "metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv"
BASELINE = "gpt4_1106_preview"


@dataclass(frozen=True)
class Model:
    annotations: ModelAnnotations
    as_alpaca_eval_rows: ModelAnnotations  # items looked up by row position, as AlpacaEval does


def eval_set() -> list[str]:
    """The 805 instructions in AlpacaEval's order (the reference model's outputs)."""
    return [row["instruction"] for row in json.loads((AE / f"results/{BASELINE}/model_outputs.json").read_text())]


def load(order: list[str]) -> dict[str, Model]:
    """Every annotation file against the baseline (the baseline's own file left out), by results directory."""
    ids = [instruction_id(text) for text in order]
    models = {}
    for path in sorted(AE.glob(ANNOTATIONS)):
        name = path.parents[1].name
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = json.load(fh)
        if name == BASELINE:
            continue
        # AlpacaEval's 0 is a draw.
        pref = np.array([np.nan if r["preference"] is None else float(r["preference"]) or 1.5 for r in rows])
        ann = ModelAnnotations(np.array([instruction_id(r["instruction"]) for r in rows]), pref,
                               np.array([len(r["output_2"] or "") for r in rows], dtype=float),
                               np.array([len(r["output_1"] or "") for r in rows], dtype=float))
        models[name] = Model(ann, replace(ann, items=np.array(ids[:len(rows)])))
    return models


def old_behaviour(pool: dict[str, ModelAnnotations]) -> dict[str, float]:
    """LC as judgebench computed it before difficulty tables: difficulty fitted on exactly the models passed,
    then each model with a ridge of 20 towards (the pool's median phi, psi = 1)."""
    item_ids, gamma, phi = _fit_joint(pool, 0.1)
    table = DifficultyTable(tuple(str(i) for i in item_ids), gamma, float(np.median(phi)), len(pool), "old")
    out = {}
    for name, ann in pool.items():
        item, x_len, y = _usable(ann)
        g = table.lookup(item)
        features = np.stack([x_len, g, np.ones(len(g))], axis=1)
        _, psi, theta = _fit_coefficients(features, y, np.array([table.length_sensitivity, 1.0, 0.0]),
                                          np.array([20.0, 20.0, 0.0]))
        out[name] = float(expit(psi * g + theta).mean() * 100)
    return out


def summary(label: str, delta: pd.Series) -> str:
    delta = delta.dropna()
    if delta.empty:
        return f"{label:<46} skipped"
    worst = delta.abs().idxmax()
    return (f"{label:<46} n={len(delta):>2}  mean|d| {delta.abs().mean():5.2f}  mean d {delta.mean():+5.2f}  "
            f"max|d| {abs(delta[worst]):5.2f} ({worst})")


def published_coefficients_check(models: dict[str, Model], published: pd.Series) -> pd.Series:
    """Our difficulty with AlpacaEval's published per-model psi and theta: how far the LC lands from the published
    one. Difficulty is defined up to a shift and scale (each model's theta and psi absorb them), so one affine
    map, common to all models, is fitted first. Small means our table is theirs; any remaining gap in the LOO
    column is in the per-model fit."""
    weights = pd.read_csv(AE / WEIGHTS, index_col=0)
    weights.columns = ["phi", "psi", "theta"]
    table = fit_difficulty({n: m.annotations for n, m in models.items()})
    names = [n for n in published.index if n in weights.index]
    gammas = {n: table.lookup(_usable(models[n].annotations)[0]) for n in names}

    def gaps(affine: np.ndarray) -> np.ndarray:
        return np.array([expit(weights.loc[n, "psi"] * (affine[0] * gammas[n] + affine[1])
                               + weights.loc[n, "theta"]).mean() * 100 - published[n] for n in names])

    return pd.Series(least_squares(gaps, np.array([1.0, 0.0])).fun, index=names)


def pool_size_curve(models: dict[str, Model], published: pd.Series, sizes: list[int], repeats: int) -> None:
    """Mean |d| of one model alone with a table fitted on k random other models."""
    rng = np.random.default_rng(0)
    full = [n for n in published.index if len(models[n].annotations.items) == 805]
    print("\nTables fitted on k random other models (models with all 805 rows):")
    for k in sizes:
        deltas = []
        for name in full:
            others = [n for n in models if n != name]
            for _ in range(repeats):
                pool = rng.choice(others, size=min(k, len(others)), replace=False)
                table = fit_difficulty({n: models[n].annotations for n in pool})
                lc = length_controlled_winrate(models[name].annotations, table).length_controlled_winrate
                deltas.append(lc - published[name])
        d = np.abs(deltas)
        print(f"  k={k:>2}: mean|d| {d.mean():.2f}  p90 {np.quantile(d, 0.9):.2f}  share over 2: {np.mean(d > 2):.2f}",
              flush=True)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpaca-eval-csv", default=os.environ.get("JUDGEBENCH_AE_DIFFICULTY_CSV"),
                        help="AlpacaEval's instruction_difficulty.csv, for baseline (c)")
    parser.add_argument("--pool-sizes", action="store_true", help="also the curve behind MIN_MODELS (minutes)")
    args = parser.parse_args(argv)
    if not (AE / LEADERBOARD).is_file():
        raise SystemExit(f"no AlpacaEval data under {AE} (set JUDGEBENCH_SHARED_DATA)")

    order = eval_set()
    models = load(order)
    board = pd.read_csv(AE / LEADERBOARD, index_col=0)
    published = board["length_controlled_winrate"].reindex([n for n in models if n in board.index])
    everyone = {n: m.annotations for n, m in models.items()}
    joint_old = old_behaviour(everyone)
    ae_table: DifficultyTable | None = None
    if args.alpaca_eval_csv and Path(args.alpaca_eval_csv).is_file():
        ae_table = read_difficulty_csv(args.alpaca_eval_csv, instruction_id, instructions=order)

    def lc(ann: ModelAnnotations, table: DifficultyTable) -> float:
        return length_controlled_winrate(ann, table).length_controlled_winrate

    rows = []
    for name, pub in published.items():
        model = models[name]
        table = fit_difficulty({n: m for n, m in everyone.items() if n != name})
        short = len(model.annotations.items) < len(order)
        rows.append({
            "model": name, "published": pub, "LOO": lc(model.annotations, table),
            "AE rows": lc(model.as_alpaca_eval_rows, table) if short else np.nan,
            "(a) alone": old_behaviour({name: model.annotations})[name], "(b) joint": joint_old[name],
            "(c) AE csv": lc(model.as_alpaca_eval_rows, ae_table) if ae_table is not None else np.nan,
        })
    frame = pd.DataFrame(rows).set_index("model")
    deltas = frame.drop(columns="published").sub(frame["published"], axis=0)
    shown = frame[["published", "LOO"]].assign(**{f"d {c}": deltas[c] for c in deltas.columns})
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(shown.round(2).to_string(na_rep=""))

    # The published LC of a short file is the row-shifted one: compare it as published, by the same lookup.
    as_published: Callable[[str], float] = lambda n: deltas.loc[n, "AE rows"] if pd.notna(  # noqa: E731
        deltas.loc[n, "AE rows"]) else deltas.loc[n, "LOO"]
    loo_as_published = pd.Series({n: as_published(n) for n in deltas.index})
    print()
    print(summary("LOO, each model alone with a table", deltas["LOO"]))
    print(summary("LOO, short files looked up as AlpacaEval did", loo_as_published))
    full = [n for n in deltas.index if pd.isna(deltas.loc[n, "AE rows"])]
    print(summary("LOO, the models with all 805 rows", deltas.loc[full, "LOO"]))
    print(summary("(a) alone, no table (before)", deltas["(a) alone"]))
    print(summary("(b) all models jointly (before)", deltas["(b) joint"]))
    print(summary("(c) AlpacaEval's csv (short files by row, as AE)", deltas["(c) AE csv"])
          if ae_table is not None else f"{'(c) AlpacaEval instruction_difficulty.csv':<46} skipped: none given "
          "(--alpaca-eval-csv; it is on the Hugging Face Hub, dataset tatsu-lab/alpaca_eval)")
    print(summary("our table + AlpacaEval's published psi, theta", published_coefficients_check(models, published)))
    if args.pool_sizes:
        pool_size_curve(models, published, [5, 12, 20, 30], repeats=3)
    return {"loo_mean_abs": float(loo_as_published.abs().mean()), "loo_max_abs": float(loo_as_published.abs().max())}


if __name__ == "__main__":
    main()
