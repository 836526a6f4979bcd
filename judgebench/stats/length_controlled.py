"""Length-controlled win rates of every model in a frame of pairwise judgments against one baseline.

The instruction difficulties come from a difficulty table when one is given (fitted on a pool of models, or
AlpacaEval's own), so a model's LC does not depend on which other models happen to be in the frame; without
one they are fitted on the frame's own models, and a thin pool is said in the note.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .length_control import ModelAnnotations, instruction_difficulty, length_controlled_winrate

# A difficulty fitted on fewer models than this leans on its priors: the LC is reported with a note.
MIN_MODELS_FOR_DIFFICULTY = 5


@dataclass(frozen=True)
class LCEstimate:
    value: float | None
    note: str | None = None


def length_controlled_by_model(frame: pd.DataFrame, difficulty: object | None = None) -> dict[str, LCEstimate]:
    """model -> its LC win rate (None where it cannot be estimated), for one (benchmark, judge, baseline)."""
    codes, uniques = pd.factorize(frame["item_id"], sort=True)
    frame = frame.assign(item_code=codes)
    estimates: dict[str, LCEstimate] = {}
    annotations: dict[str, ModelAnnotations] = {}
    for model, group in frame.groupby("model", sort=True):
        if (group["opponent"] == model).all():
            estimates[str(model)] = LCEstimate(50.0)  # the baseline against itself, by construction
            continue
        lengths_missing = group["length"].isna().any() or group["opponent_length"].isna().any()
        if lengths_missing or group["preference"].notna().sum() < 2:
            estimates[str(model)] = LCEstimate(None, "no answer lengths to control for")
            continue
        annotations[str(model)] = ModelAnnotations(
            items=group["item_code"].to_numpy(), preference=group["preference"].to_numpy(dtype=float),
            length_model=group["length"].to_numpy(dtype=float),
            length_baseline=group["opponent_length"].to_numpy(dtype=float))
    if not annotations:
        return estimates
    gamma, typical_phi = instruction_difficulty(annotations, len(uniques))
    note = (f"instruction difficulty fitted on {len(annotations)} model(s) only; pass a difficulty table "
            "(judgebench difficulty fit) for a number that does not depend on the company"
            if len(annotations) < MIN_MODELS_FOR_DIFFICULTY else None)
    for model, data in annotations.items():
        estimates[model] = LCEstimate(length_controlled_winrate(data, gamma, typical_phi).length_controlled_winrate,
                                      note)
    return estimates
