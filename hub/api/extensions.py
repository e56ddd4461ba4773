"""Schema extensions: the operation owns the transaction; errors carry codes, unexpected ones are masked."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from hub import access_log
from hub.errors import HubError, InputError

__all__ = ["AccessLog", "ErrorCodes", "ParseOnce", "UnitOfWork"]

log = logging.getLogger(__name__)
# The messages of strawberry's depth, alias and token limits.
_LIMITS = re.compile(r"exceeds maximum operation depth|aliases found|token limit|tokens", re.IGNORECASE)


class UnitOfWork(SchemaExtension):
    """Commit the operation's session when it succeeded, roll back when any error occurred. A query
    runs without a transaction (it writes nothing); a mutation runs in one."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if hasattr(context, "read_only"):
            context.read_only = self.execution_context.operation_type == OperationType.QUERY
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        ok = result is not None and not result.errors
        context.finish(commit=ok)


_PARSED: OrderedDict[str, DocumentNode] = OrderedDict()
_PARSED_MAX = 512


class ParseOnce(SchemaExtension):
    """Parse each query text once: clients send the same few queries again and again. Only documents
    that parsed are kept, so a syntax error goes the usual way and gets its code."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and (document := _PARSED.get(query)) is not None:
            _PARSED.move_to_end(query)
            context.graphql_document = document
        yield
        if query is not None and context.graphql_document is not None and query not in _PARSED:
            _PARSED[query] = context.graphql_document
            if len(_PARSED) > _PARSED_MAX:
                _PARSED.popitem(last=False)


class AccessLog(SchemaExtension):
    """Write one access-log row per operation that showed personal data or looked up a personal
    identifier (even when nothing was found): who, which entities and fields, which operation (its
    text without literals, the hash of the full text, its name, its variables and lookups with
    personal values as digests), when, and the purpose code the client gave (`X-Purpose`, one of
    `HUB_PURPOSES`; an unknown one is refused with BAD_INPUT before anything is read).

    The row is written in its own transaction, so it is kept when the operation rolls back. When it
    cannot be written, the data is withheld (ACCESS_LOG_UNAVAILABLE): an unlogged read of personal
    data would be a leak. See `hub/access_log.py`.
    """

    purpose: str | None = None
    refused: bool = False

    def on_execute(self) -> Iterator[None]:
        try:
            self.purpose = access_log.purpose_of(getattr(self.execution_context.context, "request", None))
        except InputError as exc:
            self.refused = True
            self.execution_context.result = access_log.refusal(exc)
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        if self.refused or not hasattr(ec.context, "personal"):
            return
        try:
            access_log.write(
                ec.context, ec.query, ec.graphql_document, ec.operation_name, ec.variables, self.purpose
            )
        except Exception:  # whatever it was, the data must not leave unlogged
            client = ec.context.client.name if ec.context.client else None
            log.exception("access log not written, response withheld (client %s)", client)
            access_log.withhold(ec.result)


class ErrorCodes(SchemaExtension):
    """Put a code in every error's `extensions.code`; hide the text of errors nobody expected."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._coded(error) for error in result.errors]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, HubError):
            return _with_code(error, error.message, original.code)
        if isinstance(original, GraphQLError):  # a variable's value could not be coerced
            return _with_code(error, error.message, "BAD_INPUT")
        if original is None and _LIMITS.search(error.message):
            return _with_code(error, error.message, "QUERY_TOO_COMPLEX")
        if original is None:
            extensions = error.extensions or {}
            code = extensions.get("code") or (
                "GRAPHQL_PARSE_FAILED" if "Syntax Error" in error.message else "GRAPHQL_VALIDATION_FAILED"
            )
            return _with_code(error, error.message, code)
        log.error("unexpected error in %s", error.path, exc_info=original)
        return _with_code(error, "Unexpected error; it has been logged.", "INTERNAL")


def _with_code(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), "code": code},
    )
