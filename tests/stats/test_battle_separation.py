"""A model that wins (or loses) every game has no finite Bradley-Terry score: the ranking says so."""

from __future__ import annotations

import pandas as pd

from judgebench.analysis.battles import battle_groups
from judgebench.analysis.records import judgments_frame
from judgebench.publish.battle_tables import format_battles
from judgebench.stats.battle_ranking import games_frame, separated
from judgebench.types import Judgment
from tests.judgments import flat


def _judgment(item: str, model: str, opponent: str, ab: str, ba: str) -> Judgment:
    points = {"win": 1.0, "tie": 0.5, "loss": 0.0}
    return flat(benchmark="b", item_id=item, category="c", model=model, judge="j", turn=1, kind="battles",
                    opponent=opponent, verdict_ab=ab, verdict_ba=ba, preference=1 + (points[ab] + points[ba]) / 2)


def test_models_that_win_or_lose_every_game_are_named() -> None:
    judgments = []
    for i in range(5):
        judgments += [_judgment(str(i), "top", "mid", "win", "win"), _judgment(str(i), "mid", "low", "win", "win"),
                      _judgment(str(i), "top", "low", "win", "win"), _judgment(str(i), "mid", "x", "tie", "loss"),
                      _judgment(str(i), "x", "low", "win", "win")]
    frame = judgments_frame(judgments)
    assert separated(games_frame(frame)) == (("top",), ("low",))
    (group,) = battle_groups(frame, n_bootstrap=20)
    assert group.separation_note is not None and "top won every game" in group.separation_note
    assert "low lost every game" in group.separation_note
    assert f"note: {group.separation_note}" in format_battles([group])
    # A tie anywhere makes a model's strength finite again.
    assert separated(pd.DataFrame({"model_a": ["a", "a"], "model_b": ["b", "b"], "outcome": [1.0, 0.5]})) == ((), ())
