"""Readers go on after a bad row: JSON array elements, GB18030 detection, headers checked at open."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from hub.errors import UnreadableFileError
from hub.ingest.readers import NOT_READ_TO_END, RawRow, open_source

DATA = Path(__file__).resolve().parents[1] / "data"


def _rows(path: Path) -> list[RawRow]:
    with open_source(path) as reader:
        return list(reader)


def _array(tmp_path: Path, elements: list[str], tail: str = "\n]\n") -> Path:
    path = tmp_path / "people.json"
    path.write_text("[\n" + ",\n".join(elements) + tail, encoding="utf-8")
    return path


def _people(count: int) -> list[str]:
    return [json.dumps({"key": f"A{i}", "name": f"n{i}"}) for i in range(count)]


def test_a_broken_element_is_quarantined_alone(tmp_path: Path) -> None:
    elements = _people(3000)
    elements[1500] = '{"key": "A1500", broken}'
    rows = _rows(_array(tmp_path, elements))
    bad = [row for row in rows if row.error]
    assert len(rows) == 3000 and len(bad) == 1
    assert bad[0].text == '{"key": "A1500", broken}' and "element 1501" in str(bad[0].error)
    assert rows[-1].value == {"key": "A2999", "name": "n2999"}


def test_an_unclosed_string_ends_its_element_at_the_next_record_line(tmp_path: Path) -> None:
    elements = _people(5)
    elements[2] = '{"key": "A2", "name": "open}'
    rows = _rows(_array(tmp_path, elements))
    assert [row.error is None for row in rows] == [True, True, False, True, True]
    assert rows[2].text == elements[2] and "not closed" in str(rows[2].error)


def test_a_big_integer_is_read_and_deep_nesting_quarantined(tmp_path: Path) -> None:
    deep = '{"key": "D", "x": ' + "[" * 3000 + "]" * 3000 + "}"
    big = '{"key": "B", "n": 123456789012345678901234567890}'
    rows = _rows(_array(tmp_path, [big, deep, *_people(2)]))
    assert rows[0].value == {"key": "B", "n": 123456789012345678901234567890}
    assert rows[1].error is not None and rows[1].text == deep
    assert [row.error for row in rows[2:]] == [None, None]


def test_a_file_cut_inside_an_element_says_it_was_not_read_to_its_end(tmp_path: Path) -> None:
    rows = _rows(_array(tmp_path, [*_people(2), '{"key": "A9", "na'], tail=""))
    assert [row.error is None for row in rows] == [True, True, False]
    assert str(rows[2].error).startswith(NOT_READ_TO_END) and rows[2].text == '{"key": "A9", "na'


def test_gb18030_with_one_truncated_character_quarantines_only_that_row(tmp_path: Path) -> None:
    lines = [f"K{i},张{i}".encode("gb18030") for i in range(200)]
    lines[100] = "K100,张".encode("gb18030") + "王".encode("gb18030")[:1]
    path = tmp_path / "people.csv"
    path.write_bytes(b"key,name\n" + b"\n".join(lines) + b"\n")
    with open_source(path) as reader:
        assert reader.encoding == "gb18030"
        rows = list(reader)
    assert sum(row.error is not None for row in rows) == 1 and rows[0].value == {"key": "K0", "name": "张0"}


@pytest.mark.parametrize("header", ["key,name,name", "key,,name"])
def test_a_bad_csv_header_is_refused_when_opened(tmp_path: Path, header: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text(f"{header}\nA,b,c\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="empty or repeated"):
        open_source(path)


def _make_exports() -> ModuleType:
    """tests/data/make_exports.py, whose `write_xlsx` writes a workbook without a spreadsheet library."""
    spec = importlib.util.spec_from_file_location("make_exports", DATA / "make_exports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_bad_workbook_header_is_refused_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "people.xlsx"
    _make_exports().write_xlsx(path, [["key", "name", "name"], ["A", "b", "c"]])
    with pytest.raises(UnreadableFileError, match="empty or repeated"):
        open_source(path)


@pytest.mark.parametrize("where", [3, 6], ids=["mid-file", "last-row"])
def test_a_stray_quote_costs_its_own_row_only(tmp_path: Path, where: int) -> None:
    """An unclosed quote made the parser read every row below into one field: one quarantined row held
    the rest of the file. A quoted field over two lines is still one row."""
    lines = ["key,name,address"] + [f"K{i},张{i},常熟市{i}号" for i in range(1, 7)]
    lines[where] = f'K{where},"张{where},常熟市{where}号'
    lines.insert(2, 'K1b,"王\n伟",常熟市')  # a legitimate field over two lines
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = _rows(path)
    bad = [row for row in rows if row.error]
    assert len(bad) == 1
    if where < 6:  # on the last line the quote takes in nothing: a row of too few fields
        assert "not closed on its line" in (bad[0].error or "")
    assert bad[0].text == lines[where + 1 if where >= 2 else where]
    keys = [row.value["key"] for row in rows if row.value]
    assert keys == [k for k in ["K1", "K1b", "K2", "K3", "K4", "K5", "K6"] if k != f"K{where}"]
    assert next(row.value for row in rows if row.value and row.value["key"] == "K1b")["name"] == "王\n伟"
