"""The quarantine page: a row ingestion set aside is listed with its reason, source, file and line, its
personal values masked without `pii:read`, and the view is in the access log."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from console_city import ConsoleCity, shot
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest import ingest_file, ingest_records


def test_the_quarantine_lists_a_bad_row_with_personal_values_masked(
    console: ConsoleCity, tmp_path: Path
) -> None:
    bad = tmp_path / "网格采集-坏行.jsonl"
    bad.write_text(
        '{"name": "无编号", "id_number": "32058119850302123X", "phone": "13912345678"}\n'
        '{"record_id": "G-BROKEN", "name": "断行", "phone": "13912345678"\n',
        encoding="utf-8",
    )
    summary = ingest_file(console.engine, bad, "grid_collection", Kind.PERSON)
    assert summary.quarantined == 2
    logged = console.one("SELECT count(*) FROM access_log WHERE operation_name = 'quarantine'")
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/quarantine")
    page.select_option("select[name=source]", "grid_collection")
    page.click("form.toolbar button[type=submit]")
    rows = page.locator("table.quarantine tr").all_inner_texts()[1:]
    row = next(row for row in rows if "无编号" in row)
    assert "grid_collection" in row and bad.name in row and "\t1\t" in row
    assert "320581********123X" in row and "139****5678" in row
    assert any("断行" in row and "\t2\t" in row for row in rows)
    assert "32058119850302123X" not in page.content() and "13912345678" not in page.content()
    shot(page, "quarantine", tmp_path)

    whole = console.sign_in("steward", "pii:read")
    whole.goto(f"{console.base}/console/quarantine?source=grid_collection")
    assert "32058119850302123X" in whole.locator("table.quarantine").inner_text()
    fields = console.one(
        "SELECT fields FROM access_log WHERE operation_name = 'quarantine' ORDER BY id DESC LIMIT 1"
    )
    assert console.one("SELECT count(*) FROM access_log WHERE operation_name = 'quarantine'") == logged + 3
    assert "quarantine.rawText" in str(fields)


def test_the_quarantine_filters_by_reason(console: ConsoleCity) -> None:
    with Session(console.engine) as session, session.begin():
        ingest_records(session, "grid_collection", Kind.PERSON, [{"name": "缺少编号的人"}])
    page = console.sign_in("auditor")
    page.goto(f"{console.base}/console/quarantine?source=grid_collection")
    reason = page.locator("table.quarantine tr", has_text="缺少编号的人").locator("td").nth(4).inner_text()
    page.goto(f"{console.base}/console/quarantine?reason={quote(reason[:12])}")
    rows = page.locator("table.quarantine tr").all_inner_texts()[1:]
    assert rows and all(reason[:12] in row for row in rows)
    page.goto(f"{console.base}/console/quarantine?reason=没有这样的原因")
    assert "共 0 条" in page.locator("main").inner_text()


def test_rows_a_fixed_file_released_leave_the_list_but_can_be_shown(
    console: ConsoleCity, tmp_path: Path
) -> None:
    export = tmp_path / "rental-fixed.jsonl"
    export.write_text('{"name": "待补编号的租客"}\n', encoding="utf-8")
    assert ingest_file(console.engine, export, "rental_registry", Kind.PERSON).quarantined == 1
    page = console.sign_in("steward")
    listed = f"{console.base}/console/quarantine?source=rental_registry"
    page.goto(listed)
    assert "待补编号的租客" in page.locator("table.quarantine").inner_text()
    export.write_text('{"key": "R-9", "name": "待补编号的租客"}\n', encoding="utf-8")
    fixed = ingest_file(console.engine, export, "rental_registry", Kind.PERSON)
    assert (fixed.quarantined, fixed.released) == (0, 1)
    page.goto(listed)
    assert "待补编号的租客" not in page.locator("table.quarantine").inner_text()
    page.check("input[name=released]")
    page.click("form.toolbar button[type=submit]")
    row = page.locator("table.quarantine tr", has_text="待补编号的租客")
    assert "随修正后的文件解除" in row.inner_text()
