"""Helpers of the console's browser tests: clients of each role, pages signed in, screenshots."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from hub.clients import add_client

__all__ = ["ConsoleCity", "shot"]


@dataclass
class ConsoleCity:
    """A resolved city served with the console, and a browser to drive it."""

    engine: Engine
    base: str
    browser: Browser
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: str, *scopes: str) -> str:
        """The token of a new client of `role` (one per role and scopes, made on first use)."""
        key = "/".join((role, *scopes))
        if key not in self.tokens:
            with Session(self.engine) as session, session.begin():
                self.tokens[key] = add_client(session, f"{role}-{uuid.uuid4().hex[:6]}", role, scopes)
        return self.tokens[key]

    def page(self, *, blocked: list[str] | None = None) -> Page:
        """A new page in a fresh browser context (no cookies). Requests to any host but 127.0.0.1 are
        aborted and listed in `blocked` when given."""
        context = self.browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        if blocked is not None:

            def route(route: Any) -> None:
                url = route.request.url
                if url.startswith(("http://127.0.0.1", "data:", "blob:")):
                    route.continue_()
                else:
                    blocked.append(url)
                    route.abort()

            context.route("**/*", route)
        return page

    def sign_in(self, role: str, *scopes: str, page: Page | None = None) -> Page:
        page = page or self.page()
        page.goto(f"{self.base}/console/sign-in")
        page.fill("#token", self.token(role, *scopes))
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/sign-in" not in page.url, page.inner_text("body")
        return page

    def one(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()


def shot(page: Page, name: str, directory: Path) -> Path:
    """A screenshot of the whole page, into `directory` and, when `HUB_CONSOLE_SCREENSHOTS` names a
    folder (the README's pictures: `docs/console`), there too."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if folder := os.environ.get("HUB_CONSOLE_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(folder) / f"{name}.png")
    return path
