"""`hub serve` and `hub schema`: the GraphQL API, whose stack loads only inside these commands."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import open_engine


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve /graphql, /health, /metrics and the console (/console) on HUB_DATABASE_URL; logs are JSON
    lines on standard error."""
    import uvicorn

    from hub.api.logs import log_config
    from hub.config import get_settings

    allowed = ", ".join(str(network) for network in get_settings().metrics_allow) or "no address"
    open_engine().dispose()
    for line in listening(host, port, workers, allowed):
        typer.echo(line)
    with shared_metrics(workers):
        uvicorn.run(
            "hub.console:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config(),
            log_level="info",
            # Off: the hub logs each request itself (`hub.request`), and uvicorn's line would carry the
            # query string, where a GET of /graphql has its variables.
            access_log=False,
            proxy_headers=True,
        )


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory where each keeps its metrics, so that a scrape answered by
    any of them counts them all (`hub.api.metrics`): `PROMETHEUS_MULTIPROC_DIR` if the operator set
    it (emptied first: values of an earlier run would be added in), else a temporary one, removed
    when the server stops. The workers are new processes, which see it as they start."""
    if workers == 1:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="hub-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


def listening(host: str, port: int, workers: int, metrics_allow: str) -> list[str]:
    """What `hub serve` prints as it starts: where each part is served, and by how many processes."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    everywhere = "  (every interface of this machine)" if host in ("0.0.0.0", "::") else ""
    processes = "1 worker process" if workers == 1 else f"{workers} worker processes"
    return [
        f"hub serve: listening on {base} with {processes}{everywhere}",
        f"  GraphQL  {base}/graphql",
        f"  console  {base}/console/",
        f"  metrics  {base}/metrics  (from {metrics_allow}, or with an ops client's token)",
        "  logs     JSON lines on standard error; Ctrl+C stops",
    ]


def schema() -> None:
    """Print the GraphQL schema (the same text as schema.graphql)."""
    from hub.api import schema_sdl

    sys.stdout.write(schema_sdl())
