"""Position bias from the two orders of every pairwise question, as the MT-Bench paper defines it (Zheng et al.
2023, Table 2): a question is *consistent* when the judge picks the same answer (or a tie) in both orders;
an inconsistent one is *biased to the first* (or second) position when the first (second) position won more
of the two games; *error* when either verdict is missing.

Verdicts here are seen from the candidate: ``verdict_ab`` with the candidate shown first, ``verdict_ba`` with
it shown second, each "win", "loss" or "tie".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..lazy import on_first_use

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


CLASSES = ("consistent", "biased_first", "biased_second", "error")
# Below this share of questions with the same verdict in both orders, a judge (analysis.diagnostics) and a model's
# win rate (ScoreRow.order_biased, on every surface) are flagged: most of its ties are then the two orders
# disagreeing, not answers of equal quality, and a win rate near 50 says nothing. MT-Bench's GPT-4 agrees with
# itself on 65% of questions, GPT-3.5 on 46%, Claude-v1 on 24% (Zheng et al. 2023, Table 2).
LOW_CONSISTENCY = 0.6


def order_biased(agreement: float | None) -> bool:
    """Whether a share of order agreement is too low for the win rate to be read (``LOW_CONSISTENCY``)."""
    return agreement is not None and agreement < LOW_CONSISTENCY


@dataclass(frozen=True)
class PositionBias:
    """Shares of the four classes (in [0, 1]) over ``n`` questions of one group; the group's keys are set, the
    others None."""

    n: int
    consistent: float
    biased_first: float
    biased_second: float
    error: float
    benchmark: str | None = None
    judge: str | None = None
    category: str | None = None
    model: str | None = None
    opponent: str | None = None


def classify(verdict_ab: str | None, verdict_ba: str | None) -> str:
    """One question's class from its two verdicts."""
    if verdict_ab is None or verdict_ba is None or pd.isna(verdict_ab) or pd.isna(verdict_ba):
        return "error"
    if verdict_ab == verdict_ba:
        return "consistent"
    # The position that won each game: in AB the candidate is first, in BA it is second.
    first_ab = {"win": 1, "loss": -1, "tie": 0}[verdict_ab]
    first_ba = {"win": -1, "loss": 1, "tie": 0}[verdict_ba]
    return "biased_first" if first_ab + first_ba > 0 else "biased_second"


def position_bias(frame: pd.DataFrame, by: list[str] | None = None) -> list[PositionBias]:
    """Class shares overall or per group (``by``: columns among benchmark, judge, category, model, opponent) of
    questions asked in both orders."""
    # Files that hold one combined preference per question (AlpacaEval's), and verdicts given in one order only (a
    # human arena's votes), say nothing about order; a judgment that failed in either order does.
    single_order = ((frame["verdict_ab"].isna() | frame["verdict_ba"].isna()) & frame["preference"].notna()
                    & frame["error"].isna())
    data = frame[~single_order]
    if data.empty:
        return []
    classes = pd.Series([classify(a, b) for a, b in zip(data["verdict_ab"], data["verdict_ba"], strict=True)],
                        index=data.index, name="class")
    data = data.assign(**{"class": classes})
    groups = data.groupby(by, sort=True) if by else [((), data)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        shares = group["class"].value_counts(normalize=True)
        keys: dict[str, str | None] = {k: str(v) for k, v in zip(by or [], key, strict=True)}
        consistent, first, second, error = (float(shares.get(c, 0.0)) for c in CLASSES)
        rows.append(PositionBias(len(group), consistent, first, second, error, benchmark=keys.get("benchmark"),
                                 judge=keys.get("judge"), category=keys.get("category"), model=keys.get("model"),
                                 opponent=keys.get("opponent")))
    return rows
