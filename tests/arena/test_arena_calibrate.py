"""`judgebench calibrate --labels arena.sqlite`: a human arena's counted votes as PPI++'s labels for a judge's
battles of the same benchmark (several votes on one battle are averaged into its label)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from judgebench.analysis.calibrated import calibrate
from judgebench.analysis.records import judgments_frame
from judgebench.formats.labels import read_labels
from judgebench.stats.ppi import ppi_mean
from tests.judgments import flat

from .test_arena_db import voted_db  # noqa: F401  (the fixture: six counted votes on items 81 to 84)

pytest.importorskip("ppi_py")


def test_the_arenas_votes_calibrate_the_judges_battles(voted_db: tuple[Path, list]) -> None:  # noqa: F811
    db, _ = voted_db
    labels = read_labels(db)
    benchmark = str(labels["benchmark"].iloc[0])
    # (item, model, opponent, the model's outcome by the judge): the voted battles, then three the arena has not
    verdicts = [("81", "gpt-4", "alpaca-13b", 1.0), ("82", "claude-v1", "alpaca-13b", 0.5),
                ("83", "alpaca-13b", "claude-v1", 1.0), ("84", "gpt-4", "claude-v1", 1.0),
                ("90", "gpt-4", "alpaca-13b", 1.0), ("91", "claude-v1", "gpt-4", 0.5),
                ("92", "gpt-4", "claude-v1", 0.0)]
    frame = judgments_frame([flat(benchmark=benchmark, item_id=item, category="writing", model=m, judge="j", turn=2,
                                  kind="battles", opponent=o, preference=1 + p) for item, m, o, p in verdicts])
    result = calibrate(frame, labels)
    gpt4 = next(c for c in result.estimates if c.model == "gpt-4" and c.quantity == "win rate")
    # gpt-4's labelled battles: 81 (three votes, all for gpt-4: 1) and 84 (one vote for claude-v1: 0); its
    # unlabelled ones: 90 (won), 91 (a tie), 92 (lost)
    expected = ppi_mean(np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([1.0, 0.5, 0.0]))
    low, high = expected.ci()  # a win rate's interval, clipped to [0, 1]
    assert (gpt4.ppi.value, gpt4.ppi.low, gpt4.ppi.high) == pytest.approx(
        (expected.estimate, max(low, 0.0), min(high, 1.0)), abs=1e-9)
    assert (gpt4.n_labelled, gpt4.n_items) == (2, 5)
    assert dict(result.n_unmatched) == {"j": 0}
