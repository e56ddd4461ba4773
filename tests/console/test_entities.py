"""The entity pages: golden values with lineage, members, history with asOf, the relationship picture,
and a steward's merge and undo from the page."""

from __future__ import annotations

import re
from pathlib import Path

from console_city import ConsoleCity, shot
from playwright.sync_api import Page


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


def test_a_steward_merges_two_entities_from_the_page_and_undoes_it(
    console: ConsoleCity, tmp_path: Path
) -> None:
    a, b = _two_people(console)
    page = console.sign_in("steward")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{console.base}/console/person/{a}")
    assert _members(page) == 1
    page.fill("#merge input[name=other]", b)
    page.click("#merge button[value=merge]")
    page.wait_for_url(re.compile(r"notice=edit.merge"))
    survivor = page.url.split("/console/person/")[1].split("?")[0]
    assert survivor in (a, b)
    assert _members(page) == 2  # one entity with both records
    assert page.locator("ol.timeline li").first.inner_text().count("合并") >= 1
    assert console.one("SELECT status FROM entity WHERE id = :id", id=b if survivor == a else a) != "active"
    page.locator("ol.timeline li").first.locator("button[value=undo]").click()
    page.wait_for_url(re.compile(r"notice=edit.undo"))
    page.goto(f"{console.base}/console/person/{a}")
    assert _members(page) == 1
    page.goto(f"{console.base}/console/person/{b}")
    assert _members(page) == 1
    assert console.one("SELECT status FROM entity WHERE id = :id", id=a) == "active"


def test_a_stale_version_is_shown_as_a_conflict(console: ConsoleCity) -> None:
    a, b = _two_people(console)
    page = console.sign_in("steward")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{console.base}/console/person/{a}")
    # Someone else overrides a value meanwhile: the version the page holds is now stale.
    other = console.sign_in("steward", "pii:read")
    other.goto(f"{console.base}/console/person/{a}")
    other.fill("#override input[name=value]", "测试姓名")
    other.select_option("#override select[name=field]", "name")
    other.click("#override button[value=override]")
    other.wait_for_url(re.compile(r"notice=edit.override"))
    page.fill("#merge input[name=other]", b)
    page.click("#merge button[value=merge]")
    page.wait_for_load_state()
    assert "版本冲突" in page.locator(".conflict").inner_text()
    assert console.one("SELECT status FROM entity WHERE id = :id", id=b) == "active"  # nothing merged


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


def test_a_steward_moves_a_record_to_another_entity_and_splits_it_out(console: ConsoleCity) -> None:
    entity = console.one(
        "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
        " WHERE m.valid_to IS NULL AND e.kind = 'person' AND e.status = 'active'"
        " GROUP BY m.entity_id HAVING count(*) = 2 ORDER BY m.entity_id LIMIT 1"
    )
    _, target = _two_people(console)
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/person/{entity}")
    assert _members(page) == 2
    record = page.locator("input[name=record]").last.get_attribute("value")
    page.locator("input[name=record]").last.check()
    page.fill("input[name=to]", target)
    page.click("button[value=move]")
    page.wait_for_load_state()
    assert "notice=edit.move" in page.url, page.inner_text("main")
    assert _members(page) == 1
    page.goto(f"{console.base}/console/person/{target}")
    assert _members(page) == 2
    page.locator(f"input[name=record][value='{record}']").check()
    page.click("button[value=split]")
    page.wait_for_load_state()
    assert "notice=edit.split" in page.url, page.inner_text("main")
    assert _members(page) == 1
    created = console.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id WHERE m.valid_to IS NULL AND s.name || '/' || r.key = :ref",
        ref=record,
    )
    assert created not in (entity, target)
