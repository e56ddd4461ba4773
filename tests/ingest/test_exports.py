"""Exports as departments hand them over (tests/data/, written by make_exports.py): a GB18030 CSV
without `--encoding`, a workbook with Chinese headers and its source's mapping, and a mostly bad file
that fails loudly, naming its reasons, while its good rows still go in."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest import ingest_file, open_source
from hub.store.database import make_engine
from hub.store.models import IngestRun, Quarantine, RecordVersion, SourceMapping, SourceRecord

DATA = Path(__file__).resolve().parents[1] / "data"
Hub = Callable[..., tuple[int, str, str]]


def flat(text: str) -> str:
    return " ".join(text.split())


def payloads(database_url: str) -> dict[str, dict[str, object]]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(SourceRecord.key, RecordVersion.payload)
                .join(RecordVersion, RecordVersion.record_id == SourceRecord.id)
                .where(RecordVersion.version == SourceRecord.version)
            )
            return {key: payload for key, payload in rows}
    finally:
        engine.dispose()


def runs(database_url: str) -> list[tuple[str | None, bool | None, int | None]]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(IngestRun.encoding, IngestRun.encoding_detected, IngestRun.mapping_version).order_by(
                    IngestRun.id
                )
            )
            return [(encoding, detected, version) for encoding, detected, version in rows]
    finally:
        engine.dispose()


def count(database_url: str, model: type[object]) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


def test_a_gb18030_csv_without_encoding_loads_every_row(hub: Hub, database_url: str) -> None:
    path = DATA / "migrants_gb18030.csv"
    code, out, err = hub(
        database_url, "ingest", str(path), "--source", "migrant_registry", "--kind", "person"
    )
    assert code == 0, err
    assert "encoding: gb18030 (detected)" in err
    assert "new=8 changed=0 unchanged=0 quarantined=0" in out
    stored = payloads(database_url)
    # Chinese headers the hub knows by itself became the contract's fields; the text is not garbled.
    assert stored["LD008"] == {
        "key": "LD008",
        "name": "王丽",
        "id_number": stored["LD008"]["id_number"],
        "gender": "女",
        "phone": "15205121241",
        "address": "常熟市尚湖镇练塘街9号",
        "registered_address": "广西壮族自治区贵港市",
    }
    assert str(stored["LD008"]["id_number"]).startswith("45088119940909004")
    assert runs(database_url) == [("gb18030", True, None)]


def test_a_given_encoding_is_shown_as_given(hub: Hub, database_url: str) -> None:
    path = DATA / "migrants_gb18030.csv"
    code, _out, err = hub(
        database_url, "ingest", str(path), "--source", "m", "--kind", "person", "--encoding", "GBK"
    )
    assert code == 0, err
    assert "encoding: gb18030 (given)" in err
    assert runs(database_url) == [("gb18030", False, None)]


def test_a_utf16_csv_with_its_byte_order_mark_is_detected(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "rental.csv"
    path.write_bytes(
        "key,姓名,地址\r\nR1,王伟,泉辛新村16幢1单元702室\r\nR2,李娜,杨山村北港组3号\r\n".encode("utf-16")
    )
    code, out, err = hub(database_url, "ingest", str(path), "--source", "rental_registry", "--kind", "person")
    assert code == 0, err
    assert "encoding: utf-16 (detected)" in err
    assert "new=2" in out
    assert payloads(database_url)["R2"] == {"key": "R2", "name": "李娜", "address": "杨山村北港组3号"}


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("rental.txt", "utf-16"),  # a spreadsheet saved as "Unicode text"
        ("rental.tsv", "gb18030"),  # a database's tab-separated export
    ],
)
def test_a_tab_separated_export_named_txt_or_tsv_is_read_as_a_table(
    hub: Hub, database_url: str, tmp_path: Path, name: str, encoding: str
) -> None:
    path = tmp_path / name
    path.write_bytes(
        "key\t姓名\t地址\r\nR1\t王伟\t泉辛新村16幢1单元702室\r\nR2\t李娜\t杨山村北港组3号\r\n".encode(
            encoding
        )
    )
    code, out, err = hub(database_url, "ingest", str(path), "--source", "rental_registry", "--kind", "person")
    assert code == 0, err
    assert f"encoding: {encoding} (detected)" in err and "separator: tab (detected)" in err
    assert "new=2 changed=0 unchanged=0 quarantined=0" in out
    assert payloads(database_url)["R2"] == {"key": "R2", "name": "李娜", "address": "杨山村北港组3号"}


PRINTED_TABLES = {
    "mysql": (
        "+-----+------+------------------------+\n"
        "| key | 姓名 | 地址                   |\n"
        "+-----+------+------------------------+\n"
        "| R1  | 王伟 | 泉辛新村16幢1单元702室 |\n"
        "| R2  | 李娜 | -                      |\n"
        "| R3  | 张三 |\n"
        "+-----+------+------------------------+\n"
        "3 rows in set (0.00 sec)\n"
    ),
    "psql": (
        " key | 姓名 | 地址\n"
        "-----+------+------------------------\n"
        " R1  | 王伟 | 泉辛新村16幢1单元702室\n"
        " R2  | 李娜 | -\n"
        " R3  | 张三\n"
        "(3 行记录)\n"
        "\n"
    ),
    "markdown": (
        "| key | 姓名 | 地址 |\n"
        "|-----|:----:|------|\n"
        "| R1 | 王伟 | 泉辛新村16幢1单元702室 |\n"
        "| R2 | 李娜 | - |\n"
        "| R3 | 张三 |\n"
    ),
}


@pytest.mark.parametrize("printer", sorted(PRINTED_TABLES))
def test_a_table_a_database_console_printed_is_read_without_its_rules_and_padding(
    hub: Hub, database_url: str, tmp_path: Path, printer: str
) -> None:
    """A query's result copied from a console into a text file: its rules and row count are no rows,
    its edges no fields, the spaces that align it no part of the values; a row that lost a field is
    still quarantined."""
    path = tmp_path / f"{printer}.txt"
    path.write_text(PRINTED_TABLES[printer], encoding="utf-8")
    code, out, err = hub(database_url, "ingest", str(path), "--source", "rental", "--kind", "person")
    assert code == 0, err
    assert "separator: vertical bar, a printed table (detected)" in err
    assert "new=2 changed=0 unchanged=0 quarantined=1" in out, out + err
    stored = payloads(database_url)
    assert stored["R1"] == {"key": "R1", "name": "王伟", "address": "泉辛新村16幢1单元702室"}
    assert stored["R2"] == {"key": "R2", "name": "李娜", "address": "-"}
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            (reason,) = session.scalars(select(Quarantine.reason))
    finally:
        engine.dispose()
    assert reason.startswith("wrong field count")


def test_vertical_bars_without_a_printed_tables_frame_keep_their_values_as_written(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "dump.txt"
    path.write_text("key|姓名|地址\nR1| 王伟|泉辛新村16幢1单元702室\n", encoding="utf-8")
    code, _out, err = hub(database_url, "ingest", str(path), "--source", "rental", "--kind", "person")
    assert code == 0, err
    assert "separator: vertical bar (detected)" in err
    assert payloads(database_url)["R1"]["name"] == " 王伟"


@pytest.mark.parametrize("suffix", ["xlsx", "xls"])
def test_a_workbook_with_chinese_headers_and_its_mapping(
    hub: Hub, database_url: str, tmp_path: Path, suffix: str
) -> None:
    workbook = DATA / f"household_export.{suffix}"
    code, out, err = hub(
        database_url, "sources", "map", "household_registry", str(DATA / "household_export.toml")
    )
    assert code == 0, err
    assert "household_registry: mapping version 1" in out
    code, out, err = hub(
        database_url, "ingest", str(workbook), "--source", "household_registry", "--kind", "person"
    )
    assert code == 0, err
    assert "new=4 changed=0 unchanged=0 quarantined=0" in out
    assert "mapping: version 1 of household_registry's" in err
    stored = payloads(database_url)
    assert stored["HJ0001"] == {
        "key": "HJ0001",
        "name": "王伟",
        "gender": "男",  # 1 in the workbook, by the mapping's value map
        "id_number": stored["HJ0001"]["id_number"],
        "birth_date": "1985-03-02",  # 1985年03月02日, by the mapping's date formats
        "phone": "13912345678",  # a number cell, without ".0"
        "address": "江苏省常熟市虞山街道海虞北路18号",
        "registered_address": "江苏省常熟市虞山街道海虞北路18号",
    }
    assert stored["HJ0002"]["birth_date"] == "1990-07-15"  # a date cell
    assert stored["HJ0002"]["gender"] == "女"
    assert stored["HJ0003"]["birth_date"] == "1977-11-30"  # 19771130
    assert stored["HJ0004"]["birth_date"] == "1960-02-28"  # 1960年2月28日
    assert "phone" not in stored["HJ0003"] or stored["HJ0003"]["phone"] == ""

    # A new version of the mapping is used by the next ingest, which records it.
    changed = tmp_path / "household_v2.toml"
    changed.write_text((DATA / "household_export.toml").read_text(encoding="utf-8").replace('"男"', '"M"'))
    code, out, err = hub(database_url, "sources", "map", "household_registry", str(changed))
    assert (code, "mapping version 2" in out) == (0, True), err
    code, out, err = hub(
        database_url, "ingest", str(workbook), "--source", "household_registry", "--kind", "person"
    )
    assert code == 0, err
    assert "new=0 changed=2 unchanged=2" in out  # the two men: 男 became M
    assert payloads(database_url)["HJ0001"]["gender"] == "M"
    assert runs(database_url) == [(None, False, 1), (None, False, 2)]
    assert count(database_url, SourceMapping) == 2
    code, out, _err = hub(database_url, "sources", "mapping", "household_registry")
    assert out.startswith("# household_registry: mapping version 2 from household_v2.toml, stored by ")
    assert out.split("\n", 1)[1] == changed.read_text(encoding="utf-8")
    code, out, _err = hub(database_url, "sources", "mapping", "household_registry", "--version", "1")
    assert "mapping version 1 from household_export.toml" in out and '"1" = "男"' in out
    code, _out, err = hub(database_url, "sources", "mapping", "household_registry", "--version", "3")
    assert code == 2 and "'household_registry' has no version 3" in err


def test_a_workbook_without_its_key_column_fails_loudly(hub: Hub, database_url: str) -> None:
    workbook = DATA / "household_export.xlsx"
    code, out, err = hub(
        database_url, "ingest", str(workbook), "--source", "household_registry", "--kind", "person"
    )
    assert code == 1
    assert "quarantined=4" in out
    message = flat(err)
    assert "4 of 4 rows of household_export.xlsx (100%) were quarantined, over --max-bad-rows 50%" in message
    assert "4 × missing key" in message
    assert "hub sources map household_registry FILE" in message
    assert count(database_url, Quarantine) == 4


def test_a_mostly_bad_file_exits_non_zero_naming_its_reasons(hub: Hub, database_url: str) -> None:
    path = DATA / "grid_mostly_bad.csv"
    code, out, err = hub(database_url, "ingest", str(path), "--source", "grid_collection", "--kind", "person")
    assert code == 1
    assert "new=1 changed=0 unchanged=0 quarantined=6" in out
    message = flat(err)
    assert "6 of 7 rows of grid_mostly_bad.csv (86%) were quarantined, over --max-bad-rows 50%" in message
    assert "1 good row is stored" in message
    assert "4 × missing key (first at line 3:" in message
    assert "2 × wrong field count (first at line 5: wrong field count: 3 fields, the header has 4)" in message
    assert "hub quarantine list --source grid_collection --file grid_mostly_bad.csv" in message
    # Nothing is lost: the good row is stored, each bad one quarantined with its reason.
    assert list(payloads(database_url)) == ["W01"]
    assert count(database_url, Quarantine) == 6


@pytest.mark.parametrize(("limit", "code"), [("90%", 0), ("0.9", 0), ("0.8", 1), ("0", 1), ("1", 0)])
def test_max_bad_rows_sets_the_share_that_fails(hub: Hub, database_url: str, limit: str, code: int) -> None:
    path = DATA / "grid_mostly_bad.csv"  # 6 of 7 rows bad: 86%
    result = hub(
        database_url,
        "ingest",
        str(path),
        "--source",
        "grid_collection",
        "--kind",
        "person",
        "--max-bad-rows",
        limit,
    )
    assert result[0] == code
    assert ("were quarantined, over --max-bad-rows" in result[2]) == (code == 1)


@pytest.mark.parametrize("limit", ["150%", "2", "half", "-0.1"])
def test_a_share_out_of_range_is_refused(hub: Hub, database_url: str, limit: str) -> None:
    path = DATA / "grid_mostly_bad.csv"
    code, _out, err = hub(
        database_url, "ingest", str(path), "--source", "g", "--kind", "person", "--max-bad-rows", limit
    )
    assert code == 2
    assert "expected a fraction from 0 to 1 (0.5) or a percentage (50%)" in flat(err)
    assert count(database_url, IngestRun) == 0


def test_an_encoding_problem_past_the_start_fails_with_the_hint(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    """Two exports pasted together: UTF-8 for the first 64 KiB that detection reads, GB18030 after."""
    lines = ["key,name,address"]
    lines += [f"u{i},王伟{i},江苏省常熟市虞山街道海虞北路{i}号" for i in range(1200)]
    utf8 = ("\n".join(lines) + "\n").encode()
    assert len(utf8) > 1 << 16
    gb = "".join(f"g{i},李娜{i},常熟市琴川街道泉辛新村{i}幢\n" for i in range(1500)).encode("gb18030")
    path = tmp_path / "pasted.csv"
    path.write_bytes(utf8 + gb)
    code, out, err = hub(database_url, "ingest", str(path), "--source", "s", "--kind", "person", "--quiet")
    assert code == 1
    assert "new=1200 changed=0 unchanged=0 quarantined=1500" in out
    message = flat(err)
    assert "encoding: utf-8 (detected)" in message
    assert "1500 × not valid utf-8" in message
    assert (
        "hint: the rows do not decode as utf-8: the file may be in another encoding; try --encoding gb18030"
        in message
    )


def test_a_bad_mapping_file_gets_one_clear_line(hub: Hub, database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text('[columns]\n"姓名" = "name"\n"身份证" = "id_numbr"\n', encoding="utf-8")
    code, _out, err = hub(database_url, "sources", "map", "grid_collection", str(path))
    assert code == 2
    assert err.startswith("error: grid.toml, line 3: column '身份证': unknown field 'id_numbr'")
    assert count(database_url, SourceMapping) == 0


def test_an_unreadable_workbook_is_refused_before_anything_is_stored(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    code, _out, err = hub(database_url, "ingest", str(path), "--source", "s", "--kind", "person")
    assert code == 2
    assert "broken.xlsx: not a readable .xlsx workbook" in flat(err)
    assert count(database_url, IngestRun) == 0


def test_the_export_files_are_what_make_exports_writes(tmp_path: Path) -> None:
    """The committed files are the script's output, so the script documents them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_exports", DATA / "make_exports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__dict__["HERE"] = tmp_path
    module.main()
    for name in (
        "household_export.xlsx",
        "household_export.toml",
        "migrants_gb18030.csv",
        "grid_mostly_bad.csv",
    ):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    rows = list(csv.reader(io.StringIO((DATA / "migrants_gb18030.csv").read_bytes().decode("gb18030"))))
    assert len(rows) == 9


RECORDS = [
    {"编号": "a1", "姓名": "王伟", "住址": "江苏省常熟市虞山街道海虞北路18号"},
    {"key": "a2", "name": "李娜", "phone": "13912345678"},
]


def encoded(fmt: str, encoding: str) -> bytes:
    if fmt == "json":
        text = json.dumps(RECORDS, ensure_ascii=False)
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)
    else:
        text = "编号,姓名,住址\na1,王伟,江苏省常熟市虞山街道海虞北路18号\n"
    return text.encode(encoding)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("utf-16", "utf-16"), ("gb18030", "gb18030")],
)
def test_every_format_reads_in_every_detected_encoding(
    engine: Engine, tmp_path: Path, fmt: str, encoding: str, detected: str
) -> None:
    path = tmp_path / f"p.{fmt}"
    path.write_bytes(encoded(fmt, encoding))
    summary = ingest_file(engine, path, "s", Kind.PERSON)
    assert (summary.encoding, summary.encoding_detected) == (detected, True)
    assert (summary.new, summary.quarantined) == (1 if fmt == "csv" else 2, 0)
    with Session(engine) as session:
        payload = session.scalar(
            select(RecordVersion.payload)
            .join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == "a1")
        )
    assert payload == {"key": "a1", "name": "王伟", "address": "江苏省常熟市虞山街道海虞北路18号"}


def test_rows_split_by_another_separator_fail_with_the_hint(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "semicolons.csv"
    path.write_text(
        "key,name,address\nk1;王伟;海虞北路18号\nk2;李娜;泉辛新村16幢\nk3,张敏,杨山村3号\n", encoding="utf-8"
    )
    code, out, err = hub(database_url, "ingest", str(path), "--source", "s", "--kind", "person")
    assert code == 1
    assert "new=1 changed=0 unchanged=0 quarantined=2" in out
    assert (
        "hint: most rows have another number of fields than the header: is a separator inside a value"
        " not quoted, or are the rows separated otherwise than the header?" in flat(err)
    )


@pytest.mark.parametrize(
    ("separator", "name", "encoding"),
    [
        ("\t", "tab", "utf-16"),
        (";", "semicolon", "utf-8"),
        ("|", "vertical bar", "gb18030"),
        ("，", "full-width comma", "gb18030"),
        ("；", "full-width semicolon", "utf-8"),
    ],
)
def test_a_csv_separated_otherwise_is_read_with_its_separator(
    hub: Hub, database_url: str, tmp_path: Path, separator: str, name: str, encoding: str
) -> None:
    """A spreadsheet's "Unicode text" export (UTF-16, tabs), one saved where the comma is the decimal
    mark (semicolons), a database dump (bars), a list typed with a Chinese input method (full-width
    commas or semicolons): the separator is read off the header and said."""
    path = tmp_path / "rental.csv"
    rows = [
        ["编号", "姓名", "地址"],
        ["R1", "王伟", "泉辛新村16幢1单元702室"],
        ["R2", "李娜", '杨山村"北港组",3号'],
    ]
    text = "".join(
        separator.join(f'"{c.replace(chr(34), chr(34) * 2)}"' if '"' in c else c for c in row) + "\r\n"
        for row in rows
    )
    path.write_bytes(text.encode(encoding))
    code, out, err = hub(database_url, "ingest", str(path), "--source", "rental_registry", "--kind", "person")
    assert code == 0, err
    assert f"separator: {name} (detected)" in err
    assert "new=2 changed=0 unchanged=0 quarantined=0" in out
    assert payloads(database_url)["R2"] == {"key": "R2", "name": "李娜", "address": '杨山村"北港组",3号'}


@pytest.mark.parametrize(
    ("text", "separator", "first"),
    [
        ("key,name,remark\nk1,王伟,a;b;c\n", ",", {"key": "k1", "name": "王伟", "remark": "a;b;c"}),
        # a quoted header name with a comma inside, in a tab-separated export
        (
            'key\tname\t"地址(省,市)"\nk1\t王伟\t江苏,苏州\n',
            "\t",
            {"key": "k1", "name": "王伟", "地址(省,市)": "江苏,苏州"},
        ),
        # one column whose name holds a semicolon: the rows say it is one column
        ("key;备注\nk1\nk2\n", ",", {"key;备注": "k1"}),
        # bars inside the values of a semicolon file
        (
            "key;address;name\nk1;泉辛|16幢;王伟\nk2;杨山|3号;李娜\n",
            ";",
            {"key": "k1", "address": "泉辛|16幢", "name": "王伟"},
        ),
        # blank lines and a title row above the header, as a sheet with a merged title saves
        (
            "\n2023年出租房屋登记表,,\nkey,name,remark\nk1,王伟,\n",
            ",",
            {"key": "k1", "name": "王伟", "remark": ""},
        ),
        ("2023年出租房屋登记表\nkey\tname\nk1\t王伟\nk2\t李娜\n", "\t", {"key": "k1", "name": "王伟"}),
        ("\n\nkey\nk1\n", ",", {"key": "k1"}),
        # full-width commas inside the values of a comma file
        (
            "key,name,remark\nk1,王伟,张三，李四，王五\n",
            ",",
            {"key": "k1", "name": "王伟", "remark": "张三，李四，王五"},
        ),
        # ASCII commas inside the values of a file typed with full-width ones
        (
            "编号，姓名，地址\nk1，王伟，江苏,苏州\n",
            "，",
            {"编号": "k1", "姓名": "王伟", "地址": "江苏,苏州"},
        ),
    ],
    ids=[
        "comma",
        "tab-with-quoted-comma",
        "one-column",
        "semicolon-with-bars",
        "title-and-blank-line",
        "title-over-tabs",
        "blank-lines-over-one-column",
        "comma-with-full-width-commas",
        "full-width-comma-with-commas",
    ],
)
def test_the_separator_and_header_are_the_ones_the_rows_agree_on(
    tmp_path: Path, text: str, separator: str, first: dict[str, str]
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    with open_source(path) as reader:
        rows = list(reader)
        assert reader.separator == separator
    assert rows[0].value == first
