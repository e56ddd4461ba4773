"""Columns from records: the JSON path (Arrow) codes records exactly as the Python path does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import orjson
import pyarrow as pa

from hub.resolve.columns import ColumnsBuilder, JsonColumnsBuilder, read_json_lines

FIELDS = ("name", "phone", "birth_date")

ROWS: list[Mapping[str, object]] = [
    {"name": "王小明", "phone": "13900001111", "birth_date": "1980-01-02"},
    {"name": "李娜", "birth_date": "1991-12-30"},  # no phone
    {"name": "王小明", "phone": "", "birth_date": None, "other": "ignored"},  # empty and null: missing
    {"name": 'Zoë "quoted" \\ back', "phone": "13900001111"},
    {},
    {"name": "李娜", "phone": "13700002222", "birth_date": "1980-01-02"},
]


def _python(rows: Sequence[Mapping[str, object]]) -> dict[str, tuple[list[int], list[object]]]:
    builder = ColumnsBuilder(FIELDS)
    builder.add_many(rows)
    return {name: (c.codes.tolist(), c.distinct) for name, c in builder.columns().items()}


def _json(batches: Sequence[Sequence[Mapping[str, object]]]) -> dict[str, tuple[list[int], list[object]]]:
    builder = JsonColumnsBuilder(FIELDS)
    for batch in batches:
        builder.add_json([orjson.dumps(row) for row in batch])
    return {name: (c.codes.tolist(), c.distinct) for name, c in builder.columns().items()}


def test_json_columns_code_values_by_first_appearance_with_missing_and_empty_as_minus_one() -> None:
    got = _json([ROWS[:2], ROWS[2:]])  # codes carry on across batches
    assert got == _python(ROWS)
    assert got["name"] == ([0, 1, 0, 2, -1, 1], ["王小明", "李娜", 'Zoë "quoted" \\ back'])
    assert got["phone"] == ([0, -1, -1, 0, -1, 1], ["13900001111", "13700002222"])


def test_json_columns_of_nothing_are_empty() -> None:
    columns = JsonColumnsBuilder(FIELDS).columns()
    assert set(columns) == set(FIELDS)
    assert all(c.codes.size == 0 and c.distinct == [] for c in columns.values())


def test_json_columns_holding_other_types_go_on_in_python_with_the_same_codes() -> None:
    rows: list[Mapping[str, object]] = [
        {"name": "a", "phone": 5},
        {"name": "b", "phone": 5},
        {"name": "a", "phone": 7.5},
    ]
    batches: list[list[Mapping[str, object]]] = [
        [{"name": "x"}, {"name": "a"}],
        rows,
    ]  # the first batch went through Arrow
    got = _json(batches)
    assert got == _python([*batches[0], *rows])
    assert got["phone"] == ([-1, -1, 0, 0, 1], [5, 7.5])


def test_json_columns_agree_with_python_on_many_random_records() -> None:
    rng = np.random.default_rng(3)
    names = ["张伟", "王芳", "李娜", "刘洋", "", None]
    rows = [
        {
            "name": names[int(rng.integers(len(names)))],
            "phone": f"139{int(rng.integers(50)):08d}" if rng.random() < 0.7 else None,
            "birth_date": f"19{int(rng.integers(50, 99))}-01-01",
        }
        for _ in range(5000)
    ]
    assert _json([rows[i : i + 700] for i in range(0, len(rows), 700)]) == _python(rows)


def test_json_lines_over_many_blocks_keep_their_order_and_a_text_longer_than_a_block() -> None:
    """Arrow parses a batch in blocks of about a megabyte, side by side: the rows still come out in
    the texts' order, and a text longer than a block (a record with a very long free text) is read
    whole, not refused as straddling two blocks."""
    rows: list[dict[str, object]] = [{"name": f"名{i}" * 20, "phone": str(i)} for i in range(60_000)]
    rows.insert(30_000, {"name": "长" * 1_500_000, "phone": "long"})  # 4.5 MB of UTF-8
    texts = [orjson.dumps(row) for row in rows]
    assert sum(map(len, texts)) > 8 << 20  # several blocks
    schema = pa.schema([("name", pa.string()), ("phone", pa.string())])
    table = read_json_lines(texts, schema)
    assert table.column("name").num_chunks > 1
    assert table.to_pylist() == rows
