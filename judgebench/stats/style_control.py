"""Style control for Bradley-Terry, as Chatbot Arena and Arena-Hard v2 do it: the judge's preference for longer or
more formatted answers is fitted jointly with the models' strengths, so a strength is what a model wins *at equal
style*. Pure.

Each game's covariates are the normalized differences ``(a - b) / (a + b)`` (0 when both are 0) of its two
answers' length in characters and of their markdown counts (headers, list items, bold spans; code blocks left
out, see ``stats.style``), each divided by its root mean square over the (weighted) games, so a coefficient is
the change in log-odds of winning per typical difference. The logit of a game is then
``strength_a - strength_b + coefficients . differences``, fitted by ``bradley_terry.fit_logistic_strengths``.

The references also subtract each difference's mean before dividing. We do not: our games are oriented from the
judged model's side (Arena-Hard's and AlpacaEval's files compare every model with one baseline), where the mean
difference is far from zero, and subtracting it would add a constant to every model-vs-baseline logit, so a
"style-controlled" score would still credit the average style gap, and reading a game from the other side would
change the fit. Where games are oriented at random (Chatbot Arena's votes) the mean is about zero and the root
mean square is the standard deviation, as there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

# The covariates, in the order their coefficients are reported; each is a pair of game columns <name>_a, <name>_b.
STYLE_FEATURES = ("length", "headers", "lists", "bold")
STYLE_COLUMNS = [f"{name}_{side}" for name in STYLE_FEATURES for side in ("a", "b")]


@dataclass(frozen=True)
class StyleCoefficient:
    """A style covariate's fitted coefficient: log-odds of winning per root-mean-square normalized difference
    (positive: the judge prefers the answer with more of it, whatever the model), with its 95% interval."""

    name: str
    value: float
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, eq=False)
class StyleDesign:
    """The games' scaled style differences (one column per name in ``names``); ``left_out``: covariates in which
    no two answers differ, which carry no information and are not fitted."""

    names: tuple[str, ...]
    features: np.ndarray = field(repr=False)
    scales: tuple[float, ...]
    left_out: tuple[str, ...] = ()


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)``, 0 where both are 0: a difference in [-1, 1] whatever the answers' size."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    total = a + b
    return np.divide(a - b, total, out=np.zeros_like(total), where=total != 0)


def missing_style(games: pd.DataFrame) -> str | None:
    """Why the games' style covariates cannot be had (one sentence), or None when every game has them."""
    absent = [c for c in STYLE_COLUMNS if c not in games.columns]
    if absent:
        return "the games carry no style columns (" + ", ".join(absent) + ")"
    values = games[STYLE_COLUMNS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    lacking = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
    if lacking.all():
        return ("no game has its answers' length and markdown counts (judgment files read without the answers' "
                "texts), so style control was not fitted")
    if lacking.any():
        return (f"{int(lacking.sum())} of {len(games)} games lack their answers' length or markdown counts, so "
                "style control was not fitted")
    return None


def style_design(games: pd.DataFrame) -> StyleDesign:
    """The scaled style differences of ``games`` (see ``missing_style`` first: every game must have them). The
    root mean square weighs each game by its weight, so a game of weight 3 scales as three games do."""
    weight = games["weight"].to_numpy(dtype=float) if "weight" in games else np.ones(len(games))
    columns, names, scales, left_out = [], [], [], []
    for name in STYLE_FEATURES:
        diff = normalized_difference(games[f"{name}_a"].to_numpy(dtype=float), games[f"{name}_b"].to_numpy(dtype=float))
        scale = float(np.sqrt(np.average(diff ** 2, weights=weight))) if weight.sum() > 0 else 0.0
        if scale == 0.0:
            left_out.append(name)
            continue
        columns.append(diff / scale)
        names.append(name)
        scales.append(scale)
    features = np.column_stack(columns) if columns else np.zeros((len(games), 0))
    return StyleDesign(tuple(names), features, tuple(scales), tuple(left_out))
