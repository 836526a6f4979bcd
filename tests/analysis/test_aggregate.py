"""Every task kind has its aggregator (analysis.aggregate.AGGREGATORS), and none is left over."""

from __future__ import annotations

import pytest

from judgebench.analysis.aggregate import AGGREGATORS, aggregator_of
from judgebench.errors import DataError
from judgebench.judging.kinds import KINDS


def test_one_aggregator_per_kind() -> None:
    assert set(AGGREGATORS) == set(KINDS)


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(DataError, match="known kinds: single"):
        aggregator_of("tournament")
