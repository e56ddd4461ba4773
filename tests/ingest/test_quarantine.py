"""`hub quarantine list|show|export`, and a fixed file ingested again taking its rows out of the
quarantine: released, with the run that released them, and kept as evidence."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.store.database import make_engine
from hub.store.models import Quarantine, SourceRecord

Hub = Callable[..., tuple[int, str, str]]
DATA = Path(__file__).resolve().parents[1] / "data"

BAD = """\
key,name,address
W01,黄建华,泉辛新村16-1-702
,吴秀兰,杨山村三号
W03,胡国强,北景社区12幢,多出的一列
W04,曹敏,海虞北路18号
"""
FIXED = BAD.replace(",吴秀兰", "W02,吴秀兰").replace(",多出的一列", "")
HALF_FIXED = BAD.replace(",吴秀兰", "W02,吴秀兰")


def ingest(hub: Hub, database_url: str, path: Path, source: str = "grid_collection") -> tuple[int, str, str]:
    return hub(
        database_url, "ingest", str(path), "--source", source, "--kind", "person", "--max-bad-rows", "1"
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(database_url: str) -> list[tuple[int, int | None, bool, int | None]]:
    """Every quarantined row ever kept: (id, line, released, released by run)."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            found = session.execute(
                select(
                    Quarantine.id, Quarantine.line, Quarantine.released_at, Quarantine.released_by_run_id
                ).order_by(Quarantine.id)
            )
            return [(row_id, line, released is not None, run) for row_id, line, released, run in found]
    finally:
        engine.dispose()


def records(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return sorted(session.scalars(select(SourceRecord.key)))
    finally:
        engine.dispose()


def exported(hub: Hub, database_url: str, *args: str) -> list[dict[str, str]]:
    code, out, err = hub(database_url, "quarantine", "export", *args)
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def test_list_filters_by_source_file_and_reason(hub: Hub, database_url: str, tmp_path: Path) -> None:
    ingest(hub, database_url, write(tmp_path, "grid.csv", BAD))
    ingest(hub, database_url, DATA / "grid_mostly_bad.csv", "other_grid")
    code, out, _err = hub(database_url, "quarantine", "list")
    assert code == 0
    assert "quarantine: 8 rows" in out
    code, out, _err = hub(database_url, "quarantine", "list", "--source", "grid_collection")
    assert "quarantine: 2 rows" in out
    assert "grid.csv" in out and "grid_mostly_bad.csv" not in out
    assert "missing key" in out and "wrong field count" in out
    _code, out, _err = hub(
        database_url, "quarantine", "list", "--file", "grid_mostly_bad.csv", "--reason", "wrong field"
    )
    assert "quarantine: 2 rows" in out
    assert "other_grid" in out and "missing key" not in out
    _code, out, _err = hub(database_url, "quarantine", "list", "--reason", "no such reason")
    assert "quarantine: 0 rows" in out


def test_show_prints_one_row_whole(hub: Hub, database_url: str, tmp_path: Path) -> None:
    ingest(hub, database_url, write(tmp_path, "grid.csv", BAD))
    row_id = rows(database_url)[1][0]
    code, out, _err = hub(database_url, "quarantine", "show", str(row_id))
    assert code == 0
    lines = out.splitlines()
    assert f"id:     {row_id}" in lines
    assert "source: grid_collection" in lines
    assert "file:   grid.csv" in lines
    assert "line:   4" in lines
    assert "status: open" in lines
    assert "reason: wrong field count: 4 fields, the header has 3" in lines
    assert lines[-2:] == ["raw text:", "W03,胡国强,北景社区12幢,多出的一列"]


def test_show_of_an_unknown_row_says_so(hub: Hub, database_url: str) -> None:
    code, _out, err = hub(database_url, "quarantine", "show", "999")
    assert code == 2
    assert "no quarantined row 999" in err


def test_export_writes_csv_with_the_raw_text(hub: Hub, database_url: str, tmp_path: Path) -> None:
    ingest(hub, database_url, write(tmp_path, "grid.csv", BAD))
    found = exported(hub, database_url, "--source", "grid_collection")
    assert [(r["file"], r["line"], r["raw_text"], r["released_at"]) for r in found] == [
        ("grid.csv", "3", ",吴秀兰,杨山村三号", ""),
        ("grid.csv", "4", "W03,胡国强,北景社区12幢,多出的一列", ""),
    ]
    assert found[0]["reason"].startswith("missing key")
    output = tmp_path / "out" / "quarantine.csv"
    output.parent.mkdir()
    code, _out, err = hub(database_url, "quarantine", "export", "--output", str(output))
    assert code == 0 and "wrote 2 rows" in err
    assert list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"), newline=""))) == found


def test_ingesting_the_fixed_file_releases_its_rows_and_keeps_them(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "grid.csv", BAD)
    ingest(hub, database_url, path)
    assert [(line, released) for _id, line, released, _run in rows(database_url)] == [(3, False), (4, False)]
    path.write_text(FIXED, encoding="utf-8")
    code, out, err = ingest(hub, database_url, path)
    assert code == 0
    assert "new=2 changed=0 unchanged=2 quarantined=0" in out
    assert "released 2 quarantined rows of earlier runs of grid.csv" in " ".join(err.split())
    assert records(database_url) == ["W01", "W02", "W03", "W04"]
    # Kept, marked with the run that released them: evidence is never deleted.
    assert [(line, released, run) for _id, line, released, run in rows(database_url)] == [
        (3, True, 2),
        (4, True, 2),
    ]
    _code, out, _err = hub(database_url, "quarantine", "list")
    assert "quarantine: 0 rows" in out
    _code, out, _err = hub(database_url, "quarantine", "list", "--all")
    assert "quarantine: 2 rows" in out and "released by run 2" in out
    assert all(r["released_at"] for r in exported(hub, database_url, "--all"))
    _code, out, _err = hub(database_url, "quarantine", "show", str(rows(database_url)[0][0]))
    assert "status: released by run 2 at " in out


def test_a_row_still_bad_stays_open_and_is_not_kept_twice(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "grid.csv", BAD)
    ingest(hub, database_url, path)
    path.write_text(HALF_FIXED, encoding="utf-8")
    _code, out, _err = ingest(hub, database_url, path)
    assert "new=1 changed=0 unchanged=2 quarantined=1" in out
    assert [(line, released) for _id, line, released, _run in rows(database_url)] == [(3, True), (4, False)]
    # The same bad file again: nothing released, no copies.
    ingest(hub, database_url, path)
    assert [(line, released) for _id, line, released, _run in rows(database_url)] == [(3, True), (4, False)]


def test_another_file_of_the_source_releases_nothing(hub: Hub, database_url: str, tmp_path: Path) -> None:
    ingest(hub, database_url, write(tmp_path, "grid.csv", BAD))
    ingest(hub, database_url, write(tmp_path, "grid_march.csv", FIXED))
    assert [released for _id, _line, released, _run in rows(database_url)] == [False, False]


def test_a_row_bad_again_after_release_is_quarantined_again(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "grid.csv", BAD)
    ingest(hub, database_url, path)
    path.write_text(FIXED, encoding="utf-8")
    ingest(hub, database_url, path)
    path.write_text(BAD, encoding="utf-8")
    _code, out, _err = ingest(hub, database_url, path)
    assert "quarantined=2" in out
    assert [(line, released) for _id, line, released, _run in rows(database_url)] == [
        (3, True), (4, True), (3, False), (4, False),
    ]  # fmt: skip
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Quarantine)) == 4
    finally:
        engine.dispose()
