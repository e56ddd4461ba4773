"""GraphiQL at `/graphql` works without internet: its page and scripts come from this server alone, open
with an example query and the Authorization header to fill in, and run operations as the token's client."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from browser import serve
from playwright.sync_api import Browser, Page, Request, Route, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

import hub.api
from hub.api import create_app
from hub.clients import add_client

ASSETS = Path(hub.api.__file__).parent / "static" / "graphiql"


def create_client(engine: Engine, name: str) -> str:
    with Session(engine) as session, session.begin():
        return add_client(session, name, "reader")


def offline_page(browser: Browser, blocked: list[str], errors: list[str]) -> Page:
    """A page on which every request to a host but 127.0.0.1 is aborted and listed in `blocked`, and
    every script error or refused load (as by the Content-Security-Policy) is listed in `errors`."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})

    def route(route: Route, request: Request) -> None:
        if request.url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return page


def editor_text(page: Page, editor: str) -> str:
    """The whole text of a GraphiQL editor (CodeMirror draws only the lines in view)."""
    text: str = page.locator(f"{editor} .CodeMirror").first.evaluate("node => node.CodeMirror.getValue()")
    return text


QUERY = ".graphiql-query-editor"
HEADERS = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"
RESULT = ".result-window"


def test_the_page_and_its_assets_come_from_this_server(engine: Engine) -> None:
    client = TestClient(create_app(engine))
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "unpkg" not in page.text and "jsdelivr" not in page.text and "//" not in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("graphql/static/") or s.startswith("data:") for s in sources)
    for source in sources:
        if source.startswith("graphql/static/"):
            asset = client.get(f"/{source}")
            assert asset.status_code == 200, source
            assert asset.content == (ASSETS / source.removeprefix("graphql/static/")).read_bytes()
    css = (ASSETS / "graphiql.min.css").read_text(encoding="utf-8")
    assert "@font-face" not in css and "@import" not in css
    assert not re.search(r"url\((?!data:image/)", css), "the stylesheet loads something besides inline images"
    # The rest of /graphql is unchanged: an operation without a token is refused.
    refused = client.get("/graphql", params={"query": "{ viewer { name } }"}, headers={"Accept": "text/html"})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_graphiql_runs_a_query_offline_with_a_typed_token(
    engine: Engine, browser: Browser, tmp_path: Path
) -> None:
    name = f"接口测试-{uuid.uuid4().hex[:6]}"
    token = create_client(engine, name)
    blocked: list[str] = []
    errors: list[str] = []
    with serve(create_app(engine)) as base:
        page = offline_page(browser, blocked, errors)
        page.goto(f"{base}/graphql")
        expect(page.locator(f"{QUERY} .CodeMirror")).to_be_visible()
        expect(page.locator(HEADERS)).to_be_visible()
        query = editor_text(page, QUERY)
        assert "viewer {" in query and "searchAddresses(" in query
        assert '"Authorization": "Bearer <your token>"' in editor_text(page, HEADERS)

        page.locator(f"{HEADERS} .CodeMirror").click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(f'{{\n  "Authorization": "Bearer {token}"\n}}')
        page.locator(f"{QUERY} .CodeMirror").click()
        page.keyboard.press("Control+Enter")
        expect(page.locator(RESULT)).to_contain_text(name)
        assert '"role": "READER"' in editor_text(page, RESULT)
        page.screenshot(path=str(tmp_path / "graphiql.png"))
        page.context.close()
    assert blocked == []
    # The first introspection went out with the placeholder and was refused: the only error allowed.
    assert [e for e in errors if "401" not in e] == []


def test_a_token_in_the_fragment_fills_the_header(engine: Engine, browser: Browser) -> None:
    name = f"片段令牌-{uuid.uuid4().hex[:6]}"
    token = create_client(engine, name)
    blocked: list[str] = []
    errors: list[str] = []
    with serve(create_app(engine)) as base:
        page = offline_page(browser, blocked, errors)
        page.goto(f"{base}/graphql#token={token}")
        expect(page.locator(f"{QUERY} .CodeMirror")).to_be_visible()
        assert f'"Authorization": "Bearer {token}"' in editor_text(page, HEADERS)
        assert token not in page.url, "the token stays in the address bar and the history"
        page.get_by_role("button", name=re.compile("Execute query")).click()
        expect(page.locator(RESULT)).to_contain_text(name)
        page.context.close()
    assert blocked == []
    assert errors == []
