"""Traces with OpenTelemetry, when an operator asks for them (the optional extra `otel`).

With `HUB_OTLP_ENDPOINT` set (an OTLP/HTTP collector, e.g. http://collector:4318/v1/traces), or
OpenTelemetry's own `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, or a tracer
provider given to `create_app`, each request gets a span (ASGI; not `/health` and `/metrics`, which
probes call every few seconds), each GraphQL operation and resolver one (strawberry's OpenTelemetry
extension, on a second schema built for it: without tracing no resolver pays for it) and each
statement SQLAlchemy runs one, on both pools. Nothing personal goes into a span: the operation's
text is kept with its string and number literals elided, its name with long runs of digits elided
(as the metrics and the request log name it), and of the arguments only numbers, flags, enum values,
ids and cursors are recorded, never a text (a name, an address, a key). Without the extra
installed, asking for traces is a clear error.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from enum import Enum
from functools import lru_cache
from typing import Any

from graphql import GraphQLResolveInfo, parse
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.logs import shaped
from hub.api.metrics import operation_name
from hub.errors import InputError

__all__ = ["instrument", "operation_spans", "otel_endpoint_set", "tracer_provider"]

# Arguments whose text a span may hold: entity ids and page cursors, which name no one.
_TRACED_TEXTS = frozenset({"id", "ids", "after", "before"})
# Requests that get no span, nor their statements: probes and scrapes, every few seconds.
_UNTRACED = ("/health", "/metrics")


def _shape(query: str) -> str:
    """The operation's text without its string and number literals (an ID number written into a query)."""
    try:
        return shaped(parse(query))
    except Exception:  # a query that does not parse is kept as nothing
        return ""


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | Enum)


def _traceable(args: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    """The arguments a resolver's span records: numbers, flags and enum values (`first`, `kinds`), ids
    and cursors; no text, since a name, an address or a source key finds a person as well as an ID
    number does, and no input object (a `match` or submitted record)."""
    return {
        name: value
        for name, value in args.items()
        if _plain(value)
        or (isinstance(value, list | tuple) and all(_plain(v) for v in value))
        or (name in _TRACED_TEXTS and isinstance(value, str | list | tuple))
    }


def _span_name(name: str | None) -> str:
    return f"GraphQL Query: {operation_name(name)}" if name else "GraphQL Query"


@lru_cache(maxsize=1)
def _extension() -> type:
    try:
        from strawberry.extensions.tracing import OpenTelemetryExtension
        from strawberry.extensions.tracing.opentelemetry import LifecycleStep
    except ImportError as exc:
        raise InputError("traces need the optional extra: pip install 'link-hub[otel]'") from exc

    class HubTracing(OpenTelemetryExtension):
        """strawberry's extension, with the operation's text shaped, its name as the metrics give it
        and only plain arguments kept."""

        def __init__(self, *, execution_context: Any = None, tracer_provider: Any = None) -> None:
            super().__init__(
                execution_context=execution_context, arg_filter=_traceable, tracer_provider=tracer_provider
            )

        def on_operation(self) -> Generator[None, None, None]:
            steps = super().on_operation()
            next(steps)
            span = self._span_holder[LifecycleStep.OPERATION]
            span.set_attribute("query", _shape(self.execution_context.query or ""))
            span.update_name(_span_name(self._operation_name))
            yield
            # The name known only once parsed: set here, so that strawberry's step does not set it raw.
            if not self._operation_name and self.execution_context.operation_name:
                self._operation_name = self.execution_context.operation_name
                span.update_name(_span_name(self._operation_name))
            next(steps, None)

    return HubTracing


def otel_endpoint_set() -> bool:
    """Whether OpenTelemetry's own variables name a collector for traces."""
    return any(
        os.environ.get(name, "").strip()
        for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def tracer_provider(endpoint: str | None) -> Any:
    """A tracer provider exporting to an OTLP/HTTP collector at `endpoint` (None: where OpenTelemetry's
    variables say), in batches, as `service.name` `link-hub` unless `OTEL_SERVICE_NAME` or
    `OTEL_RESOURCE_ATTRIBUTES` names the service."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise InputError("traces need the optional extra: pip install 'link-hub[otel]'") from exc
    named = os.environ.get("OTEL_SERVICE_NAME", "").strip() or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": "link-hub"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def operation_spans(provider: Any) -> Any:
    """The schema extension (a factory, one per operation) that gives operations and resolvers spans."""
    extension = _extension()
    return lambda: extension(tracer_provider=provider)


class _Untraced:
    """Runs probes and scrapes with instrumentation suppressed, so their statements get no spans."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in _UNTRACED:
            await self.app(scope, receive, send)
            return
        from opentelemetry.instrumentation.utils import suppress_instrumentation

        with suppress_instrumentation():
            await self.app(scope, receive, send)


def instrument(app: Starlette, engines: list[Engine], provider: Any) -> None:
    """A span for each request `app` answers (but probes and scrapes) and each statement `engines` run."""
    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    # This engine only: the instrumentor's own `instrument()` would also wrap every engine the
    # process creates afterwards, and only the first engine it is given.
    usage = metrics.NoOpMeterProvider().get_meter("hub.sql").create_up_down_counter("db.client.connections")
    for engine in engines:
        EngineTracer(trace.get_tracer("hub.sql", tracer_provider=provider), engine, usage)
    app.add_middleware(_Untraced)
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider, excluded_urls=",".join(_UNTRACED))
