"""The auditors' pages: a steward's merge found in the audit trail with the chain's state, the page views
it left in the access log, keyset pages, CSV exports of the filtered rows, and nobody else let in."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
from console_city import ConsoleCity, shot
from sqlalchemy.orm import Session

from hub.audit import record_event

VERSION = "query($id: ID!) { person(id: $id) { name version } }"
MERGE = """mutation($into: ID!, $iv: Int!, $other: ID!, $ov: Int!) {
  mergeEntities(into: $into, intoVersion: $iv, other: $other, otherVersion: $ov) {
    eventId entity { id } } }"""


def _graph(console: ConsoleCity, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{console.base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


def _merge(console: ConsoleCity) -> tuple[str, str]:
    """The console's steward merges two one-record persons through GraphQL: (the survivor, the steward's
    client name)."""
    with console.engine.connect() as connection:
        a, b = (
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
                " WHERE m.valid_to IS NULL AND e.kind = 'person' AND e.status = 'active'"
                " GROUP BY m.entity_id HAVING count(*) = 1 ORDER BY m.entity_id DESC LIMIT 2"
            )
        )
    token = console.token("steward")
    versions = {e: _graph(console, token, VERSION, id=e)["person"]["version"] for e in (a, b)}
    edit = _graph(console, token, MERGE, into=a, iv=versions[a], other=b, ov=versions[b])["mergeEntities"]
    actor = console.one("SELECT actor FROM audit_event WHERE id = :id", id=int(edit["eventId"]))
    assert actor.startswith("steward:")
    return edit["entity"]["id"], actor.removeprefix("steward:")


def _search_as_steward(console: ConsoleCity, survivor: str) -> None:
    """The steward searches for the survivor's name in the console: its results show masked values,
    which the access log records as the steward's views."""
    name = _graph(console, console.token("steward"), VERSION, id=survivor)["person"]["name"]
    viewer = console.sign_in("steward")  # the same client as the token's
    viewer.goto(f"{console.base}/console/search?q={name}&mode=name")
    assert viewer.locator("table.results").count() >= 1


def _rows(page: Any, table: str) -> list[str]:
    return list(page.locator(f"table.{table} tr").all_inner_texts()[1:])


def test_an_auditor_finds_a_stewards_merge_and_page_views(console: ConsoleCity, tmp_path: Path) -> None:
    survivor, steward = _merge(console)
    _search_as_steward(console, survivor)

    page = console.sign_in("auditor")
    page.goto(f"{console.base}/console/audit")
    head = console.one("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1")
    events = console.one("SELECT count(*) FROM audit_event")
    chain = page.locator(".chain").inner_text()
    assert "哈希链完整" in chain and f"已校验至事件 {events}" in chain and head[:16] in chain
    page.fill("input[name=action]", "entity.merge")
    page.click("form.toolbar button[type=submit]")
    rows = _rows(page, "events")
    assert rows and all("entity.merge" in row for row in rows)
    assert any(survivor in row and f"steward:{steward}" in row for row in rows)
    merge = page.locator("table.events tr", has_text=survivor).locator("details")
    merge.locator("summary").click()
    assert '"members"' in merge.inner_text() and '"versions"' in merge.inner_text()
    shot(page, "audit", tmp_path)
    page.click("form[action='/console/audit/verify'] button")  # verify the whole chain again
    assert "已从头完整校验" in page.locator("body").inner_text()

    page.goto(f"{console.base}/console/access-log")
    page.fill("input[name=client]", steward)
    page.fill("input[name=entity]", survivor)
    page.fill("input[name=purpose]", "maintenance")
    page.click("form.toolbar button[type=submit]")
    views = _rows(page, "accesses")
    assert views and all(steward in row and "maintenance" in row and survivor in row for row in views)
    assert any("SearchByName" in row and "phone:masked" in row for row in views)
    shot(page, "access-log", tmp_path)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    page.goto(f"{console.base}/console/access-log?client={steward}&since={tomorrow}")
    assert _rows(page, "accesses") == [] and "共 0 条" in page.locator("main").inner_text()
    page.goto(f"{console.base}/console/access-log?client={steward}&purpose=audit")
    assert _rows(page, "accesses") == []  # a steward's views are for maintenance


def test_the_trail_pages_by_keyset_and_exports_every_batch(console: ConsoleCity) -> None:
    with Session(console.engine) as session, session.begin():
        written = [record_event(session, "cli:paging", "test.page", [f"run-{i}"]).id for i in range(520)]
    page = console.sign_in("auditor")
    page.goto(f"{console.base}/console/audit?action=test.page")
    assert "共 520 条" in page.locator("main").inner_text()
    first = [int(row.split()[0]) for row in _rows(page, "events")]
    page.press("body", "j")
    page.wait_for_url("**after=*")
    second = [int(row.split()[0]) for row in _rows(page, "events")]
    assert first + second == written[:100]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    exported = httpx.get(
        f"{console.base}/console/audit.csv", params={"action": "test.page"}, cookies=cookies
    ).content.decode("utf-8-sig")
    assert [int(row["id"]) for row in csv.DictReader(io.StringIO(exported))] == written  # two batches


def test_a_steward_cannot_open_the_auditors_pages(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    for path in ("/console/audit", "/console/access-log", "/console/audit.csv", "/console/access-log.csv"):
        response = page.goto(f"{console.base}{path}")
        assert response is not None and response.status == 403
    assert page.locator("nav a[href='/console/audit']").count() == 0


def test_csv_exports_carry_the_filtered_rows(console: ConsoleCity) -> None:
    survivor, steward = _merge(console)
    _search_as_steward(console, survivor)
    page = console.sign_in("auditor")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=console.base, cookies=cookies) as http:
        response = http.get("/console/audit.csv", params={"action": "entity.merge"})
        assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        merges = console.one("SELECT count(*) FROM audit_event WHERE action = 'entity.merge'")
        assert len(rows) == merges >= 1 and {row["action"] for row in rows} == {"entity.merge"}
        assert any(row["actor"] == f"steward:{steward}" for row in rows)

        exported = http.get("/console/access-log.csv", params={"client": steward}).content
        log = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
        expected = console.one(
            "SELECT count(*) FROM access_log a JOIN client c ON c.id = a.client_id WHERE c.name = :name",
            name=steward,
        )
        assert len(log) == expected >= 1 and {row["client"] for row in log} == {steward}
