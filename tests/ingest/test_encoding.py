"""A likely wrong `--encoding` given is refused before anything is stored, naming the encoding the file
reads as; left out, the encoding is detected (tests/ingest/test_exports.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import UnreadableFileError
from hub.ingest import ingest_file
from hub.store.database import make_engine
from hub.store.models import IngestRun, Quarantine, RecordVersion, SourceRecord

PEOPLE = [
    {"key": "p1", "name": "王伟", "address": "江苏省苏州市常熟市虞山街道海虞北路18号"},
    {"key": "p2", "name": "李娜", "address": "苏州市姑苏区人民路100号3幢2单元401室"},
    {"key": "p3", "name": "张敏", "phone": "13912345678"},
]
Hub = Callable[..., tuple[int, str, str]]


def jsonl(records: list[dict[str, str]], encoding: str) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode(encoding)


def csv(records: list[dict[str, str]], encoding: str) -> bytes:
    lines = ["key,name,address"] + [f"{r['key']},{r['name']},{r.get('address', '')}" for r in records]
    return ("\n".join(lines) + "\n").encode(encoding)


def stored(database_url: str) -> tuple[int, int, int]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return (
                session.scalar(select(func.count()).select_from(IngestRun)) or 0,
                session.scalar(select(func.count()).select_from(SourceRecord)) or 0,
                session.scalar(select(func.count()).select_from(Quarantine)) or 0,
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_utf8_file_read_as_gb18030_is_refused(hub: Hub, database_url: str, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"p.{fmt}"
    path.write_bytes((jsonl if fmt == "jsonl" else csv)(PEOPLE, "utf-8"))
    code, out, err = hub(
        database_url, "ingest", str(path), "--source", "s", "--kind", "person", "--encoding", "gb18030"
    )
    assert code != 0
    assert "the file reads as UTF-8, not GB18030; pass --encoding utf-8" in " ".join((out + err).split())
    assert stored(database_url) == (0, 0, 0)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_gb18030_file_read_as_utf8_is_refused(hub: Hub, database_url: str, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"p.{fmt}"
    path.write_bytes((jsonl if fmt == "jsonl" else csv)(PEOPLE, "gb18030"))
    code, out, err = hub(
        database_url, "ingest", str(path), "--source", "s", "--kind", "person", "--encoding", "utf-8"
    )
    assert code != 0
    assert "the file reads as GB18030, not UTF-8; pass --encoding gb18030" in " ".join((out + err).split())
    assert stored(database_url) == (0, 0, 0)


def test_the_right_encoding_still_reads_and_ascii_reads_as_either(engine: Engine, tmp_path: Path) -> None:
    gb = tmp_path / "gb.csv"
    gb.write_bytes(csv(PEOPLE, "gb18030"))
    assert ingest_file(engine, gb, "a", Kind.PERSON, encoding="gb18030").new == 3
    ascii_only = tmp_path / "ascii.jsonl"
    ascii_only.write_bytes(jsonl([{"key": "p9", "name": "Wang Wei"}], "utf-8"))
    assert ingest_file(engine, ascii_only, "b", Kind.PERSON, encoding="gb18030").new == 1


def test_utf8_bom_read_as_gb18030_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfkey,name\np1,Wang\n")
    with pytest.raises(UnreadableFileError, match="reads as UTF-8, not GB18030"):
        ingest_file(engine, path, "a", Kind.PERSON, encoding="gb18030")


def test_one_gb18030_row_in_a_utf8_file_is_quarantined_naming_gb18030(engine: Engine, tmp_path: Path) -> None:
    stray = jsonl([{"key": "p4", "name": "华盛"}], "gb18030")
    broken = b'{"key": "p5", "name": "\xff\xff"}\n'
    path = tmp_path / "p.jsonl"
    path.write_bytes(jsonl(PEOPLE, "utf-8") + stray + broken)
    summary = ingest_file(engine, path, "a", Kind.PERSON)
    assert (summary.new, summary.quarantined) == (3, 2)
    with Session(engine) as session:
        reasons = list(session.scalars(select(Quarantine.reason).order_by(Quarantine.line)))
        assert session.scalar(select(func.count()).select_from(RecordVersion)) == 3
    assert reasons[0].startswith("not valid utf-8: byte 0xbb at position 23")
    assert "reads as GB18030" in reasons[0]
    assert "GB18030" not in reasons[1]  # bytes that are neither: no false lead
