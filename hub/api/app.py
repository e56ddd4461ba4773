"""The Starlette application: `/graphql` (GraphiQL in a browser), `/health` and `/metrics`.

Every GraphQL request must carry `Authorization: Bearer <token>` of a live client; without one it is
refused with HTTP 401 and the code UNAUTHENTICATED before any GraphQL work. Only the GraphiQL page
itself (a browser's GET without a query) loads without a token; its requests then need one. Then the
limits of `hub.config.ApiLimits` apply, each answered with a JSON error and its code: a client over
its rate or its share of the slots gets 429 (RATE_LIMITED, BUSY) with Retry-After, a body too large
413 (TOO_LARGE), too slow 408 (REQUEST_TIMEOUT), one that is not a JSON object 400 (BAD_INPUT).

Every request is logged as one JSON line with its id, returned in `X-Request-Id` (`hub.api.logs`);
`/metrics` serves the Prometheus metrics to the allowed addresses and `ops` clients (`hub.api.metrics`).

The GraphiQL page loads React and GraphiQL vendored in `hub/api/static/graphiql/` from `/graphql/static/`,
never from a CDN, so it works on an intranet without internet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException  # what strawberry's view raises to refuse a request (its own package)
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types.graphql import OperationType

from hub import __version__
from hub.access_log import load_digest_key
from hub.api import tracing
from hub.api.context import HubContext
from hub.api.limits import (
    ClientSlots,
    RateLimiter,
    check_fields,
    check_request,
    read_body,
    replay,
)
from hub.api.logs import RequestLog
from hub.api.metrics import Metrics, Outcome
from hub.api.planned import answer_operation
from hub.api.schema import _Schema, build_schema, schema
from hub.clients import authenticate_connection
from hub.config import ApiLimits, apply_config_file, get_settings
from hub.errors import HubError, InputError, RateLimitedError, RetryLaterError
from hub.logs import exception_line
from hub.store.database import make_engine
from hub.store.migrations import current_revision, head_revision
from hub.submit import LiveResolvers

__all__ = ["create_app"]

_GRAPHIQL = Path(__file__).parent / "static" / "graphiql"

# The IDE page runs only this server's scripts and talks only to this server.
_IDE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class _HubGraphQL(GraphQL[HubContext, None]):
    def __init__(self, engine: Engine, reader: Engine, served: Any = None) -> None:
        super().__init__(served or schema, graphql_ide="graphiql")
        self.engine = engine
        self.reader = reader
        self.live = LiveResolvers()  # each kind's resolver, kept warm between submissions
        self.ide_page = (_GRAPHIQL / "index.html").read_text(encoding="utf-8")

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our own GraphiQL page instead of strawberry's, which loads its scripts from unpkg.com."""
        return HTMLResponse(self.ide_page, headers=_IDE_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's, but a request its view refuses (no query, an operation name the document does
        not hold, a body that is not JSON, a mutation sent as GET) is answered as every other refusal
        is, a coded JSON error, instead of strawberry's plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = _view_refusal(scope, exc.status_code, exc.reason)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # several times faster than the standard library's encoder

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # faster, and bounds nesting where the standard library recurses

    async def get_context(self, request: Any, response: Any) -> HubContext:
        """The operation's context; the one `answer_known` made, when it handed the request on."""
        state = request.scope.setdefault("state", {})
        context = state.get("context")
        if not isinstance(context, HubContext):
            context = state["context"] = HubContext(
                engine=self.engine,
                reader=self.reader,
                request=request,
                client=state.get("client"),
                live=self.live,
            )
        return context

    async def answer_known(self, request: Request, data: dict[str, Any]) -> Response | None:
        """The response to a POSTed JSON request (`data`, checked) whose query the schema answers in one
        pass (`hub.api.planned.answer_operation`: a text seen before, of a planned shape), made here
        without strawberry's HTTP view around it: the same JSON, status and headers the view would
        give. None for anything else (another transport asked for, operation extensions, a query the
        one pass does not answer), which the view then handles as usual, with this context."""
        served = self.schema
        if not isinstance(served, _Schema) or not served.one_pass or data.get("extensions"):
            return None
        accept = request.headers.get("accept", "")
        if "multipart/" in accept or "text/event-stream" in accept:  # a streaming transport's answer
            return None
        if "application/json" not in request.headers.get("content-type", "").lower():
            return None
        context = await self.get_context(request, None)
        result = await answer_operation(
            served._schema,
            data.get("query"),
            data.get("variables"),
            context,
            data.get("operationName"),
            OperationType.from_http("POST"),
        )
        if result is None:
            return None
        response_data = await self.process_result(request, result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return Response(self.encode_json(response_data), media_type="application/json")


def _refusal(
    scope: Scope, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A GraphQL-shaped JSON error for a request refused before any GraphQL work; a Retry-After header
    is repeated as `extensions.retryAfter`, as errors inside an operation give it. The code goes to
    the request's outcome (its log line and metrics)."""
    if isinstance(outcome := scope.get("state", {}).get("outcome"), Outcome):
        outcome.code = code
    extensions: dict[str, object] = {"code": code}
    if headers and "Retry-After" in headers:
        extensions["retryAfter"] = int(headers["Retry-After"])
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return JSONResponse(body, status_code=status, headers=headers)


_STATUS = {"TOO_LARGE": 413, "REQUEST_TIMEOUT": 408, "RATE_LIMITED": 429, "BUSY": 429}


def _view_refusal(scope: Scope, status: int, reason: str) -> JSONResponse:
    """strawberry's view refused the request: its reason, with what to do, coded."""
    headers = None
    if reason.startswith("Unsupported content type"):
        status, reason = 415, "the request body must be JSON: send it with Content-Type: application/json"
    elif reason.startswith("mutations are not allowed when using GET"):
        status, reason, headers = 405, "a mutation must be sent as POST, not GET", {"Allow": "POST"}
    elif reason.startswith("No GraphQL query found"):
        reason = 'no GraphQL query in the request: give `query` ({"query": "...", "variables": {...}})'
    return _refusal(scope, status, "BAD_INPUT", reason, headers)


class _Authenticated:
    """ASGI wrapper, in the order of the work it saves: resolve the bearer token to a client or
    refuse the request; hold the client to its rate; read and check the whole body (bounded in size
    and time); wait for one of the client's share of the slots; then run at most `concurrency`
    operations at once, so each finds a free database connection instead of blocking the event loop
    while it waits for one. A slow or huge body or a greedy client holds no slot another needs."""

    def __init__(self, app: _HubGraphQL, reader: Engine, concurrency: int, limits: ApiLimits) -> None:
        self.app = app
        self.reader = reader
        self.limits = limits
        self.slots = asyncio.Semaphore(concurrency)
        self.rate = RateLimiter(limits.rate, limits.burst) if limits.rate > 0 else None
        per_client = min(limits.client_concurrency or concurrency, concurrency)
        self.client_slots = ClientSlots(per_client, limits.queue_wait)

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
        state = scope.setdefault("state", {})
        state["limits"] = self.limits
        if ide_page:
            await self.app(scope, receive, send)
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        client = None
        if scheme.lower() == "bearer" and token.strip():
            client = authenticate_connection(self.reader, token.strip())
        if client is None:
            reason = "a valid, unrevoked client token" if token else "a client token"
            response = _refusal(
                scope,
                401,
                "UNAUTHENTICATED",
                f"this API needs {reason}: send `Authorization: Bearer <token>`"
                " (tokens come from `hub clients add`)",
                {"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        state["client"] = client
        try:
            if self.rate is not None and (wait := self.rate.allow(client.id)) is not None:
                raise RateLimitedError(
                    f"this client sent more than {self.limits.rate:g} operations a second"
                    f" (HUB_API_RATE, bursts of {self.limits.burst}); retry in {wait:.2f} s",
                    retry_after=wait,
                )
            data = None
            if request.method == "POST":
                body = await read_body(
                    receive,
                    request.headers.get("content-length"),
                    self.limits.max_body,
                    self.limits.body_timeout,
                )
                if "json" in request.headers.get("content-type", ""):
                    data = check_request(body, self.limits.max_query)
                receive = replay(body)
            elif request.method == "GET":
                self._check_parameters(request)
            await self.client_slots.acquire(client.id)
        except HubError as exc:
            headers = None
            if isinstance(exc, RetryLaterError):
                headers = {"Retry-After": str(exc.whole_seconds)}
            refusal = _refusal(scope, _STATUS.get(exc.code, 400), exc.code, str(exc), headers)
            await refusal(scope, receive, send)
            return
        try:
            async with self.slots:
                known = None if data is None else await self.app.answer_known(request, data)
                if known is not None:
                    await known(scope, receive, send)
                else:
                    await self.app(scope, receive, send)
        finally:
            self.client_slots.release(client.id)
            # The operation's context refers to the request, whose scope holds the context: a cycle
            # that would keep the whole operation for the cyclic collector.
            state.pop("context", None)

    def _check_parameters(self, request: Request) -> None:
        params = dict(request.query_params)
        for name in ("variables", "extensions"):
            if params.get(name):
                try:
                    params[name] = orjson.loads(params[name])
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"`{name}` is not JSON ({exc}); give a JSON object") from None
        check_fields(params, self.limits.max_query)


def create_app(
    engine: Engine | None = None,
    *,
    extend: Callable[[Starlette, Engine, Engine], None] | None = None,
    tracer_provider: Any = None,
) -> Starlette:
    """Build the ASGI app on `engine`, or by default on `HUB_DATABASE_URL` with two pools: one in
    autocommit for the reads (tokens, queries and the access log's one-row inserts: a connection for
    each operation `HUB_API_CONCURRENCY` lets run at once, and a few more), one for the transactions
    that write (mutations, stewards' edits: a few kept, more opened for a burst).
    `extend(app, engine, reader)` adds what a layer above serves beside the API (the console).
    Traces (hub/api/tracing.py) go to `tracer_provider`, or to `HUB_OTLP_ENDPOINT` when it is set."""
    apply_config_file()  # a server started without `hub serve` (uvicorn hub.console:create_app)
    settings = get_settings()
    # A key file that cannot be used stops the server now, not at the first personal read, which
    # would have to withhold its data (ACCESS_LOG_UNAVAILABLE) from a server that looked healthy.
    load_digest_key(settings.access_log_key_file)
    own_provider = tracer_provider is None and (settings.otlp_endpoint or tracing.otel_endpoint_set())
    if own_provider:
        tracer_provider = tracing.tracer_provider(settings.otlp_endpoint)
    concurrency = settings.api_concurrency
    # No ping before each checkout (a round trip per request): a connection the database dropped
    # fails the operation using it, and SQLAlchemy then renews the whole pool.
    if engine is None:
        # Reads get connections that are in autocommit for good: no BEGIN and COMMIT round trips, and
        # none of the switching of a connection's isolation level at each checkout and back at each
        # return (on SQLite a quarter of a 3-hop query's CPU time).
        # With no transaction to end, a connection goes back to the pool without a ROLLBACK either.
        reader = make_engine(
            pool_size=concurrency + 4,
            max_overflow=4,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,
        )
        engine = make_engine(pool_size=4, max_overflow=concurrency + 4, pool_pre_ping=False)
    else:  # an engine of the caller's (tests, an embedding app): its pool serves both, reads in autocommit
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    head = head_revision()

    async def health(_request: Request) -> Response:
        try:
            revision = current_revision(engine)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure makes the instance unhealthy
            # The reason goes to the log only: /health answers anyone, and a driver's message names hosts.
            logging.getLogger("hub.health").warning("unhealthy: %s", exception_line(exc))
            return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
        status = "ok" if revision == head else "migration pending"
        return JSONResponse(
            {"status": status, "version": __version__, "revision": revision, "expected_revision": head},
            status_code=200 if revision == head else 503,
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if own_provider:  # the last spans, still in the batch, go out before the exit
            tracer_provider.shutdown()
        elif tracer_provider is not None:
            tracer_provider.force_flush()
        metrics.close()
        engine.dispose()
        reader.dispose()  # the same pool's again when the caller's engine serves both

    served = None if tracer_provider is None else build_schema(tracing.operation_spans(tracer_provider))
    graphql = _HubGraphQL(engine, reader, served)
    metrics = Metrics(engine, reader)
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Route(
                "/graphql",
                _Authenticated(graphql, reader, concurrency, settings.api_limits),
                methods=["GET", "POST"],
            ),
            Mount("/graphql/static", StaticFiles(directory=_GRAPHIQL), name="graphiql-static"),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    if extend is not None:
        extend(app, engine, reader)
    app.add_middleware(RequestLog, metrics=metrics)
    if tracer_provider is not None:
        # The reads' pool is an engine of its own, except on a caller's engine (its options' view).
        tracing.instrument(app, [engine] if reader.pool is engine.pool else [engine, reader], tracer_provider)
    return app
