"""The registry of task kinds: name -> strategy (judging.strategies, judging.protocols). ``kind_of`` answers an
unknown name with the known ones. The strategies' modules import nothing from here, so the registry sits above
them and no kind imports another through it."""

from __future__ import annotations

from ..errors import DataError
from .protocols import PROTOCOL_KINDS
from .rubric import RubricGrading
from .strategies import BattleComparison, JudgingKind, PairwiseComparison, SingleGrading, is_empty

__all__ = ["KINDS", "JudgingKind", "is_empty", "kind_of"]

KINDS: dict[str, JudgingKind] = {kind.name: kind for kind in (SingleGrading(), PairwiseComparison(),
                                                             BattleComparison(), RubricGrading(),
                                                             *PROTOCOL_KINDS)}


def kind_of(name: str) -> JudgingKind:
    try:
        return KINDS[name]
    except KeyError:
        raise DataError(f"unknown task kind {name!r} in the judgments; known kinds: {', '.join(KINDS)}") from None
