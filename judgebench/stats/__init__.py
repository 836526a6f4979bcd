"""Statistics: pure functions over numpy arrays and pandas DataFrames. No I/O here (difficulty tables are read
and written by judgebench.formats.difficulty)."""

from .bradley_terry import BradleyTerry, bradley_terry, bradley_terry_with_ci
from .correlation import rank_correlation
from .length_control import (
    MIN_MODELS,
    DifficultyTable,
    LengthControlled,
    ModelAnnotations,
    fit_difficulty,
    length_controlled_winrate,
    length_controlled_winrates,
)
from .winrate import WinRate, bootstrap_ci, pairwise_winrate

__all__ = [
    "MIN_MODELS",
    "BradleyTerry",
    "DifficultyTable",
    "LengthControlled",
    "ModelAnnotations",
    "WinRate",
    "bootstrap_ci",
    "bradley_terry",
    "bradley_terry_with_ci",
    "fit_difficulty",
    "length_controlled_winrate",
    "length_controlled_winrates",
    "pairwise_winrate",
    "rank_correlation",
]
