"""Bradley-Terry with and without style control on 20 models x 50,000 games (a fifth of them "much better", so
weighted 3), 100 bootstrap resamples each, as `judgebench stats --battles` fits them (stats.battle_ranking).

- raw: ``rank_battles`` on games without style columns: the raw fit and its bootstrap alone.
- raw + styled: ``rank_battles`` on the same games with their length and markdown counts: the raw fit and the
  style-controlled one (4 more parameters, fitted jointly) on the same resamples.
- single fits: one ``fit_logistic_strengths`` of each, no bootstrap.

The machine is shared: the variants run in interleaved rounds and each figure is the best round's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from judgebench.stats.battle_ranking import STRONG_WEIGHT, rank_battles
from judgebench.stats.bradley_terry import fit_logistic_strengths
from judgebench.stats.style_control import STYLE_COLUMNS, style_design

N_MODELS, N_GAMES, N_BOOTSTRAP, ROUNDS = 20, 50_000, 100, 3


def simulated_games(seed: int = 0) -> pd.DataFrame:
    """Games between random pairs; the judge's logit is the strength difference plus a length preference."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, N_MODELS)
    verbosity = rng.uniform(500, 3000, N_MODELS)
    a = rng.integers(0, N_MODELS, N_GAMES)
    b = (a + rng.integers(1, N_MODELS, N_GAMES)) % N_MODELS
    length_a, length_b = rng.normal(verbosity[a], 200).clip(50), rng.normal(verbosity[b], 200).clip(50)
    logit = strength[a] - strength[b] + 2.0 * (length_a - length_b) / (length_a + length_b)
    u = rng.random(N_GAMES)
    p = 1 / (1 + np.exp(-logit))
    names = np.array([f"model-{i:02d}" for i in range(N_MODELS)])
    games = pd.DataFrame({"model_a": names[a], "model_b": names[b],
                          "outcome": np.where(u < 0.9 * p, 1.0, np.where(u < 0.9 * p + 0.1, 0.5, 0.0)),
                          "weight": np.where(rng.random(N_GAMES) < 0.2, STRONG_WEIGHT, 1.0), "category": "c",
                          "item_id": [f"q{i % 500}" for i in range(N_GAMES)], "length_a": length_a,
                          "length_b": length_b})
    for name in ("headers", "lists", "bold"):
        games[f"{name}_a"], games[f"{name}_b"] = rng.poisson(2, N_GAMES), rng.poisson(2, N_GAMES)
    return games


def _best(variants: dict[str, Callable[[], Any]]) -> dict[str, float]:
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> dict[str, Any]:
    games = simulated_games()
    raw_games = games.drop(columns=STYLE_COLUMNS)
    models = sorted(set(games["model_a"]) | set(games["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    a, b = games["model_a"].map(index).to_numpy(), games["model_b"].map(index).to_numpy()
    outcome, weight = games["outcome"].to_numpy(), games["weight"].to_numpy()
    features = style_design(games).features
    seconds = _best({
        "raw_with_bootstrap": lambda: rank_battles(raw_games, "model-00", n_bootstrap=N_BOOTSTRAP),
        "raw_and_styled_with_bootstrap": lambda: rank_battles(games, "model-00", n_bootstrap=N_BOOTSTRAP),
        "raw_single_fit": lambda: fit_logistic_strengths(a, b, outcome, len(models), weight),
        "styled_single_fit": lambda: fit_logistic_strengths(a, b, outcome, len(models), weight, features),
    })
    ranking = rank_battles(games, "model-00", n_bootstrap=N_BOOTSTRAP)
    return {
        "models": N_MODELS, "games": N_GAMES, "bootstrap": N_BOOTSTRAP,
        **{f"{name}_s": round(value, 3) for name, value in seconds.items()},
        "raw_and_styled_over_raw": round(seconds["raw_and_styled_with_bootstrap"] / seconds["raw_with_bootstrap"], 2),
        "styled_fit_over_raw_fit": round(seconds["styled_single_fit"] / seconds["raw_single_fit"], 2),
        "length_coefficient": round(ranking.coefficients[0].value, 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
