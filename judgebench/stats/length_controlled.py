"""Length-controlled win rates of every model in a frame of pairwise judgments against one baseline.

The instruction difficulties come from a difficulty table when one is given (fitted on a pool of models by
`judgebench difficulty fit`, or AlpacaEval's own), so a model's LC does not depend on which other models happen
to be in the frame; without one they are fitted on the frame's own models, and a thin pool is said in the note.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .length_control import DifficultyTable, ModelAnnotations, fit_difficulty, length_controlled_winrate


@dataclass(frozen=True)
class LCEstimate:
    value: float | None
    note: str | None = None


def length_controlled_by_model(frame: pd.DataFrame, table: DifficultyTable | None = None) -> dict[str, LCEstimate]:
    """model -> its LC win rate (None where it cannot be estimated, with the reason), for one (benchmark, judge,
    baseline) group of pairwise judgments."""
    estimates: dict[str, LCEstimate] = {}
    models: dict[str, ModelAnnotations] = {}
    for model, group in frame.groupby("model", sort=True):
        if (group["opponent"] == model).all():
            estimates[str(model)] = LCEstimate(50.0)  # the baseline against itself, by construction
            continue
        lengths_missing = group["length"].isna().any() or group["opponent_length"].isna().any()
        if lengths_missing or group["preference"].notna().sum() < 2:
            estimates[str(model)] = LCEstimate(None, "no answer lengths to control for")
            continue
        models[str(model)] = ModelAnnotations.from_frame(group)
    if not models:
        return estimates
    table = table if table is not None else fit_difficulty(models)
    for model, data in models.items():
        try:
            lc = length_controlled_winrate(data, table)
        except ValueError as exc:  # the table does not know this benchmark's items
            estimates[model] = LCEstimate(None, str(exc))
            continue
        estimates[model] = LCEstimate(lc.length_controlled_winrate, lc.message)
    return estimates
