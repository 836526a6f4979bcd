"""The task kinds of published protocols (AlpacaEval 2.0's annotator, Arena-Hard, arena-bench, ...): each
reproduces its anchor's judge call and aggregation, built on the kinds of ``judging.kinds``, one module per
protocol. ``PROTOCOL_KINDS`` is what ``judging.kinds.KINDS`` adds to its registry."""

from __future__ import annotations

from ..strategies import JudgingKind
from .alpaca_eval import AlpacaEvalAnnotator
from .arena_hard import ArenaHardV01, ArenaHardV2
from .graded import ArenaBenchSingle, FastChatSingle

PROTOCOL_KINDS: tuple[JudgingKind, ...] = (AlpacaEvalAnnotator(), ArenaHardV01(), ArenaHardV2(), FastChatSingle(),
                                           ArenaBenchSingle())
