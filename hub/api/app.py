"""The Starlette application: `/graphql` (GraphiQL in a browser) and `/health`.

Every GraphQL request must carry `Authorization: Bearer <token>` of a live client; without one it is
refused with HTTP 401 and the code UNAUTHENTICATED before any GraphQL work. Only the GraphiQL page
itself (a browser's GET without a query) loads without a token; its requests then need one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from hub import __version__
from hub.api.auth import authenticate_connection
from hub.api.context import HubContext
from hub.api.schema import schema
from hub.config import get_settings
from hub.store.database import make_engine
from hub.store.migrations import current_revision, head_revision

__all__ = ["create_app"]


class _HubGraphQL(GraphQL[HubContext, None]):
    def __init__(self, engine: Engine, reader: Engine) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.engine = engine
        self.reader = reader

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # several times faster than the standard library's encoder

    async def get_context(self, request: Any, response: Any) -> HubContext:
        client = request.scope.get("state", {}).get("client")
        return HubContext(engine=self.engine, reader=self.reader, request=request, client=client)


class _Authenticated:
    """ASGI wrapper: resolve the bearer token to a client, or refuse the request; then run at most
    `concurrency` operations at once, so each finds a free database connection instead of blocking
    the event loop while it waits for one."""

    def __init__(self, app: ASGIApp, reader: Engine, concurrency: int) -> None:
        self.app = app
        self.reader = reader
        self.slots = asyncio.Semaphore(concurrency)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        ide_page = (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )
        if not ide_page:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            client = None
            if scheme.lower() == "bearer" and token.strip():
                client = authenticate_connection(self.reader, token.strip())
            if client is None:
                reason = "a valid, unrevoked client token" if token else "a client token"
                response = JSONResponse(
                    {
                        "errors": [
                            {
                                "message": f"this API needs {reason}: send `Authorization: Bearer <token>`"
                                " (tokens come from `hub clients add`)",
                                "extensions": {"code": "UNAUTHENTICATED"},
                            }
                        ]
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["client"] = client
        async with self.slots:
            await self.app(scope, receive, send)


def create_app(engine: Engine | None = None) -> Starlette:
    """Build the ASGI app on `engine` (default: `HUB_DATABASE_URL`, with a connection for each
    operation `HUB_API_CONCURRENCY` lets run at once, plus a few for tokens and the access log)."""
    concurrency = get_settings().api_concurrency
    # No ping before each checkout (a round trip per request): a connection the database dropped
    # fails the operation using it, and SQLAlchemy then renews the whole pool.
    engine = engine or make_engine(pool_size=concurrency + 4, max_overflow=4, pool_pre_ping=False)
    # The same pool in autocommit: tokens and queries read without BEGIN and COMMIT round trips.
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")
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

    graphql = _HubGraphQL(engine, reader)
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/graphql", _Authenticated(graphql, reader, concurrency), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
