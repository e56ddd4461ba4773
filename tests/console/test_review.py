"""The review queue and the pair page: filters and band counts, claims, bulk and keyboard decisions
that take effect on the entities at once, and auditors who may look but not decide.

The tests share one city per backend and each decides a few items, so they take items by what they
show, never by a fixed id.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx2 as httpx
from console_city import ConsoleCity, shot
from playwright.sync_api import Page

ENTITIES_OF_ITEM = """SELECT count(DISTINCT m.entity_id) FROM membership m
  JOIN judgement j ON m.record_id IN (j.record_a_id, j.record_b_id)
  JOIN review_item r ON r.judgement_id = j.id
  WHERE r.id = :item AND m.valid_to IS NULL"""


def status(console: ConsoleCity, item: str) -> str:
    return str(console.one("SELECT status FROM review_item WHERE id = :item", item=int(item)))


def item_ids(page: Page) -> list[str]:
    return [str(row.get_attribute("data-item")) for row in page.locator("table.queue tbody tr").all()]


def open_queue(console: ConsoleCity, page: Page, query: str = "") -> None:
    page.goto(f"{console.base}/console/queue{query}")
    assert page.locator("h1").inner_text().startswith("待审队列")


def test_an_auditor_sees_the_queue_but_cannot_decide(console: ConsoleCity) -> None:
    page = console.sign_in("auditor")
    open_queue(console, page)
    items = item_ids(page)
    assert items and page.locator("input[name=item]").count() == 0  # no selection, no bulk decisions
    assert page.locator("fieldset.bulk").count() == 0
    page.click(f"tr[data-item='{items[0]}'] a.open")
    assert page.locator("table.pair").is_visible()
    assert page.locator("[data-key=m], [data-key=n], [data-key=u], [data-key=c]").count() == 0
    assert "不能裁定" in page.locator(".read-only").inner_text()
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=console.base, cookies=cookies, follow_redirects=False) as http:
        forged = http.post(f"/console/review/{items[0]}/decide", data={"csrf": csrf, "decision": "MATCH"})
        bulk = http.post("/console/queue/decide", data={"csrf": csrf, "decision": "MATCH", "item": items[0]})
    assert forged.status_code == bulk.status_code == 403
    assert "FORBIDDEN" in forged.text and "FORBIDDEN" in bulk.text
    assert status(console, items[0]) == "open"


def test_filters_and_band_counts_agree_with_the_items(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    open_queue(console, page)
    total = int(re.sub(r"\D", "", page.locator("h1 .total").inner_text()))
    counts = {
        str(band.get_attribute("data-band")): int(band.locator(".count").inner_text())
        for band in page.locator("ul.bands li").all()
    }
    assert sum(counts.values()) == total == len(item_ids(page)) > 0
    for band, count in counts.items():
        open_queue(console, page, f"?band={band}")
        assert len(item_ids(page)) == count
        scores = [float(s) for s in page.locator("table.queue .score").all_inner_texts()]
        low, high = {"UNLIKELY": (0, 0.3), "DOUBTFUL": (0.3, 0.5), "EVEN": (0.5, 0.7)}.get(
            band, (0.7, 0.9) if band == "PROBABLE" else (0.9, 1.0)
        )
        assert all(low <= s <= high for s in scores)
    page.select_option("select[name=band]", "")
    page.select_option("select[name=source]", "rental_registry")
    page.click("form.filters button[type=submit]")
    rows = page.locator("table.queue tbody tr").all()
    assert 0 < len(rows) < total
    assert all("rental_registry" in row.inner_text() for row in rows)
    open_queue(console, page, "?town=虞山街道")
    assert 0 < len(item_ids(page)) < total
    open_queue(console, page, "?town=不存在街道")
    assert item_ids(page) == [] and page.locator(".empty").is_visible()


def test_a_steward_claims_an_item_and_releases_it(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    open_queue(console, page, "?state=open")
    item = item_ids(page)[-1]
    page.goto(f"{console.base}/console/review/{item}")
    with page.expect_navigation():
        page.keyboard.press("c")
    assert "已认领" in page.locator(".notice").inner_text()
    assert page.locator(".assignee").inner_text().startswith("steward:steward-")
    assert status(console, item) == "claimed"
    page.click("button.release")
    assert "已释放" in page.locator(".notice").inner_text()
    assert status(console, item) == "open"
    assert console.one("SELECT count(*) FROM audit_event WHERE action = 'review.release'") >= 1


def test_bulk_decision_on_a_selection(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    open_queue(console, page, "?state=open")
    chosen = item_ids(page)[-2:]
    for item in chosen:
        page.check(f"input[name=item][value='{item}']")
    page.fill("fieldset.bulk input[name=note]", "不同的人：亲属")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("fieldset.bulk button[value=NOT_MATCH]")
    assert "已对所选项作出裁定" in page.locator(".notice").inner_text()
    for item in chosen:
        assert status(console, item) == "decided"
        assert console.one("SELECT note FROM review_item WHERE id = :i", i=int(item)) == "不同的人：亲属"
        assert item not in item_ids(page)
    page.check("input[data-select-all=item]")
    assert all(box.is_checked() for box in page.locator("input[name=item]").all())


def test_three_decisions_with_the_keyboard_and_the_match_takes_effect(
    console: ConsoleCity, tmp_path: Path
) -> None:
    page = console.sign_in("steward")
    open_queue(console, page)
    shot(page, "queue", tmp_path)
    queue = item_ids(page)
    first = queue[0]
    page.click(f"tr[data-item='{first}'] a.open")
    entities = page.locator("a.entity").all_inner_texts()
    assert len(entities) == 2 and entities[0] != entities[1]
    assert page.locator("table.pair tr.diff").count() > 0  # the differing fields are marked
    assert page.locator("figure.waterfall svg rect").count() >= 3  # prior, comparisons, final
    shot(page, "pair", tmp_path)
    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible()

    decided = []
    for key in ("m", "n", "u"):
        current = page.url.split("/review/")[1].split("?")[0]
        with page.expect_navigation():
            page.keyboard.press(key)
        decided.append(current)
        assert "已裁定" in page.locator(".notice").inner_text()
        assert f"/review/{current}" not in page.url  # on to the next open item of the queue
    assert decided[0] == first and len(set(decided)) == 3
    assert [status(console, i) for i in decided] == ["decided", "decided", "open"]
    assert console.one("SELECT decision FROM review_item WHERE id = :i", i=int(decided[2])) == "unsure"

    # The match took effect at once: both records are in one entity, on the page and in the database.
    assert console.one(ENTITIES_OF_ITEM, item=int(first)) == 1
    page.goto(f"{console.base}/console/review/{first}")
    after = page.locator("a.entity").all_inner_texts()
    assert after[0] == after[1] and after[0] in entities
    assert page.locator("tr.same-entity").is_visible()
    assert page.locator("[data-key=m]").count() == 0  # decided: nothing left to decide
    merged = console.one(
        "SELECT count(*) FROM audit_event WHERE action = 'entity.merge' AND actor LIKE 'steward:steward-%'"
    )
    assert merged >= 1
