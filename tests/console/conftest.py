"""The console's tests run against a resolved city served on a free port, in headless Chromium, on each
backend; the city and the server are built once per module and backend, the browser once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_city import ConsoleCity, chromium_path, serve
from playwright.sync_api import Browser, sync_playwright
from resolved_city import resolved_city

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=BACKENDS)
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[ConsoleCity]:
    engine = resolved_city(request, tmp_path_factory.mktemp("console-city"))
    with serve(engine) as base:
        yield ConsoleCity(engine, base, browser)
    engine.dispose()
