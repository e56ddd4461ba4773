"""Browser tests' helpers: an ASGI app served by uvicorn on a free port, and the Chromium to drive
(Debian's `chromium`, or `HUB_TEST_CHROMIUM`; Playwright's own browser downloads are never used)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

__all__ = ["chromium_path", "serve"]


def chromium_path() -> str:
    """The Chromium the tests drive: `HUB_TEST_CHROMIUM`, else Debian's (`.ci/run` installs it)."""
    path = os.environ.get("HUB_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError(
            "the browser tests need Chromium: `apt-get install chromium` (or set HUB_TEST_CHROMIUM)"
        )
    return path


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """`app` served by uvicorn on a free port of 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
