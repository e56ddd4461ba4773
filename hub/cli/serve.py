"""`hub serve` and `hub schema`: the GraphQL API, whose stack loads only inside these commands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hub.cli.common import open_engine


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve /graphql, /health and the console (/console) on HUB_DATABASE_URL."""
    import uvicorn

    open_engine().dispose()
    uvicorn.run(
        "hub.console:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


def schema() -> None:
    """Print the GraphQL schema (the same text as schema.graphql)."""
    from hub.api import schema_sdl

    sys.stdout.write(schema_sdl())
