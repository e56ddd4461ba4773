"""Signing in and out of the console, roles, CSRF, and a page that needs nothing from outside."""

from __future__ import annotations

import logging
import re

import httpx2 as httpx
import pytest
from console_city import ConsoleCity

from hub.clients import token_digest


def test_a_steward_signs_in_and_out(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    assert page.locator("header .client").inner_text().endswith("数据管理员")
    cookie = next(c for c in page.context.cookies() if c["name"] == "hub_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert console.tokens["steward"] not in cookie["value"]  # the cookie never holds the token
    page.click("text=退出")
    page.wait_for_url(re.compile(r"/console/sign-in"))
    page.goto(f"{console.base}/console/")
    assert "/console/sign-in" in page.url  # signed out: pages send to sign-in again


def test_a_readers_token_and_a_wrong_one_are_refused(console: ConsoleCity) -> None:
    page = console.page()
    page.goto(f"{console.base}/console/sign-in")
    page.fill("#token", console.token("reader"))
    page.click("button[type=submit]")
    assert "不能使用控制台" in page.locator(".error").inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == "hub_console"]
    page.fill("#token", "hub_not-a-token")
    page.click("button[type=submit]")
    assert "令牌无效" in page.locator(".error").inner_text()


def test_a_form_without_its_csrf_token_is_refused(console: ConsoleCity) -> None:
    page = console.sign_in("steward")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=console.base, cookies=cookies, follow_redirects=False) as http:
        refused = http.post("/console/sign-out", data={})
        assert refused.status_code == 403
        assert "CSRF" in refused.text
        wrong = http.post("/console/sign-out", data={"csrf": "0" * 64})
        assert wrong.status_code == 403
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    with httpx.Client(base_url=console.base, cookies=cookies, follow_redirects=False) as http:
        assert http.post("/console/sign-out", data={"csrf": csrf}).status_code == 303


def test_a_revoked_client_is_signed_out_at_its_next_click(console: ConsoleCity) -> None:
    from sqlalchemy.orm import Session

    from hub.clients import add_client, revoke_client

    with Session(console.engine) as session, session.begin():
        token = add_client(session, "steward-to-revoke", "steward", ())
    page = console.page()
    page.goto(f"{console.base}/console/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")
    assert "/sign-in" not in page.url
    with Session(console.engine) as session, session.begin():
        revoke_client(session, "steward-to-revoke")
    page.goto(f"{console.base}/console/")
    assert "/console/sign-in" in page.url


def test_pages_load_with_every_host_but_this_one_blocked(console: ConsoleCity) -> None:
    blocked: list[str] = []
    page = console.sign_in("steward", page=console.page(blocked=blocked))
    person = console.one("SELECT min(subject_id) FROM link WHERE relation = 'lives_at'")
    pages = [
        "/console/",
        "/console/queue",
        "/console/search?q=琴湖",
        "/console/quality",
        "/console/quarantine",
    ]
    for path in (*pages, f"/console/person/{person}", "/console/sign-in"):
        page.goto(f"{console.base}{path}")
        page.wait_for_load_state("networkidle")
    assert blocked == []
    styles = page.evaluate("getComputedStyle(document.body).margin")
    assert styles == "0px"  # the console's own stylesheet loaded


def test_english_is_one_click_away(console: ConsoleCity) -> None:
    page = console.sign_in("auditor")
    page.click("a.lang")
    assert page.locator("h1").inner_text() == "Start"
    assert page.locator("html").get_attribute("lang") == "en"


def test_a_signed_in_pages_request_line_names_its_client(
    console: ConsoleCity, caplog: pytest.LogCaptureFixture
) -> None:
    """A steward's console work is as traceable in the request log as a department's API calls."""
    page = console.sign_in("steward")
    name = console.one(
        "SELECT name FROM client WHERE token_hash = :h", h=token_digest(console.token("steward"))
    )
    with caplog.at_level(logging.INFO, logger="hub.request"):
        page.goto(f"{console.base}/console/queue")
    lines = [
        r for r in caplog.records if r.name == "hub.request" and r.__dict__.get("path") == "/console/queue"
    ]
    assert lines and lines[-1].__dict__["client"] == name
