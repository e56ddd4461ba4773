"""The auditors' pages (audit trail with the chain's state, access log, CSV) and the quarantine page."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx2 as httpx
from console_city import ConsoleCity, shot
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest import ingest_records


def _merge_from_the_console(console: ConsoleCity) -> str:
    """A steward merges two one-record persons on their page; the survivor's id."""
    with console.engine.connect() as connection:
        a, b = (
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
                " WHERE m.valid_to IS NULL AND e.kind = 'person' AND e.status = 'active'"
                " GROUP BY m.entity_id HAVING count(*) = 1 ORDER BY m.entity_id DESC LIMIT 2"
            )
        )
    page = console.sign_in("steward")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{console.base}/console/person/{a}")
    page.fill("#merge input[name=other]", b)
    page.click("#merge button[value=merge]")
    page.wait_for_url(re.compile(r"notice=edit.merge"))
    return page.url.split("/console/person/")[1].split("?")[0]


def test_an_auditor_finds_the_merge_in_the_trail_and_the_page_views_in_the_access_log(
    console: ConsoleCity, tmp_path: Path
) -> None:
    survivor = _merge_from_the_console(console)
    steward = next(
        name
        for (name,) in console.engine.connect().exec_driver_sql(
            "SELECT name FROM client WHERE role = 'steward' ORDER BY id DESC LIMIT 1"
        )
    )
    page = console.sign_in("auditor")
    page.goto(f"{console.base}/console/audit")
    assert "哈希链完整" in page.locator(".chain").inner_text()
    page.fill("input[name=action]", "entity.merge")
    page.click("form.toolbar button[type=submit]")
    rows = page.locator("table.events tr").all_inner_texts()[1:]
    assert rows and all("entity.merge" in row for row in rows)
    assert any(survivor in row and f"steward:{steward}" in row for row in rows)
    shot(page, "audit", tmp_path)
    page.goto(f"{console.base}/console/access-log?client={steward}")
    views = page.locator("table.accesses tr").all_inner_texts()[1:]
    assert views and all(steward in row for row in views)
    assert any(survivor in row or "per_" in row for row in views)  # the person pages it viewed


def test_a_steward_cannot_open_the_auditors_pages(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    for path in ("/console/audit", "/console/access-log", "/console/audit.csv"):
        response = page.goto(f"{console.base}{path}")
        assert response is not None and response.status == 403
    assert page.locator("nav a[href='/console/audit']").count() == 0


def test_csv_exports_carry_the_filtered_rows(console: ConsoleCity) -> None:
    _merge_from_the_console(console)
    page = console.sign_in("auditor")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=console.base, cookies=cookies) as http:
        response = http.get("/console/audit.csv", params={"action": "entity.merge"})
        assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        expected = console.one("SELECT count(*) FROM audit_event WHERE action = 'entity.merge'")
        assert len(rows) == expected >= 1 and {row["action"] for row in rows} == {"entity.merge"}
        exported = http.get("/console/access-log.csv").content.decode("utf-8-sig")
        log = list(csv.DictReader(io.StringIO(exported)))
        assert len(log) == console.one("SELECT count(*) FROM access_log")


def test_the_quarantine_lists_bad_rows_with_personal_values_masked(console: ConsoleCity) -> None:
    with Session(console.engine) as session, session.begin():
        ingest_records(
            session,
            "grid_collection",
            Kind.PERSON,
            [{"name": "无编号", "id_number": "32058119850302123X", "phone": "13912345678"}],
        )
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/quarantine?source=grid_collection")
    text = page.locator("table.quarantine").inner_text()
    assert "无编号" in text and "320581********123X" in text and "139****5678" in text
    assert "32058119850302123X" not in text
    whole = console.sign_in("steward", "pii:read")
    whole.goto(f"{console.base}/console/quarantine?source=grid_collection")
    assert "32058119850302123X" in whole.locator("table.quarantine").inner_text()
    assert console.one("SELECT count(*) FROM access_log WHERE operation_name = 'quarantine'") >= 2
