"""Answering a lookup of a known shape in one pass, without resolving it field by field.

Departmental systems send the same few queries again and again: an entity by id, and from it the
hops of the graph (address → residents → their legal entities → where those operate). GraphQL's
executor resolves such an answer field by field: a resolver call, its arguments and its type's
completion for each of the fifty to a hundred fields of a 3-hop answer, which costs several times
what reading the answer does. For a query made only of lookups by id, entity fields, golden values and
the hops between entities, the hub knows the whole answer from the query alone. This executor plans
such a query once (`plan_of`, cached with the parsed document), reads its answer set at a time
(`hub.api.readahead.read_wanted`: one statement per hop and level, one for every entity's members) and
builds the response directly, with the values masked and noted for the access log as the fields would
(`hub.api.types.golden_shown`).

Anything else goes to the field-by-field executor, as does any query the plan cannot answer as it
stands: a fragment or a directive, a field with its own rules (connections, evidence, lineage, history,
times), arguments beyond `id` and `first`, a client that may not read every kind the query reaches, or
anything unexpected while answering (its errors are then the executor's, with their codes and paths).
The answer is the same either way; the tests hold the two to it (tests/api/test_read_ahead.py).

A planned query whose text was seen before skips even the executor and the schema extensions' hooks
around the answer (`answer_operation`), doing itself what those hooks do after it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLID,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLString,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_operation_ast,
)
from graphql.execution.values import get_variable_values
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperationType

from hub import access_log
from hub.api.context import HubContext
from hub.api.extensions import code_errors, known_document, limits_of, log_access, observe
from hub.api.limits import check_variables
from hub.api.loaders import EntityRow, held
from hub.api.pagination import page_size
from hub.api.permissions import GATEWAY_ROLE
from hub.api.readahead import COMPANY_PLACES, HOPS, PERSON_PLACES, ROLES, Hop, Wanted, links_of, read_wanted
from hub.api.types import (
    LegalEntityAddressRelation,
    PersonAddressRelation,
    PersonLegalEntityRole,
    entity_in,
    golden_shown,
)
from hub.clients import OPS_ROLE, ClientInfo
from hub.domain import Kind, LinkRelation
from hub.errors import InputError

__all__ = ["PlannedExecution", "answer_operation", "plan_of"]

log = logging.getLogger(__name__)

_ROOTS = {"person": Kind.PERSON, "address": Kind.ADDRESS, "legalEntity": Kind.LEGAL_ENTITY}
_TYPE_NAMES = {Kind.PERSON: "Person", Kind.ADDRESS: "Address", Kind.LEGAL_ENTITY: "LegalEntity"}
# The golden values of each entity type: field → attribute.
_VALUES: dict[Kind, dict[str, str]] = {
    Kind.PERSON: {
        "name": "name",
        "idNumber": "id_number",
        "birthDate": "birth_date",
        "gender": "gender",
        "phone": "phone",
    },
    Kind.ADDRESS: {"text": "text", "doorplateCode": "doorplate_code"},
    Kind.LEGAL_ENTITY: {
        "name": "name",
        "uscc": "uscc",
        "legalForm": "legal_form",
        "branch": "branch",
        "establishedOn": "established_on",
        "phone": "phone",
    },
}
_NOT_NULL = {(Kind.ADDRESS, "text"): ""}  # `Address.text: String!`: "" when no source has one


@dataclass(frozen=True, slots=True)
class _LinkType:
    """The type of a hop's items: its name, its enum field, and the fields of its two ends."""

    name: str
    enum_field: str
    enum: type[Enum]
    subject: tuple[str, Kind]
    object: tuple[str, Kind]


_LINK_TYPES: dict[frozenset[LinkRelation], _LinkType] = {
    PERSON_PLACES: _LinkType(
        "PersonAddress", "relation", PersonAddressRelation, ("person", Kind.PERSON), ("address", Kind.ADDRESS)
    ),
    ROLES: _LinkType(
        "PersonLegalEntity",
        "role",
        PersonLegalEntityRole,
        ("person", Kind.PERSON),
        ("legalEntity", Kind.LEGAL_ENTITY),
    ),
    COMPANY_PLACES: _LinkType(
        "LegalEntityAddress",
        "relation",
        LegalEntityAddressRelation,
        ("legalEntity", Kind.LEGAL_ENTITY),
        ("address", Kind.ADDRESS),
    ),
}

# Each hop's GraphQL enum value by its link's stored relation (calling the enum costs more).
_ENUM_NAMES: dict[type[Enum], dict[str, str]] = {
    t.enum: {member.value: member.name for member in t.enum} for t in _LINK_TYPES.values()
}


@dataclass(frozen=True, slots=True)
class _Field:
    """One field of the response, in the query's order, under its response key.

    what: "typename" (`text` is the type's name), "id", "redirected" (`redirectedFrom`), "value" (the
    golden value of attribute `text`), "lookup" (a root field: the entity of kind `kind` whose id is
    `argument`), "hop" (the items of `hop`, `argument` its `first`), "enum" (a hop item's relation or
    role), "end" (a hop item's entity of kind `kind`: its link's subject when `text` is "subject").
    `inner`: the fields of the entity or hop item below it."""

    key: str
    what: str
    text: str = ""
    kind: Kind | None = None
    argument: ValueNode | None = None
    hop: Hop | None = None
    inner: tuple[_Field, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """A query's answer as the hub builds it: its root fields, and every kind it reaches (the client
    must be allowed all of them). `variables`: each variable's name, type name and whether it is
    non-null, when all are of the plain types `plain_variables` coerces; else None."""

    roots: tuple[_Field, ...]
    kinds: frozenset[Kind]
    variables: tuple[tuple[str, str, bool], ...] | None = None

    def allows(self, client: ClientInfo | None) -> bool:
        return client is None or self.kinds <= client.kinds


class _Unplanned(Exception):
    """The query is not one this module answers."""


_PLANS: OrderedDict[int, tuple[OperationDefinitionNode, Plan | None]] = OrderedDict()
_MAX_PLANS = 512


def plan_of(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Plan | None:
    """The plan of `operation`, or None when it is not one of the shapes planned here; kept per
    parsed operation (the parsed documents are kept and reused: `hub.api.extensions.DocumentCache`)."""
    kept = _PLANS.get(id(operation))
    if kept is not None and kept[0] is operation:
        _PLANS.move_to_end(id(operation))
        return kept[1]
    try:
        plan = None if fragments else _plan(operation)
    except _Unplanned:
        plan = None
    _PLANS[id(operation)] = (operation, plan)
    if len(_PLANS) > _MAX_PLANS:
        _PLANS.popitem(last=False)
    return plan


def _plan(operation: OperationDefinitionNode) -> Plan:
    if operation.operation != OperationType.QUERY or operation.directives:
        raise _Unplanned
    kinds: set[Kind] = set()
    roots = []
    for node in _fields(operation.selection_set):
        name = node.name.value
        key = node.alias.value if node.alias else name
        if name == "__typename":
            roots.append(_Field(key, "typename", "Query"))
            continue
        kind = _ROOTS.get(name)
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if kind is None or set(arguments) != {"id"}:  # `asOf` and the rest: the executor's
            raise _Unplanned
        kinds.add(kind)
        roots.append(
            _Field(key, "lookup", kind=kind, argument=arguments["id"], inner=_entity(kind, node, kinds))
        )
    _unique(roots)
    return Plan(tuple(roots), frozenset(kinds), _plain_definitions(operation))


def _plain_definitions(operation: OperationDefinitionNode) -> tuple[tuple[str, str, bool], ...] | None:
    """The operation's variables as (name, type name, non-null), when each is an `ID`, `String` or
    `Int` without a default value; else None."""
    out = []
    for definition in operation.variable_definitions or ():
        type_node, non_null = definition.type, False
        if isinstance(type_node, NonNullTypeNode):
            type_node, non_null = type_node.type, True
        if definition.default_value is not None or not isinstance(type_node, NamedTypeNode):
            return None
        if type_node.name.value not in _PLAIN_TYPES:
            return None
        out.append((definition.variable.name.value, type_node.name.value, non_null))
    return tuple(out)


def _entity(kind: Kind, node: FieldNode, kinds: set[Kind]) -> tuple[_Field, ...]:
    out = []
    for field in _fields(node.selection_set):
        name = field.name.value
        key = field.alias.value if field.alias else name
        hop = HOPS.get((kind, name))
        allowed = {"first"} if hop is not None and hop.paged else set()
        if {a.name.value for a in field.arguments or ()} - allowed:
            raise _Unplanned
        if name == "__typename":
            out.append(_Field(key, "typename", _TYPE_NAMES[kind]))
        elif name == "id":
            out.append(_Field(key, "id"))
        elif name == "redirectedFrom":
            out.append(_Field(key, "redirected"))
        elif name in _VALUES[kind]:
            out.append(_Field(key, "value", _VALUES[kind][name], kind=kind))
        elif hop is not None:
            kinds.update((kind, hop.kind))
            first = next((a.value for a in field.arguments or () if a.name.value == "first"), None)
            out.append(_Field(key, "hop", kind=kind, argument=first, hop=hop, inner=_link(hop, field, kinds)))
        else:
            raise _Unplanned
    _unique(out)
    return tuple(out)


def _link(hop: Hop, node: FieldNode, kinds: set[Kind]) -> tuple[_Field, ...]:
    link_type = _LINK_TYPES[hop.relations]
    out = []
    for field in _fields(node.selection_set):
        name = field.name.value
        key = field.alias.value if field.alias else name
        if field.arguments:
            raise _Unplanned
        if name == "__typename":
            out.append(_Field(key, "typename", link_type.name))
        elif name == link_type.enum_field:
            out.append(_Field(key, "enum", link_type.enum_field))
        elif name in (link_type.subject[0], link_type.object[0]):
            end, kind = (
                ("subject", link_type.subject[1])
                if name == link_type.subject[0]
                else ("object", link_type.object[1])
            )
            inner = _entity(kind, field, kinds)
            if (end == "subject") != hop.paged and any(f.what == "hop" for f in inner):
                raise _Unplanned  # back to the entity it came from, and on again: the executor's
            out.append(_Field(key, "end", end, kind=kind, inner=inner))
        else:
            raise _Unplanned
    _unique(out)
    return tuple(out)


def _fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
    if selection_set is None:
        raise _Unplanned
    fields = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise _Unplanned
        fields.append(selection)
    return fields


def _unique(fields: list[_Field]) -> None:
    """A response key asked for twice is merged by the executor's rules: not planned."""
    if len({f.key for f in fields}) != len(fields):
        raise _Unplanned


# ---- answering ------------------------------------------------------------------------------------


def _argument(node: ValueNode | None, variables: Mapping[str, Any]) -> Any:
    if node is None:
        return None
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value)
    raise _Unplanned


async def answer(
    plan: Plan, context: HubContext, variables: Mapping[str, Any], tally: list[int] | None = None
) -> dict[str, Any]:
    """The data of the response to the query `plan` was made from. `tally[0]` counts the objects with
    an `id` as they are made: the answer's size in rows, which the request log gives (`observe`)."""
    tally = [0] if tally is None else tally
    data: dict[str, Any] = {}
    for root in plan.roots:
        if root.what == "typename":
            data[root.key] = root.text
            continue
        assert root.kind is not None
        entity_id = _argument(root.argument, variables)
        if not isinstance(entity_id, str):
            raise _Unplanned
        # Read now, so that the lookup finds it in hand: the answer runs to its end without giving the
        # event loop to another request, whose work would interleave with it (as in the executor).
        # When values are asked for, the answer is read on the guess that the id is a current entity's,
        # and its row comes in the members' statement; one that is not (merged into another, unknown,
        # of another kind) reads nothing that is shown, and the answer is read from where it leads.
        wanted = _wanted(root.inner, variables)
        guessed = wanted.members
        if guessed:
            read_wanted(context.loaders, root.kind, [entity_id], wanted, rows=[entity_id])
        else:
            context.loaders.ahead_entities([entity_id])
        row = held(context.loaders.entities, entity_id)
        current = isinstance(row, EntityRow) and row.merged_into_id is None and row.kind == root.kind
        if current and context.as_of is None:
            found_id, redirected = entity_id, None  # what `entity_in` gives, the plan allowing its kind
        else:  # merged into another, unknown, of another kind: as the lookup answers
            found = await entity_in(context, entity_id, root.kind)
            if found is None:
                data[root.key] = None
                continue
            found_id = str(found.id)
            redirected = None if found.redirected_from is None else str(found.redirected_from)
        if not guessed or found_id != entity_id:
            read_wanted(context.loaders, root.kind, [found_id], wanted)
        data[root.key] = _entity_data(context, root.kind, root.inner, found_id, redirected, variables, tally)
    tally[0] += "id" in data
    return data


def _wanted(fields: tuple[_Field, ...], variables: Mapping[str, Any]) -> Wanted:
    """What the fields ask of an entity, and through their hops of the entities at the other ends."""
    wanted = Wanted(members=any(f.what == "value" for f in fields))
    for hop_field in fields:
        if hop_field.what != "hop":
            continue
        hop = hop_field.hop
        assert hop is not None
        other = Wanted()
        for end in hop_field.inner:
            if end.what != "end":
                continue
            if (end.text == "subject") == hop.paged:  # the other end
                inner = _wanted(end.inner, variables)
                other.members |= inner.members
                other.hops += inner.hops
            else:  # the entity it came from (no hops: `_link`)
                wanted.members |= any(f.what == "value" for f in end.inner)
        wanted.hops.append((hop, _size(hop, hop_field, variables), other))
    return wanted


def _size(hop: Hop, field: _Field, variables: Mapping[str, Any]) -> int:
    """A paged hop's page size (`first`; the field refuses one out of range, with its code)."""
    return page_size(_argument(field.argument, variables)) if hop.paged else 0


def _entity_data(
    context: HubContext,
    kind: Kind,
    fields: tuple[_Field, ...],
    entity_id: str,
    redirected: str | None,
    variables: Mapping[str, Any],
    tally: list[int],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        what = field.what
        if what == "value":
            out[field.key] = _value(context, kind, entity_id, field.text)
        elif what == "id":
            out[field.key] = entity_id
        elif what == "typename":
            out[field.key] = field.text
        elif what == "redirected":
            out[field.key] = redirected
        else:  # a hop
            hop = field.hop
            assert hop is not None
            links = links_of(context.loaders, hop, _size(hop, field, variables), [entity_id])
            link_type = _LINK_TYPES[hop.relations]
            items = out[field.key] = [
                {
                    item.key: (
                        item.text
                        if item.what == "typename"
                        else _ENUM_NAMES[link_type.enum][link.relation.value]
                        if item.what == "enum"
                        else _entity_data(
                            context,
                            item.kind,  # type: ignore[arg-type]
                            item.inner,
                            link.subject_id if item.text == "subject" else link.object_id,
                            None,
                            variables,
                            tally,
                        )
                    )
                    for item in field.inner
                }
                for link in links
            ]
            if items and "id" in items[0]:  # an item's field under the key `id`: each counts
                tally[0] += len(items)
    tally[0] += "id" in out
    return out


def _value(context: HubContext, kind: Kind, entity_id: str, attribute: str) -> str | None:
    """As the field gives it (a LookupError if the members were not read ahead: the executor answers)."""
    value = golden_shown(context, entity_id, kind, attribute)
    return _NOT_NULL.get((kind, attribute)) if value is None else value


async def answer_operation(
    schema: GraphQLSchema,
    query: str | None,
    variables: dict[str, Any] | None,
    context: object,
    operation_name: str | None,
    allowed: Iterable[StrawberryOperationType],
) -> ExecutionResult | None:
    """The whole operation, for a query whose text was parsed and validated before (`DocumentCache`)
    and whose shape is planned: its answer, and the work the schema's extensions do after it (the
    unit of work's end, the access log, the refusals, the request's outcome), without their hooks and
    graphql-core's executor around it. None when anything is not as the plan's answer needs it
    (another operation, a gateway's or an ops client's token, a variable or a purpose to refuse, or an
    answer given up): the schema's usual way then runs the operation from the start, and answers."""
    if not isinstance(context, HubContext) or query is None or StrawberryOperationType.QUERY not in allowed:
        return None
    client = context.client
    if client is not None and client.role in (GATEWAY_ROLE, OPS_ROLE):
        return None  # `GatewayScope` refuses what those tokens may not ask
    limits = limits_of(context)
    checked = known_document(query, limits)
    if checked is None or checked.errors:
        return None
    document = checked.document
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    plan = _usable_plan(context, operation, fragments)
    if plan is None:
        return None
    coerced = plain_variables(schema, plan, variables or {})
    if coerced is None:
        values = get_variable_values(schema, operation.variable_definitions or (), variables or {})
        if isinstance(values, list):
            return None  # the executor says which value is wrong, with its code
        coerced = values.coerced
    try:
        check_variables(variables, checked.caps, limits.max_string)
        purpose = access_log.purpose_of(context.request)
    except InputError:
        return None
    context.read_only = True
    tally = [0]
    try:
        data = await answer(plan, context, coerced, tally)
    except Exception as exc:
        _give_up(context, exc)
        return None
    result = ExecutionResult(data=data, errors=None)
    name = operation_name or (operation.name.value if operation.name else None)
    context.finish(commit=True)
    log_access(context, query, document, name, variables, purpose, result)
    code_errors(context, result)
    observe(context, query, document, name, result, entities=tally[0])
    return result


def _usable_plan(
    context: HubContext, operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Plan | None:
    """The plan to answer `operation` with in the operation of `context`: None when its shape is not
    planned, its client may not read every kind it reaches, or the context answers field by field."""
    if not context.read_ahead or context.given_up:
        return None
    plan = plan_of(operation, fragments)
    return plan if plan is not None and plan.allows(context.client) else None


# The built-in scalars whose values `plain_variables` takes as graphql-core would coerce them.
_PLAIN_TYPES: dict[str, GraphQLNamedType] = {"ID": GraphQLID, "String": GraphQLString, "Int": GraphQLInt}


def plain_variables(schema: GraphQLSchema, plan: Plan, variables: Mapping[str, Any]) -> dict[str, Any] | None:
    """The variables coerced, as graphql-core's `get_variable_values` gives them, when each is of the
    plain kind it takes at a glance: an `ID` given as a text or an integer, a `String` as a text, an
    `Int` as an integer in range, a nullable one as null or left out. None for anything else (a
    value to convert or refuse): graphql-core coerces those, and says what is wrong."""
    definitions = plan.variables
    if definitions is None:
        return None
    coerced: dict[str, Any] = {}
    for name, type_name, non_null in definitions:
        if schema.type_map.get(type_name) is not _PLAIN_TYPES[type_name]:
            return None  # a schema of its own scalar by that name
        value = variables.get(name, _ABSENT)
        kind = type(value)
        if kind is str and type_name != "Int":
            coerced[name] = value
        elif kind is int and type_name == "ID":
            coerced[name] = str(value)
        elif kind is int and type_name == "Int" and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
            coerced[name] = value
        elif non_null:
            return None
        elif value is None:
            coerced[name] = None
        elif value is not _ABSENT:
            return None
    return coerced


_ABSENT = object()


def _give_up(context: HubContext, exc: Exception) -> None:
    """A planned answer met what it cannot answer: the executor answers the operation, field by field."""
    log.debug("planned answer given up (%s): the executor answers", type(exc).__name__)
    context.given_up = True


class PlannedExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, answering the queries `plan_of` plans itself (`answer`)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        context = self.context_value
        manager = self.middleware_manager
        traced = manager is not None and bool(manager.middlewares)  # spans per field: not planned
        plan = None
        if isinstance(context, HubContext) and not traced:
            plan = _usable_plan(context, self.operation, self.fragment_definitions)
        if plan is None:
            return super().execute_operation(serially)
        return self._planned(plan, context, serially)

    async def _planned(self, plan: Plan, context: HubContext, serially: bool | None) -> Any:
        try:
            data = await answer(plan, context, self.variable_values.coerced)
        except Exception as exc:
            _give_up(context, exc)
            result = super().execute_operation(serially)
            return await result if isinstance(result, Awaitable) else result
        return self.finish(self.build_response(data))
