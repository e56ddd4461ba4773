"""Traces with OpenTelemetry, when an operator asks for them (the optional extra `otel`).

With `HUB_OTLP_ENDPOINT` set (an OTLP/HTTP collector, e.g. http://collector:4318/v1/traces), or a
tracer provider given to `create_app`, each request gets a span (ASGI), each GraphQL operation and
resolver one (strawberry's OpenTelemetry extension, on a second schema built for it: without tracing
no resolver pays for it) and each statement SQLAlchemy runs one. Nothing personal goes into a span:
the operation's text is kept with its string and number literals elided, and no argument whose name is a
personal field's is recorded. Without the extra installed, asking for traces is a clear error.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import lru_cache
from typing import Any

from graphql import GraphQLResolveInfo, parse, print_ast, strip_ignored_characters, visit
from sqlalchemy import Engine
from starlette.applications import Starlette

from hub.access_log import Literals, personal_name
from hub.errors import InputError

__all__ = ["instrument", "operation_spans", "tracer_provider"]


def _shape(query: str) -> str:
    """The operation's text without its string and number literals (an ID number written into a query)."""
    try:
        return strip_ignored_characters(print_ast(visit(parse(query), Literals())))
    except Exception:  # a query that does not parse is kept as nothing
        return ""


def _no_personal(args: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {name: value for name, value in args.items() if not personal_name(name) and name != "record"}


@lru_cache(maxsize=1)
def _extension() -> type:
    try:
        from strawberry.extensions.tracing import OpenTelemetryExtension
        from strawberry.extensions.tracing.opentelemetry import LifecycleStep
    except ImportError as exc:
        raise InputError("traces need the optional extra: pip install 'link-hub[otel]'") from exc

    class HubTracing(OpenTelemetryExtension):
        """strawberry's extension, with the operation's text shaped and personal arguments left out."""

        def __init__(self, *, execution_context: Any = None, tracer_provider: Any = None) -> None:
            super().__init__(
                execution_context=execution_context, arg_filter=_no_personal, tracer_provider=tracer_provider
            )

        def on_operation(self) -> Generator[None, None, None]:
            steps = super().on_operation()
            next(steps)
            span = self._span_holder[LifecycleStep.OPERATION]
            span.set_attribute("query", _shape(self.execution_context.query or ""))
            yield
            next(steps, None)

    return HubTracing


def tracer_provider(endpoint: str) -> Any:
    """A tracer provider exporting to an OTLP/HTTP collector at `endpoint`, in batches."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise InputError("HUB_OTLP_ENDPOINT needs the optional extra: pip install 'link-hub[otel]'") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "link-hub"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def operation_spans(provider: Any) -> Any:
    """The schema extension (a factory, one per operation) that gives operations and resolvers spans."""
    extension = _extension()
    return lambda: extension(tracer_provider=provider)


def instrument(app: Starlette, engine: Engine, provider: Any) -> None:
    """A span for each request `app` answers and each statement `engine` runs."""
    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    # This engine only: the instrumentor's own `instrument()` would also wrap every engine the
    # process creates afterwards, and only the first engine it is given.
    usage = metrics.NoOpMeterProvider().get_meter("hub.sql").create_up_down_counter("db.client.connections")
    EngineTracer(trace.get_tracer("hub.sql", tracer_provider=provider), engine, usage)
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)
