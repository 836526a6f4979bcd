"""Pairwise judgments -> a Bradley-Terry ranking per (benchmark, judge). Pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from ..judging.kinds import kind_of
from ..stats import bradley_terry_with_ci


@dataclass(frozen=True)
class BattleRow:
    """A model's Bradley-Terry score: its predicted win rate against ``baseline`` (which sits at 50), with a 95%
    percentile bootstrap interval; ``strength`` is the fitted log-strength."""

    benchmark: str
    judge: str
    model: str
    bt_score: float
    ci_low: float | None
    ci_high: float | None
    strength: float
    n_battles: int
    baseline: str


def _finite(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def battle_rows(frame: pd.DataFrame, baseline: str | None = None, n_bootstrap: int = 100) -> list[BattleRow]:
    """Bradley-Terry over every judgment between two models (ties count half), per (benchmark, judge)."""
    rows: list[BattleRow] = []
    for (benchmark, judge, kind), group in frame.groupby(["benchmark", "judge", "kind"], sort=True):
        if not kind_of(str(kind)).needs_reference:
            continue  # grades, not battles
        judged = group[group["preference"].notna() & (group["model"] != group["opponent"])]
        if judged.empty:
            continue
        battles = pd.DataFrame({"model_a": judged["model"], "model_b": judged["opponent"],
                                "outcome": judged["preference"] - 1.0})
        anchor = baseline or str(battles["model_b"].value_counts().index[0])
        if anchor not in set(battles["model_a"]) | set(battles["model_b"]):
            raise DataError(f"--baseline {anchor!r} is in no battle of {benchmark} judged by {judge}; models: "
                            f"{', '.join(sorted(set(battles['model_a']) | set(battles['model_b'])))}")
        for bt in bradley_terry_with_ci(battles, anchor, n_bootstrap=n_bootstrap):
            rows.append(BattleRow(str(benchmark), str(judge), bt.model, bt.score, _finite(bt.ci_low),
                                  _finite(bt.ci_high), bt.strength, bt.n_battles, anchor))
    return rows
