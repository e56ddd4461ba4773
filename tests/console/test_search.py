"""The search page: one box, the kind of the input guessed, results linking to entity pages, and a
search by a personal identifier refused without a PII scope."""

from __future__ import annotations

from pathlib import Path

from console_city import ConsoleCity, shot

from hub.console.pages.search import guess


def test_the_kind_of_a_search_text_is_guessed() -> None:
    assert guess("张伟") == "name"
    assert guess("琴湖花园3幢201室") == "address"
    assert guess("苏州达盛服饰有限公司") == "company"
    assert guess("139 1234 5678") == "phone"
    assert guess("32058119850302123X") == "id_number"
    assert guess("320581198503021231") == "id_number"  # a wrong check character is still an ID number
    assert guess("320581003146089858") == "doorplate"


def test_a_steward_finds_people_and_addresses(console: ConsoleCity, tmp_path: Path) -> None:
    person = console.one("SELECT min(subject_id) FROM link WHERE relation = 'lives_at'")
    page = console.sign_in("steward", "pii:lookup")
    page.goto(f"{console.base}/console/person/{person}")
    name = page.locator("table.golden tr", has_text="姓名").locator("summary").inner_text()
    page.goto(f"{console.base}/console/search")
    page.fill("input[name=q]", name)
    page.click("form.search button[type=submit]")
    first = page.locator("table.results a").first
    assert name in page.locator("table.results").first.inner_text()
    href = first.get_attribute("href")
    assert href is not None and href.startswith("/console/person/per_")
    shot(page, "search", tmp_path)
    text = console.one("SELECT object_id FROM link WHERE relation = 'lives_at' LIMIT 1")
    page.goto(f"{console.base}/console/address/{text}")
    address = page.locator("table.golden tr", has_text="标准地址").locator("summary").inner_text()
    page.goto(f"{console.base}/console/search?q={address}")
    assert page.locator("table.results a[href^='/console/address/adr_']").count() >= 1
    page.goto(f"{console.base}/console/search?q=13912345678&mode=phone")
    assert page.locator(".error").count() == 0  # pii:lookup may search by phone


def test_a_search_by_id_number_needs_a_pii_scope(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    page.goto(f"{console.base}/console/search?q=32058119850302123X")
    assert "FORBIDDEN" in page.locator(".error").inner_text()
