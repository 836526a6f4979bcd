"""The judgments table's schema (formats.table.JUDGMENT_COLUMNS) is what its frames hold, dtypes included."""

from __future__ import annotations

import pandas as pd

from judgebench.formats.table import COLUMNS, JUDGMENT_COLUMNS, judgments_frame
from tests.judgments import flat

KINDS = {"str": pd.api.types.is_object_dtype, "float": pd.api.types.is_float_dtype,
         "int": pd.api.types.is_integer_dtype, "bool": pd.api.types.is_bool_dtype}


def test_every_column_is_described_once_with_its_dtype() -> None:
    assert len(set(COLUMNS)) == len(COLUMNS) == len(JUDGMENT_COLUMNS)
    assert all(c.description and c.dtype in KINDS for c in JUDGMENT_COLUMNS)
    frame = judgments_frame([flat("b", "q1", "math", "m", "j", 1, "single", score=7.0, scale=(1, 10)),
                             flat("b", "q2", "math", "m", "j", 1, "pairwise", opponent="r", verdict_ab="win",
                                      verdict_ba="tie", preference=1.75, error=None)], run_id="run")
    assert list(frame.columns) == COLUMNS
    for column in JUDGMENT_COLUMNS:
        dtype = frame[column.name].dtype
        is_text = column.dtype == "str" and (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype))
        assert is_text or KINDS[column.dtype](dtype), (column.name, dtype)
