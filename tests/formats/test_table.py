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


def test_a_column_store_gives_the_frame_its_rows_give() -> None:
    # A run keeps its judgments column by column (run.evaluate.RunFiles): every value kind a row holds (None, ints,
    # floats, bools in number columns; text and None elsewhere) must come out as the rows' own frame has it.
    from judgebench.formats.table import CONTENT_COLUMNS, NUMBER_COLUMNS, ColumnStore, columns_frame, rows_columns

    choices: list[list[object]] = [[None, 1, 7.5, True, 3], [None, "a", "b", "x" * 40]]
    rows = []
    for i in range(50):
        row: list[object] = []
        for k, name in enumerate(CONTENT_COLUMNS):
            pick = choices[0] if name in NUMBER_COLUMNS else choices[1]
            row.append(i % 3 + 1 if name == "turn" else bool(i % 2) if name == "empty" else pick[(i + k) % len(pick)])
        rows.append(tuple(row))
    store = ColumnStore()
    for row in rows:
        store.append(row)
    assert len(store) == len(rows)
    pd.testing.assert_frame_equal(columns_frame(store.columns(), "run"), columns_frame(rows_columns(rows), "run"),
                                  check_exact=True)


def test_a_column_store_keeps_a_column_of_one_value_as_one_value_and_gives_it_back_exactly() -> None:
    # Columns that never vary in a run (its benchmark, judge, scale, the numbers its kind never sets) are kept as
    # one value; one that varies late, by sign alone (0.0 then -0.0), by NaN, or from a number to None must still
    # come out as the rows' own frame has it.
    import math

    from judgebench.formats.table import CONTENT_COLUMNS, NUMBER_COLUMNS, ColumnStore, columns_frame, rows_columns

    late = {"score": [7.0] * 30 + [None], "length": [0.0] * 20 + [-0.0], "expected_score": [math.nan, 1.0],
            "headers": [3] * 25 + [3.0, True], "item_id": ["q"] * 40 + ["r"], "error": [None] * 39 + ["bad"],
            "turn": [1] * 35 + [2], "empty": [False] * 44 + [True]}
    rows = []
    for i in range(45):
        row: list[object] = []
        for name in CONTENT_COLUMNS:
            values = late.get(name)
            if values is not None:
                row.append(values[min(i, len(values) - 1)])
            else:
                row.append(1.5 if name in NUMBER_COLUMNS and name.startswith("scale") else None if name in
                           NUMBER_COLUMNS else "same")
        rows.append(tuple(row))
    store = ColumnStore()
    for row in rows:
        store.append(row)
    expected = columns_frame(rows_columns(rows), "run")
    pd.testing.assert_frame_equal(columns_frame(store.columns(), "run"), expected, check_exact=True)
    signs = [math.copysign(1.0, v) for v in columns_frame(store.columns())["length"]]
    assert signs == [1.0] * 20 + [-1.0] * 25
    assert len(columns_frame(ColumnStore().columns())) == 0


def test_a_run_frame_built_in_canonical_order_is_the_sorted_frame() -> None:
    # A run's statistics build its frame with the rows already in canonical order (analysis.records.canonical_frame)
    # instead of sorting a copy: the same frame, dtypes and values, whichever columns vary.
    import random

    from judgebench.analysis.records import canonical_frame, canonical_order
    from judgebench.formats.table import CONTENT_COLUMNS, NUMBER_COLUMNS, ColumnStore, columns_frame

    shuffled = random.Random(3)
    store = ColumnStore()
    for i in shuffled.sample(range(300), 300):
        values = {"item_id": f"q{i % 97}", "turn": 1 + i % 2, "model": "m" if i % 3 else "n", "score": float(i % 10),
                  "opponent": None if i % 5 else "r", "error": None if i % 7 else "bad", "empty": i % 11 == 0,
                  "benchmark": "b", "judge": "j", "protocol": "", "length": 12.0}
        store.append(tuple(values.get(name, None if name in NUMBER_COLUMNS else "same") for name in CONTENT_COLUMNS))
    expected = canonical_order(columns_frame(store.columns(), "run"))
    built = canonical_frame(store, "run")
    pd.testing.assert_frame_equal(built, expected, check_exact=True)
    assert not expected.equals(columns_frame(store.columns(), "run"))  # the rows did need ordering
    assert len(canonical_frame(ColumnStore(), "run")) == 0


def test_a_column_store_gives_the_same_columns_whichever_batch_a_column_starts_to_vary_in() -> None:
    # Rows wait and are put into the columns a batch at a time (ColumnStore.PENDING_ROWS): a column that varies in
    # the first batch, in a later one, at a batch's first or last row, by type alone (1 then 1.0 then True), by sign
    # alone (0.0 then -0.0) or never, and a length read between batches, give the rows' own columns exactly.
    import math

    from judgebench.formats.table import CONTENT_COLUMNS, NUMBER_COLUMNS, ColumnStore, columns_frame, rows_columns

    size = ColumnStore.PENDING_ROWS
    changes = {"score": (3, 9.5), "length": (size + 7, -0.0), "headers": (2 * size, 1.0), "lists": (size - 1, True),
               "item_id": (size, "other"), "error": (2 * size + 1, "bad"), "expected_score": (5, math.nan)}
    starts = {"length": 0.0, "headers": 1, "lists": 1, "score": 7.0, "expected_score": 2.0, "turn": 1, "empty": False}
    rows = []
    for i in range(2 * size + 40):
        row = []
        for name in CONTENT_COLUMNS:
            at, value = changes.get(name, (None, None))
            if at is not None and i >= at:
                row.append(value)
            else:
                row.append(starts.get(name, None if name in NUMBER_COLUMNS else "same"))
        rows.append(tuple(row))
    store = ColumnStore()
    for n, row in enumerate(rows, 1):
        store.append(row)
        if n == size + 3:
            assert len(store) == n and store.varies("score") and not store.varies("length")
    assert len(store) == len(rows)
    expected = rows_columns(rows)
    pd.testing.assert_frame_equal(columns_frame(store.columns(), "run"), columns_frame(expected, "run"),
                                  check_exact=True)
    signs = [math.copysign(1.0, v) for v in store.column("length")]
    assert signs == [1.0] * (size + 7) + [-1.0] * (len(rows) - size - 7)
    assert [type(v) for v in store.column("error")] == [type(v) for v in expected["error"]]
    assert not store.varies("judge") and store.first("judge") == "same"
