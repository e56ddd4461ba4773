"""What the access log keeps of an operation: its text and variables with personal values as digests,
the personal identifiers it looked up, and a purpose from the configured list.

The log answers "who saw or searched for whose personal data, and why" without becoming a second
copy of that data: an ID number, phone or birth date an operation passes (as an argument, inside a
`record`, in its variables or written into its text) is kept only as a digest, so an auditor can
find every operation that used a known value by computing its digest the same way.

Digests are HMAC-SHA256 under the key in `HUB_ACCESS_LOG_KEY_FILE` when one is configured
(`hmac-sha256:<hex>`), else plain SHA-256 (`sha256:<hex>`). Identifiers are few enough to be guessed
by trying them all (a resident ID has about 10^11 plausible values, a mobile number fewer), so a plain
digest hides them only from someone who does not try: production sets the key, kept off the database
host, and the log then reveals nothing to whoever copies the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import unquote

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    ListValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    print_ast,
    strip_ignored_characters,
    visit,
)
from sqlalchemy import insert
from sqlalchemy.orm import Session

from hub.audit import read_key
from hub.config import get_settings
from hub.errors import AccessLogUnavailableError, HubError, InputError
from hub.privacy import PERSONAL_FIELDS, field_meaning
from hub.store.models import AccessLog

__all__ = [
    "LOOKUP_ARGUMENTS",
    "OPERATION_SIZE",
    "PERSONAL_RECORD_FIELDS",
    "OperationRecord",
    "check_purpose",
    "digest",
    "header_text",
    "load_digest_key",
    "log_export",
    "personal_name",
    "purpose_of",
    "record_operation",
    "refusal",
    "withhold",
    "write",
]

# Arguments whose value is a personal identifier: looking up or searching by one reads personal data.
LOOKUP_ARGUMENTS = frozenset({"idNumber", "phone", "birthDate"})
# Arguments that carry personal values without being lookups (`overrideValue(value: ...)`).
_OTHER_PERSONAL_ARGUMENTS = frozenset({"value"})
# Fields of a `record` (contract field names) that are personal identifiers.
PERSONAL_RECORD_FIELDS = frozenset(name for fields in PERSONAL_FIELDS.values() for name in fields)
_PERSONAL_NAMES = LOOKUP_ARGUMENTS | _OTHER_PERSONAL_ARGUMENTS | PERSONAL_RECORD_FIELDS
OPERATION_SIZE = 256
_ELIDED = "…"


def digest(value: Any, key: bytes | None) -> str:
    """The digest a personal value is kept as: keyed when the access log has a key."""
    text = value if isinstance(value, str) else str(value)
    if key is None:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return "hmac-sha256:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
@lru_cache(maxsize=4)
def load_digest_key(path: str | None) -> bytes | None:
    """The bytes of the access log's key file (read once per process: not again for every personal
    read), or None when none is set. A file that cannot be used raises each time, not cached."""
    if not path:
        return None
    return read_key(path, "HUB_ACCESS_LOG_KEY_FILE", "access-log.key")


def header_text(raw: str) -> str:
    """A header's text as the client meant it. HTTP hands header bytes over as Latin-1, so UTF-8 sent
    as is ("执法") arrives as mojibake and is read again as UTF-8; a percent-encoded value
    ("%E6%89%A7%E6%B3%95", what browsers and most HTTP libraries send) is decoded."""
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        text = raw
    if "%" in text:
        text = unquote(text, errors="strict") if _PERCENT.fullmatch(text) else text
    return text


_PERCENT = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*")


def check_purpose(raw: str | None, allowed: Sequence[str]) -> str | None:
    """The purpose code a client gave (`X-Purpose`, UTF-8 or percent-encoded), one of `allowed`; None
    when it gave none."""
    if raw is None or not raw.strip():
        return None
    try:
        written = header_text(raw.strip()).strip()
    except UnicodeDecodeError:
        written = raw.strip()
    code = written.lower()
    if code not in allowed:
        shown = written[:40]
        raise InputError(
            f"X-Purpose: {shown!r} is not a purpose code; send one of {', '.join(allowed)}"
            " (the operators configure them in HUB_PURPOSES)"
        )
    return code


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """An operation as the access log keeps it."""

    operation: str
    operation_hash: str
    operation_name: str | None
    variables: dict[str, Any]
    lookups: list[dict[str, str]]


def record_operation(
    query: str,
    document: DocumentNode | None,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    lookups: Iterable[tuple[str, str]],
    key: bytes | None,
) -> OperationRecord:
    """The access log's view of an operation: text stripped of comments, whitespace and string
    literals (cut to its column), the SHA-256 of the full text, the variables with personal values
    as digests, and the personal identifiers the resolvers looked up (`lookups`), as digests."""
    variables = dict(variables or {})
    if document is None:
        full_hash = hashlib.sha256(query.encode()).hexdigest()
        return OperationRecord("", full_hash, operation_name, {}, _digested_lookups(lookups, key))
    text, full_hash, name, declared, personal, records = _shape(query, operation_name, document)
    kept = {}
    for variable in declared:
        if variable not in variables:
            continue
        value = variables[variable]
        whole = variable in records and not isinstance(value, dict)  # a record that is no object
        if variable in personal or variable in _PERSONAL_NAMES or whole:
            kept[variable] = _digest_all(value, key)
        else:
            kept[variable] = _scrub(value, key)
    return OperationRecord(text, full_hash, name, kept, _digested_lookups(lookups, key))


class _Shape(NamedTuple):
    """What the access log keeps of a query text, the same for every request that sends it."""

    text: str
    full_hash: str
    name: str | None
    declared: tuple[str, ...]
    personal: frozenset[str]
    records: frozenset[str]


_SHAPES: OrderedDict[tuple[str, str | None], _Shape] = OrderedDict()
_SHAPES_MAX = 512  # query texts up to _SHAPE_QUERY_MAX each: a few MB at most
_SHAPE_QUERY_MAX = 8 * 1024


def _shape(query: str, operation_name: str | None, document: DocumentNode) -> _Shape:
    """The stripped text, hash, name and variable uses of a query, worked out once per text: clients
    send the same few queries again and again, and stripping and walking the text took a millisecond."""
    cache_key = (query, operation_name)
    if (shape := _SHAPES.get(cache_key)) is not None:
        _SHAPES.move_to_end(cache_key)
        return shape
    operation = _operation(document, operation_name)
    personal, records = _personal_uses(document, operation)
    shape = _Shape(
        strip_ignored_characters(print_ast(visit(document, Literals())))[:OPERATION_SIZE],
        hashlib.sha256(query.encode()).hexdigest(),
        operation_name or (operation.name.value if operation and operation.name else None),
        tuple(_declared(operation)),
        frozenset(personal),
        frozenset(records),
    )
    if len(query) <= _SHAPE_QUERY_MAX:
        _SHAPES[cache_key] = shape
        if len(_SHAPES) > _SHAPES_MAX:
            _SHAPES.popitem(last=False)
    return shape


def _looked_up(value: Any) -> bool:
    """Whether a lookup's value is one the access log keeps (an empty one looked up nothing)."""
    return value is not None and value != ""


def _digested_lookups(lookups: Iterable[tuple[str, Any]], key: bytes | None) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for argument, value in lookups:
        if not _looked_up(value):
            continue
        seen.setdefault((argument, digest(value, key)), None)
    return [{"argument": argument, "value": value} for argument, value in seen]


def _digest_all(value: Any, key: bytes | None) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_digest_all(v, key) for v in value]
    if isinstance(value, dict):
        return {k: _digest_all(v, key) for k, v in value.items()}
    return digest(value, key)


def personal_name(name: str) -> bool:
    """Whether a variable or field of that name holds a personal value: the API's and the contract's
    names, and any spelling `hub.privacy` knows (`legalRepresentativeIdNumber`, `contact_phone`)."""
    return name in _PERSONAL_NAMES or field_meaning(name) is not None


def _scrub(value: Any, key: bytes | None) -> Any:
    """`value` with the values of personal fields of any object in it as digests."""
    if isinstance(value, dict):
        return {k: _digest_all(v, key) if personal_name(k) else _scrub(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, key) for v in value]
    return value


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name is not None and operation.name.value == name):
            return operation
    return None


def _declared(operation: OperationDefinitionNode | None) -> list[str]:
    if operation is None:
        return []
    return [d.variable.name.value for d in operation.variable_definitions or ()]


def _personal_uses(
    document: DocumentNode, operation: OperationDefinitionNode | None
) -> tuple[set[str], set[str]]:
    """(variables passed where a personal value goes, variables passed as a `record`), in the operation
    and in every fragment of the document (a fragment may pass the operation's variables); a record's
    fields by any spelling of a personal field (`idNumber`, `id_number`). Any object variable is also
    scrubbed by its field names."""
    personal: set[str] = set()
    records: set[str] = set()
    if operation is None:
        return personal, records

    def mark(node: ValueNode) -> None:
        if isinstance(node, VariableNode):
            personal.add(node.name.value)
        elif isinstance(node, ListValueNode):
            for item in node.values:
                mark(item)

    class _Arguments(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            name = node.name.value
            if name in LOOKUP_ARGUMENTS or name in _OTHER_PERSONAL_ARGUMENTS:
                mark(node.value)
            elif name == "record" and isinstance(node.value, VariableNode):
                records.add(node.value.name.value)

        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
            if personal_name(node.name.value):
                mark(node.value)

    visit(operation, _Arguments())
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            visit(definition, _Arguments())
    return personal, records


class Literals(Visitor):
    """Replaces every string and number literal by an ellipsis: an identifier written into the text is
    personal (an ID number or phone may be written without quotes, as a number), and so may be free
    text (a name, a note). Looked-up identifiers are kept as digests in `lookups`. The request log's
    operation hash and a trace's query text elide the same way."""

    def enter_string_value(self, *_: Any) -> StringValueNode:
        return StringValueNode(value=_ELIDED, block=False)

    enter_int_value = enter_string_value
    enter_float_value = enter_string_value


def purpose_of(request: Any) -> str | None:
    """The purpose code of a request's `X-Purpose` header (None without one); BAD_INPUT if unknown."""
    raw = request.headers.get("x-purpose") if request is not None else None
    if raw is None:
        return None
    return check_purpose(raw, get_settings().purposes)


def refusal(error: HubError) -> ExecutionResult:
    """The answer to an operation refused before it ran: no data, the coded error."""
    return ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error)])


def write(
    context: Any,
    query: str | None,
    document: DocumentNode | None,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    purpose: str | None,
) -> bool:
    """Write the access-log row of an operation that showed personal data (`context.personal`) or
    looked up a personal identifier, in its own transaction; False when there was nothing to log.
    Raises whatever keeps the row from being written (the caller must then withhold the data)."""
    personal: dict[str, set[str]] = context.personal
    if not personal and not any(_looked_up(value) for _, value in context.lookups):
        return False  # nothing personal shown or looked up
    try:
        key, failure = load_digest_key(get_settings().access_log_key_file), None
    except InputError as exc:  # known only to be needed once there is something to log
        key, failure = None, exc
    record = record_operation(query or "", document, operation_name, variables, context.lookups, key)
    if not personal and not record.lookups:
        return False
    if failure is not None:
        raise failure
    # One row, below the ORM: a personal read pays for an insert, not for a session's unit of work (a
    # third of a person lookup's time before). A single statement is its own transaction, so the
    # server's pool for reads (in autocommit, `hub.api.app`) writes it when there is one: the pool for
    # writes, kept small, is not churned by every personal read.
    engine = getattr(context, "reader", None) or context.engine
    with engine.begin() as connection:
        connection.execute(
            insert(AccessLog),
            {
                "client_id": context.client.id if context.client else None,
                "operation": record.operation,
                "operation_hash": record.operation_hash,
                "operation_name": record.operation_name[:OPERATION_SIZE] if record.operation_name else None,
                "variables": record.variables,
                "lookups": record.lookups,
                "entity_ids": sorted(personal),
                "fields": sorted({f for fields in personal.values() for f in fields}),
                "purpose": purpose,
            },
        )
    return True


def log_export(session: Session, command: str, fields: Sequence[str], purpose: str) -> None:
    """Log a bulk read of personal data outside the API (an unmasked export), before the data leaves:
    the command as run (`command`, with who ran it), the personal fields it shows, the purpose."""
    session.add(
        AccessLog(
            client_id=None,
            operation=command[:OPERATION_SIZE],
            operation_hash=hashlib.sha256(command.encode()).hexdigest(),
            operation_name="export",
            entity_ids=[],
            fields=sorted(fields),
            purpose=purpose,
        )
    )


def withhold(result: Any) -> None:
    """Take the data out of a result whose access-log row could not be written, with a coded error
    that shows no SQL (the details go to the server's log). `result`: graphql-core's or strawberry's
    result of the operation, changed in place (strawberry answers with that object)."""
    if result is None:
        return
    error = AccessLogUnavailableError(
        "the access log could not be written, so the personal data this operation read is withheld;"
        " retry later, and tell the hub's operators if it persists"
    )
    result.data = None
    result.errors = [GraphQLError(str(error), original_error=error)]
