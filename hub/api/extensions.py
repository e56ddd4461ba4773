"""Schema extensions: the operation owns the transaction; errors carry codes, unexpected ones are masked."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InitialIncrementalExecutionResult,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext, Info
from strawberry.types import ExecutionResult as StrawberryResult
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.graphql import OperationType

from hub import access_log
from hub.api.limits import VariableCap, argument_caps, check_variables, expanded_size, too_complex
from hub.api.logs import shape_hash
from hub.api.metrics import Outcome
from hub.api.permissions import GATEWAY_ROLE, gateway_refusals
from hub.clients import OPS_ROLE, ClientInfo
from hub.config import ApiLimits, get_settings
from hub.errors import ForbiddenError, HubError, InputError, RetryLaterError, TooLargeError

__all__ = [
    "AccessLog",
    "Checked",
    "DocumentCache",
    "ErrorCodes",
    "GatewayScope",
    "LimitedSchema",
    "Observe",
    "UnitOfWork",
    "code_errors",
    "known_document",
    "limits_of",
    "log_access",
    "objects_with_id",
    "observe",
]

log = logging.getLogger(__name__)
# An operation's result as the extensions see it: graphql-core's, or strawberry's (the one-pass answers).
AnyResult = ExecutionResult | InitialIncrementalExecutionResult | StrawberryResult
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


@dataclass(frozen=True, slots=True)
class Checked:
    """A query text parsed, its shape checked and validated: what later requests with it reuse."""

    document: DocumentNode
    errors: list[GraphQLError]
    caps: list[VariableCap]


_Key = tuple[str, int, int, int]  # the query, and the limits its checks depended on
_CHECKED: OrderedDict[_Key, Checked] = OrderedDict()
_CHECKED_MAX = 512
# A parsed document takes about a hundred times its text: only short queries are kept, and the
# cache is bounded in (estimated) bytes as well as in entries, so long queries cannot fill memory.
_CACHED_QUERY_MAX = 8 * 1024
_CACHE_BYTES_MAX = 32 * 1024 * 1024
_BYTES_PER_CHARACTER = 128
_cached_bytes = 0


def limits_of(context: object) -> ApiLimits:
    request = getattr(context, "request", None)
    limits = request.scope.get("state", {}).get("limits") if request is not None else None
    return limits if isinstance(limits, ApiLimits) else get_settings().api_limits


class DocumentCache(SchemaExtension):
    """Parse and validate each query text once (clients send the same few queries again and again),
    and refuse before validation a query whose fragments expand beyond `HUB_API_MAX_EXPANDED`
    selections (validation and the depth limit would take exponential time on it) or whose string
    arguments or variables are longer than `HUB_API_MAX_STRING` (`HUB_API_MAX_SEARCH` for searches).
    Only documents that parsed are kept, so a syntax error goes the usual way and gets its code."""

    def __init__(self) -> None:
        self.checked: Checked | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        limits = limits_of(context.context)
        self.key = _key(context.query or "", limits)
        if (checked := known_document(context.query or "", limits)) is not None:
            context.graphql_document = checked.document
            self.checked = checked
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        limits = limits_of(context.context)
        checked = self.checked
        if checked is None and context.graphql_document is not None:
            checked = _check(context.graphql_document, context, limits)
            _remember(self.key, checked)
        if checked is not None:
            errors = checked.errors
            # What the GraphQL specification says; strawberry would run the first operation (its
            # `operation_name` is the first one's when the request names none: the name given is kept
            # apart, and a test fails should a new strawberry keep it elsewhere).
            named = getattr(context, "_provided_operation_name", "")
            if not errors and named is None and _operations(checked.document) > 1:
                errors = [GraphQLError("Must provide operation name if query contains multiple operations.")]
            if not errors:
                try:
                    check_variables(context.variables, checked.caps, limits.max_string)
                except InputError as exc:
                    errors = [GraphQLError(str(exc), original_error=exc)]
            context.pre_execution_errors = errors
        yield


def _operations(document: DocumentNode) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _key(query: str, limits: ApiLimits) -> _Key:
    return (query, limits.max_string, limits.max_search, limits.max_expanded)


def known_document(query: str, limits: ApiLimits) -> Checked | None:
    """What `DocumentCache` keeps of `query` checked under `limits`, if it was seen before."""
    key = _key(query, limits)
    if (checked := _CHECKED.get(key)) is not None:
        _CHECKED.move_to_end(key)
    return checked


def _check(document: DocumentNode, context: ExecutionContext, limits: ApiLimits) -> Checked:
    """The shape first (linear), then the string literals, then validation, which the shape bounds."""
    caps: list[VariableCap] = []
    try:
        if (worst := expanded_size(document, limits.max_expanded)) is not None:
            raise too_complex(worst[0], worst[1], limits.max_expanded)
        caps = argument_caps(document, limits.max_string, limits.max_search)
    except InputError as exc:
        return Checked(document, [GraphQLError(str(exc), original_error=exc)], caps)
    errors = validate_document(context.schema._schema, document, tuple(context.validation_rules))
    return Checked(document, errors, caps)


def _remember(key: _Key, checked: Checked) -> None:
    global _cached_bytes
    if len(key[0]) > _CACHED_QUERY_MAX or key in _CHECKED:
        return
    _CHECKED[key] = checked
    _cached_bytes += len(key[0]) * _BYTES_PER_CHARACTER
    while len(_CHECKED) > _CHECKED_MAX or _cached_bytes > _CACHE_BYTES_MAX:
        old, _ = _CHECKED.popitem(last=False)
        _cached_bytes -= len(old[0]) * _BYTES_PER_CHARACTER


class LimitedSchema(strawberry.federation.Schema):
    """The federation schema with `_entities` checked before it resolves anything: at most
    `HUB_API_MAX_REPRESENTATIONS` representations (else the whole call is TOO_LARGE), each an object
    naming an entity type and exactly the fields of one of its `@key`s, by their GraphQL names
    (`doorplateCode`), as strings. A malformed one is BAD_INPUT at its own index of `_entities`, and
    the others are resolved: one bad reference must not cost a gateway the rest of its batch."""

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        limits = limits_of(info.context)
        if len(representations) > limits.max_representations:
            raise TooLargeError(
                f"_entities: {len(representations):,} representations; at most"
                f" {limits.max_representations:,} per request (HUB_API_MAX_REPRESENTATIONS): send them in"
                " several requests"
            )
        results: list[object] = []
        for index, representation in enumerate(representations):
            try:
                resolve, arguments = self._reference(index, representation, limits.max_search)
                results.append(resolve(info=info, **arguments))
            except Exception as exc:  # this representation's error alone, at its index
                results.append(exc)
        return results  # type: ignore[return-value]

    def _reference(
        self, index: int, representation: object, max_length: int
    ) -> tuple[Callable[..., object], dict[str, str]]:
        """The `resolve_reference` of the representation's type and its arguments (Python names), or
        BAD_INPUT saying what is wrong with it."""
        where = f"_entities: representations[{index}]"
        if not isinstance(representation, dict):
            raise InputError(
                f'{where} is a {type(representation).__name__}; give {{"__typename": ..., "id": ...}}'
            )
        name = representation.get("__typename")
        keys = self._entity_keys().get(name) if isinstance(name, str) else None
        if keys is None:
            entities = ", ".join(sorted(self._entity_keys()))
            raise InputError(f"{where}: __typename {name!r} is not an entity type; use {entities}")
        resolve, key_sets = keys
        given = {k: v for k, v in representation.items() if k != "__typename"}
        arguments = next((names for names in key_sets if set(names) == set(given)), None)
        if arguments is None:
            choices = " or ".join("{" + ", ".join(names) + "}" for names in key_sets)
            raise InputError(f"{where}: give {name} by one of its keys, {choices}; got {sorted(given)}")
        for key, value in given.items():
            if not isinstance(value, str):
                raise InputError(f"{where}: {key} is a JSON {_json_type(value)}; give a string")
            if len(value) > max_length:
                raise InputError(f"{where}: {key} has {len(value):,} characters; at most {max_length:,}")
        return resolve, {arguments[key]: value for key, value in given.items()}

    def _entity_keys(self) -> dict[str, tuple[Callable[..., object], list[dict[str, str]]]]:
        """Per entity type: its `resolve_reference` and each `@key` as {GraphQL name: argument name}."""
        cached: dict[str, tuple[Callable[..., object], list[dict[str, str]]]] | None = getattr(
            self, "_keys_cache", None
        )
        if cached is not None:
            return cached
        cached = {}
        for name, type_ in self.schema_converter.type_map.items():
            definition = getattr(type_, "definition", None)
            resolve = getattr(getattr(definition, "origin", None), "resolve_reference", None)
            if resolve is None or not isinstance(definition, StrawberryObjectDefinition):
                continue
            python_names = {
                self.config.name_converter.get_graphql_name(field): field.python_name
                for field in definition.fields
            }
            key_sets = [
                {field: python_names[field] for field in str(directive.fields).split()}
                for directive in definition.directives or ()
                if isinstance(directive, Key)
            ]
            cached[name] = (resolve, key_sets)
        self._keys_cache = cached
        return cached


def _json_type(value: object) -> str:
    """The JSON type of a decoded value, as a client wrote it: "number", not "int"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


# What an `ops` client may ask over GraphQL: who it is. It reads `/metrics`, not the data.
_OPS_FIELDS = frozenset({"viewer", "__typename"})


def _ops_refusals(client: ClientInfo, root_fields: list[tuple[str, str]]) -> list[tuple[str, ForbiddenError]]:
    return [
        (
            key,
            ForbiddenError(
                f"client {client.name!r} ({OPS_ROLE}) may not read {name}; the ops role reads `/metrics`"
                " and `viewer` only"
            ),
        )
        for key, name in root_fields
        if name not in _OPS_FIELDS
    ]


class GatewayScope(SchemaExtension):
    """Refuse, before anything runs, every root field a gateway's own token asks for but the schema
    (`_service { sdl }`), and every one an `ops` client asks for but `viewer`: FORBIDDEN, one error
    per refused field, with its path."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        client = getattr(context.context, "client", None)
        if (
            client is not None
            and client.role in (GATEWAY_ROLE, OPS_ROLE)
            and context.graphql_document is not None
        ):
            fields = _root_fields(context.graphql_document, context.operation_name)
            if client.role == OPS_ROLE:
                refused = _ops_refusals(client, fields)
            else:
                refused = gateway_refusals(client, fields)
            if refused:
                context.result = ExecutionResult(
                    data=None,
                    errors=[GraphQLError(str(exc), path=[key], original_error=exc) for key, exc in refused],
                )
        yield


def _root_fields(document: DocumentNode, operation_name: str | None) -> list[tuple[str, str]]:
    """(response key, field name) of each root field the operation selects, through its fragments."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    fragments = {
        node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)
    }
    found: list[tuple[str, str]] = []
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                found.append((selection.alias.value if selection.alias else name, name))
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if (fragment := fragments.get(selection.name.value)) is not None:
                    walk(fragment.selection_set)

    walk(operation.selection_set)
    return found


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
        if not self.refused:
            log_access(
                ec.context,
                ec.query,
                ec.graphql_document,
                ec.operation_name,
                ec.variables,
                self.purpose,
                ec.result,
            )


def log_access(
    context: object,
    query: str | None,
    document: DocumentNode | None,
    operation_name: str | None,
    variables: dict[str, object] | None,
    purpose: str | None,
    result: AnyResult | None,
) -> None:
    """`AccessLog`'s work once the operation ended: its row, or the data withheld when it cannot be
    written."""
    if not hasattr(context, "personal"):
        return
    try:
        access_log.write(context, query, document, operation_name, variables, purpose)
    except Exception:  # whatever it was, the data must not leave unlogged
        client = getattr(context, "client", None)
        log.exception(
            "access log not written, response withheld (client %s)", client.name if client else None
        )
        access_log.withhold(result)


class Observe(SchemaExtension):
    """Note on the request's `Outcome` (the request log and the metrics, `hub.api.logs`) what the
    operation came to: its name, the hash of its shape, its result code (`OK` or the first error's
    code) and how many entities and records the answer holds. Runs outside `ErrorCodes`, so the
    errors it reads carry their codes; an operation run in process (the console's) has no Outcome."""

    def on_operation(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        observe(ec.context, ec.query, ec.graphql_document, ec.operation_name, ec.result)


def observe(
    context: object,
    query: str | None,
    document: DocumentNode | None,
    operation_name: str | None,
    result: AnyResult | None,
    entities: int | None = None,
) -> None:
    """`Observe`'s work once the operation ended and its errors have their codes. `entities`: the
    answer's objects with an `id`, when its maker counted them (else they are counted here)."""
    scope = getattr(getattr(context, "request", None), "scope", None)
    outcome = scope.get("state", {}).get("outcome") if isinstance(scope, dict) else None
    if not isinstance(outcome, Outcome):
        return
    outcome.executed = True
    outcome.operation = operation_name
    outcome.shape = shape_hash(query, document)
    outcome.code = "OK"
    if result is not None and result.errors:
        outcome.code = str((result.errors[0].extensions or {}).get("code") or "INTERNAL")
    if entities is None:
        entities = objects_with_id(result.data if result is not None else None)
    outcome.entities = entities


def objects_with_id(data: object, limit: int = 1_000_000) -> int:
    """The objects with an `id` in an answer (entities, source records, events): its size in rows."""
    count = 0
    stack = [data]
    while stack and count < limit:
        value = stack.pop()
        if isinstance(value, dict):
            count += "id" in value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


class ErrorCodes(SchemaExtension):
    """Put a code in every error's `extensions.code`; hide the text of errors nobody expected."""

    def on_operation(self) -> Iterator[None]:
        yield
        code_errors(self.execution_context.context, self.execution_context.result)


def code_errors(context: object, result: AnyResult | None) -> None:
    """`ErrorCodes`' work once the operation ended: every error coded, the refusals added."""
    if result is None:
        return
    refusals = getattr(context, "refusals", None)
    if result.errors:
        result.errors = [_coded(error) for error in result.errors]
    if refusals:  # coded already: lists answered empty (hub.api.types._readable)
        result.errors = [*(result.errors or []), *refusals]


def _coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, HubError):
        coded = _with_code(error, error.message, original.code)
        if isinstance(original, RetryLaterError) and coded.extensions is not None:
            coded.extensions["retryAfter"] = original.whole_seconds  # BUSY, RATE_LIMITED
        return coded
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
