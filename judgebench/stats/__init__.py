"""Statistics: pure functions over numpy arrays and pandas DataFrames. No I/O here (difficulty tables are read
and written by judgebench.formats.difficulty).

The public names are imported on first use (PEP 562): a module that needs one small piece (stats.style's markdown
counts, which judging uses) does not load the battle rankings and length-control fits with it."""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {**dict.fromkeys(("BradleyTerry", "bradley_terry", "bradley_terry_with_ci"), ".bradley_terry"),
         "rank_correlation": ".correlation", "WinRate": ".winrate", "bootstrap_ci": ".winrate",
         "pairwise_winrate": ".winrate",
         **dict.fromkeys(("MIN_MODELS", "DifficultyTable", "LengthControlled", "ModelAnnotations", "fit_difficulty",
                          "length_controlled_winrate", "length_controlled_winrates"), ".length_control")}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The function ``bradley_terry`` shares its module's name. Importing the module (as battle_ranking does) sets
    the package's attribute to the module; this keeps the function there once it has been looked up, and lets the
    module be imported on first use (scipy.optimize, about a second, is not loaded by what needs stats.style)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "bradley_terry" and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable through sys.modules; the name is the function's
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
