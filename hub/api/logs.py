"""One JSON line per HTTP request on the `hub.request` logger, and the JSON format of every log line.

`RequestLog` wraps the whole web app. It gives each request an id (the caller's `X-Request-Id` when
it is a sane token, else a new one), returns it in the `X-Request-Id` response header, and when the
response is sent logs one line: the request id, method, path (never the query string: a GET of
`/graphql` carries the query and its variables there), HTTP status, duration, the client's name and,
for `/graphql`, the operation's name, a short hash of its text with every string and number literal elided,
its result code (`OK` or the first error's `extensions.code`) and the number of entities and records
in the answer. No variable, literal or answered value is ever logged: those are where personal values
(ID numbers, phones, birth dates) are. The same wrapper feeds the GraphQL metrics (`hub.api.metrics`).

`JsonFormatter` (`hub.logs`) writes a record as one JSON object: time, level, logger, message and
the record's extra fields. `hub serve` puts uvicorn's own loggers and the hub's in it (`log_config`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from time import perf_counter
from typing import Any

from graphql import (
    DocumentNode,
    NameNode,
    OperationDefinitionNode,
    print_ast,
    strip_ignored_characters,
    visit,
)
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.access_log import Literals
from hub.api.metrics import Metrics, Outcome, operation_name
from hub.logs import JsonFormatter

__all__ = [
    "REQUEST_LOG",
    "JsonFormatter",
    "RequestLog",
    "Shape",
    "log_config",
    "shape_hash",
    "shaped",
]

REQUEST_LOG = logging.getLogger("hub.request")

# A caller's request id is kept when it is a plain token (a UUID, a trace id, `req-42`); anything
# else (spaces, quotes, control characters, a long text) could forge or break log lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


class Shape(Literals):
    """A document as logs and traces may hold it: every literal elided, and each operation's name as the
    metrics count it (long runs of digits elided: a client may name an operation after what it looks
    up)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        if node.name is None or node.name.value == (name := operation_name(node.name.value)):
            return None
        return OperationDefinitionNode(
            operation=node.operation,
            name=NameNode(value=name),
            variable_definitions=node.variable_definitions,
            directives=node.directives,
            selection_set=node.selection_set,
        )


def shaped(document: DocumentNode) -> str:
    """The text of `document` as logs and traces may hold it (`Shape`), ignored characters stripped."""
    return strip_ignored_characters(print_ast(visit(document, Shape())))


_SHAPES: OrderedDict[str, str] = OrderedDict()
_SHAPES_MAX = 512
_SHAPE_QUERY_MAX = 8 * 1024


def shape_hash(query: str | None, document: DocumentNode | None) -> str | None:
    """The first 12 hex digits of the SHA-256 of the operation's text with every literal elided
    and ignored characters stripped: the same query shape hashes alike, and no literal (an ID number
    written into the text) can be recovered by hashing guesses. Worked out once per text."""
    if query is None or document is None:
        return None
    if (known := _SHAPES.get(query)) is not None:
        _SHAPES.move_to_end(query)
        return known
    shape = hashlib.sha256(shaped(document).encode()).hexdigest()[:12]
    if len(query) <= _SHAPE_QUERY_MAX:
        _SHAPES[query] = shape
        if len(_SHAPES) > _SHAPES_MAX:
            _SHAPES.popitem(last=False)
    return shape


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _REQUEST_ID.match(given):
                return given
            break
    return _new_id()


# A new request id: 16 random hex digits drawn once per process, then a count of 16: unique across
# processes and servers as a random UUID is, without a system call and a UUID object per request.
_id_prefix = ""
_id_count = itertools.count()


def _new_id() -> str:
    global _id_prefix
    if not _id_prefix:
        _id_prefix = os.urandom(8).hex()
    return f"{_id_prefix}{next(_id_count) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


class _RequestRecord(logging.LogRecord):
    """The record of a request's line, as `REQUEST_LOG.info("request", extra=fields)` would make it
    from `RequestLog.__call__`, at a third of the cost: the attributes that are the same for every
    request of a process (the call site, the level, the process's id and name) are worked out once per
    process (`_site`), the time and thread for each record. A handler or formatter of the operator's
    finds every attribute a `LogRecord` has."""

    def __init__(self, fields: dict[str, Any]) -> None:  # instead of LogRecord's: no super().__init__
        attributes = self.__dict__
        attributes.update(_site or _made_site())
        now = time.time()
        attributes["created"] = now
        attributes["msecs"] = int((now - int(now)) * 1000) + 0.0
        attributes["relativeCreated"] = (now - _STARTED) * 1000
        if logging.logThreads:
            attributes["thread"] = threading.get_ident()
            attributes["threadName"] = threading.current_thread().name
        if "taskName" in attributes:  # Python 3.12 on: the asyncio task's name
            attributes["taskName"] = _task_name()
        attributes.update(fields)  # as `Logger.makeRecord` adds `extra`


def _task_name() -> str | None:
    if not getattr(logging, "logAsyncioTasks", False):
        return None
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None
    return None if task is None else task.get_name()


_STARTED: float = logging._startTime  # type: ignore[attr-defined]  # what relativeCreated counts from
# What `_RequestRecord` copies into each record: made in each process as its first line is logged.
_site: dict[str, Any] = {}


def _made_site() -> dict[str, Any]:
    """`_site`, with the call site `Logger.findCaller` would give: the frame that made the record."""
    caller = sys._getframe(2)  # this function's caller is `_RequestRecord.__init__`
    code = caller.f_code
    record = REQUEST_LOG.makeRecord(
        REQUEST_LOG.name, logging.INFO, code.co_filename, caller.f_lineno, "request", (), None, code.co_name
    )
    _site.update(record.__dict__)
    return _site


def _new_process() -> None:
    """In a forked child: its own request ids and process id in its lines."""
    global _id_prefix
    _id_prefix = ""
    _site.clear()


os.register_at_fork(after_in_child=_new_process)


class RequestLog:
    """ASGI wrapper of the whole app: the request id, the request's log line, the GraphQL metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics, graphql_path: str = "/graphql") -> None:
        self.app = app
        self.metrics = metrics
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        outcome = None
        if scope["path"] == self.graphql_path:
            outcome = state["outcome"] = Outcome()
            self.metrics.in_flight.inc()
        status = 500  # unless a response starts: an exception the server answers with 500
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - started
            client = state.get("client")
            client_name = getattr(client, "name", None)
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": scope.get("method"),
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client": client_name,
            }
            if outcome is not None:
                self.metrics.in_flight.dec()
                if outcome.code is None and status >= 400:  # refused by the GraphQL server itself
                    outcome.code = f"HTTP_{status}"
                if outcome.code is not None:  # not the GraphiQL page
                    name = operation_name(outcome.operation) if outcome.executed else None
                    fields.update(
                        operation=name,
                        operation_hash=outcome.shape,
                        code=outcome.code,
                        entities=outcome.entities,
                    )
                    self.metrics.observe(outcome, client_name, seconds)
            if REQUEST_LOG.isEnabledFor(logging.INFO):
                REQUEST_LOG.handle(_RequestRecord(fields))  # `REQUEST_LOG.info("request", extra=fields)`


# The attributes every LogRecord has; whatever else a record carries came as `extra`.
def log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for `hub serve`: uvicorn's loggers (`uvicorn.error`,
    `uvicorn.access`) and the hub's (`hub`, `hub.request`) write JSON lines to standard error, and so
    does every other library's warning (an exporter retrying, a driver's notice) through the root
    logger, so that a log collector parsing JSON loses no line."""
    handler = {"handlers": ["json"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "hub.logs.JsonFormatter"}},
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": handler,
            "uvicorn.error": {"level": level},
            "uvicorn.access": handler,
            "hub": handler,
        },
        "root": {"handlers": ["json"], "level": "WARNING"},
    }
