"""The Starlette application: `/graphql` (GraphiQL in a browser) and `/health`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from hub import __version__
from hub.api.context import HubContext
from hub.api.schema import schema
from hub.store.database import make_engine
from hub.store.migrations import current_revision, head_revision

__all__ = ["create_app"]


class _HubGraphQL(GraphQL[HubContext, None]):
    def __init__(self, engine: Engine) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.engine = engine

    async def get_context(self, request: Any, response: Any) -> HubContext:
        return HubContext(engine=self.engine, request=request)


def create_app(engine: Engine | None = None) -> Starlette:
    """Build the ASGI app on `engine` (default: `HUB_DATABASE_URL`)."""
    engine = engine or make_engine()
    head = head_revision()

    async def health(_request: Request) -> Response:
        try:
            revision = current_revision(engine)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure makes the instance unhealthy
            return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
        status = "ok" if revision == head else "migration pending"
        return JSONResponse(
            {"status": status, "version": __version__, "revision": revision, "expected_revision": head},
            status_code=200 if revision == head else 503,
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        engine.dispose()

    graphql = _HubGraphQL(engine)
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
