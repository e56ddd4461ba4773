"""The console's tests run against a resolved city served on a free port, in headless Chromium, on each
backend; the city and the server are built once per module and backend, the browser once per session
(`browser`, in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import serve
from console_city import ConsoleCity
from playwright.sync_api import Browser
from resolved_city import resolved_city

from hub.console import create_app

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[ConsoleCity]:
    engine = resolved_city(request, tmp_path_factory.mktemp("console-city"))
    with serve(create_app(engine)) as base:
        yield ConsoleCity(engine, base, browser)
    engine.dispose()
