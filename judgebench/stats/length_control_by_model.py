"""Length-controlled win rates of every model in a frame of pairwise judgments against one baseline: the model of
stats.length_control (AlpacaEval 2.0's) applied to a judgments frame, one estimate per model.

The instruction difficulties come from a difficulty table when one is given (fitted on a pool of models by
`judgebench difficulty fit`, or AlpacaEval's own), so a model's LC does not depend on which other models happen
to be in the frame; without one they are fitted on the frame's own models, and a thin pool is said in the note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..lazy import on_first_use
from .length_control import DifficultyTable, ModelAnnotations, fit_difficulty, length_controlled_winrate

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class LCEstimate:
    """One model's LC win rate (None: not estimated, ``note`` says why) with its 95% bootstrap interval over
    items; table_models: the models its difficulty table was fitted on (None: a published table, or not
    recorded); weak: fitted on fewer than MIN_MODELS, so not a headline (``note`` says so)."""

    value: float | None
    note: str | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    table_models: int | None = None
    weak: bool = False


def length_controlled_by_model(frame: pd.DataFrame, table: DifficultyTable | None = None,
                               n_bootstrap: int = 0) -> dict[str, LCEstimate]:
    """model -> its LC win rate (None where it cannot be estimated, with the reason), for one (benchmark, judge,
    baseline) group of pairwise judgments; ``n_bootstrap`` resamples of items for each interval."""
    estimates: dict[str, LCEstimate] = {}
    models: dict[str, ModelAnnotations] = {}
    for model, group in frame.groupby("model", sort=True):
        if (group["opponent"] == model).all():
            # The baseline against itself, by construction: an interval of one point, as its win rate's.
            estimates[str(model)] = LCEstimate(50.0, ci_low=50.0 if n_bootstrap else None,
                                               ci_high=50.0 if n_bootstrap else None)
            continue
        lengths_missing = group["length"].isna().any() or group["opponent_length"].isna().any()
        if lengths_missing or group["preference"].notna().sum() < 2:
            estimates[str(model)] = LCEstimate(None, "no answer lengths to control for")
            continue
        models[str(model)] = ModelAnnotations.from_frame(group)
    if not models:
        return estimates
    mismatch = _mismatch(frame, table)
    if mismatch:
        return {**estimates, **{model: LCEstimate(None, mismatch) for model in models}}
    table = table if table is not None else fit_difficulty(models)
    for model, data in models.items():
        try:
            lc = length_controlled_winrate(data, table, n_bootstrap=n_bootstrap)
        except ValueError as exc:  # the table does not know this benchmark's items
            estimates[model] = LCEstimate(None, str(exc))
            continue
        value = lc.length_controlled_winrate
        finite = math.isfinite(value)
        estimates[model] = LCEstimate(value if finite else None, lc.message, lc.ci_low if finite else None,
                                      lc.ci_high if finite else None, lc.table_models, lc.weak and finite)
    return estimates


def _mismatch(frame: pd.DataFrame, table: DifficultyTable | None) -> str | None:
    """Why ``table`` is not this group's (fitted for another benchmark, judge or baseline), or None."""
    if table is None:
        return None
    first = frame.iloc[0]
    for what, ours, theirs in (("benchmark", first["benchmark"], table.benchmark),
                               ("judge", first["judge"], table.judge),
                               ("baseline", first["opponent"], table.baseline)):
        if theirs is not None and str(ours) != theirs:
            return (f"the difficulty table was fitted for {what} {theirs}, not {ours}: fit one for this "
                    "group (judgebench difficulty fit)")
    return None
