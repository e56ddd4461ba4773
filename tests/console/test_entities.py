"""The entity pages: golden values with lineage, members, history with asOf, the relationship picture,
and a steward's edits from the page (merge with its preview, undo, move, split, override), refused
plainly when stale or invalid and not offered to auditors at all."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2 as httpx
from console_city import ConsoleCity, shot
from playwright.sync_api import Page

from hub.store.locks import batch_resolution


def _two_people(console: ConsoleCity) -> tuple[str, str]:
    """Two current person entities of one record each."""
    with console.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
            " WHERE m.valid_to IS NULL AND e.kind = 'person' AND e.status = 'active'"
            " GROUP BY m.entity_id HAVING count(*) = 1 ORDER BY m.entity_id LIMIT 2"
        ).all()
    return rows[0][0], rows[1][0]


def _members(page: Page) -> int:
    return page.locator("input[name=record]").count()


def _history_agrees(page: Page) -> None:
    """The newest change in the timeline reports the version the page shows."""
    newest = page.locator("ol.timeline li").first.inner_text()
    assert f"v{page.locator('[data-version]').inner_text()} " in newest, newest


def test_a_steward_merges_two_entities_from_the_page_and_undoes_it(
    console: ConsoleCity, tmp_path: Path
) -> None:
    a, b = _two_people(console)
    page = console.sign_in("steward")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{console.base}/console/person/{a}")
    assert _members(page) == 1
    page.fill("#merge input[name=merge]", b)
    page.click("#merge button[type=submit]")
    preview = page.locator("#merge table.versions").inner_text()
    assert a in preview and b in preview  # both entities and the versions the merge will use
    assert page.locator("#merge input[name=other_version]").get_attribute("value") == str(
        console.one("SELECT version FROM entity WHERE id = :id", id=b)
    )
    shot(page, "entity-merge", tmp_path)
    page.click("#merge button[value=merge]")
    page.wait_for_url(re.compile(r"notice=edit.merge"))
    survivor = page.url.split("/console/person/")[1].split("?")[0]
    assert survivor in (a, b)
    assert _members(page) == 2  # one entity with both records
    _history_agrees(page)
    # As of the oldest instant in its timeline the survivor had one record, and no edit forms show.
    page.locator("ol.timeline li .when a").last.click()
    page.wait_for_url(re.compile(r"as_of="))
    assert page.locator("table.members tr:has(td)").count() == 1
    assert page.locator("#merge").count() == 0 and page.locator(".badge", has_text="时的状态").count() == 1
    page.go_back()
    assert page.locator("ol.timeline li").first.inner_text().count("合并") >= 1
    assert console.one("SELECT status FROM entity WHERE id = :id", id=b if survivor == a else a) != "active"
    page.locator("ol.timeline li").first.locator("button[value=undo]").click()
    page.wait_for_url(re.compile(r"notice=edit.undo"))
    page.goto(f"{console.base}/console/person/{a}")
    assert _members(page) == 1
    page.goto(f"{console.base}/console/person/{b}")
    assert _members(page) == 1
    assert console.one("SELECT status FROM entity WHERE id = :id", id=a) == "active"


def test_a_stale_version_is_shown_as_a_conflict(console: ConsoleCity, tmp_path: Path) -> None:
    a, b = _two_people(console)
    page = console.sign_in("steward")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{console.base}/console/person/{a}?merge={b}")
    version = int(page.locator("[data-version]").inner_text())
    # Someone else overrides a value through the API meanwhile: the version the page holds is stale.
    with httpx.Client(
        base_url=console.base, headers={"Authorization": f"Bearer {console.token('steward')}"}
    ) as api:
        answer = api.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!, $v: Int!) { overrideValue(id: $id, version: $v,"
                ' field: "gender", value: "F", note: "meanwhile") { eventId } }',
                "variables": {"id": a, "v": version},
            },
        ).json()
    assert answer.get("errors") is None, answer
    page.click("#merge button[value=merge]")
    page.wait_for_load_state()
    alert = page.locator(".conflict").inner_text()
    assert "版本冲突" in alert and "Traceback" not in page.content()
    assert page.locator(".conflict a").get_attribute("href") == f"/console/person/{a}"  # reload link
    assert console.one("SELECT status FROM entity WHERE id = :id", id=b) == "active"  # nothing merged
    shot(page, "entity-conflict", tmp_path)


def test_an_auditor_sees_no_edit_forms_and_a_forged_edit_is_refused(console: ConsoleCity) -> None:
    a, b = _two_people(console)
    page = console.sign_in("auditor")
    page.goto(f"{console.base}/console/person/{a}?merge={b}")
    assert page.locator("main form[method=post]").count() == 0
    assert page.locator("input[name=record]").count() == 0
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    version = console.one("SELECT version FROM entity WHERE id = :id", id=a)
    with httpx.Client(base_url=console.base, cookies=cookies, follow_redirects=False) as http:
        forged = http.post(
            f"/console/person/{a}/edit",
            data={"csrf": csrf, "action": "override", "version": version, "field": "name", "value": "伪造"},
        )
    assert forged.status_code == 403 and "FORBIDDEN" in forged.text
    assert console.one("SELECT version FROM entity WHERE id = :id", id=a) == version


def test_an_invalid_override_is_refused_on_the_page(console: ConsoleCity) -> None:
    a, _ = _two_people(console)
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/person/{a}")
    version = page.locator("[data-version]").inner_text()
    page.select_option("#override select[name=field]", "phone")
    page.fill("#override input[name=value]", "12345")
    page.click("#override button[value=override]")
    page.wait_for_load_state()
    assert "phone" in page.locator(".conflict").inner_text()
    assert page.locator("[data-version]").inner_text() == version


def test_an_edit_during_a_batch_resolution_is_refused_on_the_page_saying_why(
    console: ConsoleCity, tmp_path: Path
) -> None:
    a, _ = _two_people(console)
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/person/{a}")
    version = page.locator("[data-version]").inner_text()
    with batch_resolution(console.engine):
        page.select_option("#override select[name=field]", "phone")
        page.fill("#override input[name=value]", "13912345678")
        page.click("#override button[value=override]")
        page.wait_for_load_state()
        assert "a batch resolution (hub resolve) is running" in page.locator(".conflict").inner_text()
        shot(page, "entity-busy", tmp_path)
    assert page.locator("[data-version]").inner_text() == version
    page.select_option("#override select[name=field]", "phone")  # once it ended, the same edit goes in
    page.fill("#override input[name=value]", "13912345678")
    page.click("#override button[value=override]")
    page.wait_for_load_state()
    assert page.locator("[data-version]").inner_text() != version


def test_an_address_page_shows_values_members_history_and_its_picture(
    console: ConsoleCity, tmp_path: Path
) -> None:
    address = console.one(
        "SELECT object_id FROM link WHERE relation = 'lives_at' AND valid_to IS NULL"
        " GROUP BY object_id ORDER BY count(*) DESC, object_id LIMIT 1"
    )
    page = console.sign_in("auditor")
    page.goto(f"{console.base}/console/address/{address}")
    assert page.locator("h1").inner_text().startswith("地址")
    assert page.locator("table.golden details").count() >= 1
    page.locator("table.golden summary").first.click()
    assert page.locator("table.lineage tr").count() >= 1  # lineage on demand
    links = page.locator("svg.picture a").evaluate_all("nodes => nodes.map(n => n.getAttribute('href'))")
    assert any(link.startswith("/console/person/per_") for link in links)  # residents are drawn
    assert page.locator("#merge").count() == 0  # an auditor sees no edit forms
    shot(page, "entity", tmp_path)
    first = page.locator("ol.timeline li .when a").last
    first.click()
    assert "as_of=" in page.url and page.locator(".badge").first.is_visible()


def test_personal_fields_are_masked_without_pii_read_and_the_view_is_logged(console: ConsoleCity) -> None:
    person = console.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id"
        " WHERE m.valid_to IS NULL AND s.name = 'household_registry'"
        " ORDER BY m.entity_id LIMIT 1"
    )
    before = console.one("SELECT count(*) FROM access_log")
    masked = console.sign_in("steward")
    masked.goto(f"{console.base}/console/person/{person}")
    golden = masked.locator("table.golden").inner_text()
    assert "*" in golden
    whole = console.sign_in("steward", "pii:read")
    whole.goto(f"{console.base}/console/person/{person}")
    assert re.search(r"\d{17}[\dX]", whole.locator("table.golden").inner_text())
    assert console.one("SELECT count(*) FROM access_log") >= before + 2


def test_a_steward_moves_a_record_and_splits_it_out_again(console: ConsoleCity) -> None:
    pair = console.one(
        "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
        " WHERE m.valid_to IS NULL AND e.kind = 'person' AND e.status = 'active'"
        " GROUP BY m.entity_id HAVING count(*) = 2 ORDER BY m.entity_id LIMIT 1"
    )
    single, _ = _two_people(console)
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/person/{pair}")
    assert _members(page) == 2
    record = page.locator("input[name=record]").last.get_attribute("value")
    page.locator("input[name=record]").last.check()
    page.fill("input[name=to]", single)
    page.click("button[value=move]")
    page.wait_for_url(re.compile(r"notice=edit.move"))
    assert _members(page) == 1
    page.goto(f"{console.base}/console/person/{single}")
    assert _members(page) == 2
    page.locator(f"input[name=record][value='{record}']").check()
    page.click("button[value=split]")
    page.wait_for_url(re.compile(r"notice=edit.split"))
    assert _members(page) == 1
    _history_agrees(page)
    created = console.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id WHERE m.valid_to IS NULL AND s.name || '/' || r.key = :ref",
        ref=record,
    )
    assert created not in (pair, single)
