"""Every threshold the diagnostics flag by, defined once (the report, the badges and the tests read these)."""

from __future__ import annotations

# Position bias: a judge whose two orders agree on fewer questions than this is flagged (defined beside the
# statistic, so the score rows' own flag reads the same number).
from ..stats.position_bias import LOW_CONSISTENCY

# Saturation: a model whose grades sit at the scale's top this often, or at its top two values this often.
SHARE_AT_MAX = 0.5
SHARE_AT_TOP_TWO = 0.75
# ...with at least this many grades to judge by.
MIN_GRADES = 10
# Separability: at most this share of model pairs (of three or more models) with non-overlapping intervals.
MIN_SEPARABILITY = 0.5

__all__ = ["LOW_CONSISTENCY", "MIN_GRADES", "MIN_SEPARABILITY", "SHARE_AT_MAX", "SHARE_AT_TOP_TWO"]
