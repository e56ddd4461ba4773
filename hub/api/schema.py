"""The strawberry federation schema: the root fields departmental systems, stewards and auditors call.

Each root field is declared here once, with its description, and resolved by a function of its own
module (`lookups` finds entities, `review`, `steward` and `audit` serve the stewards and auditors), so
that its arguments are written once, in that function's signature; the types of what they return live
in `types` and `records`. This module adds the limits and extensions every operation runs under.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError, StringValueNode
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from hub.api import lists, lookups
from hub.api.audit import access_log_page, audit_event_page
from hub.api.changes import changes
from hub.api.context import Info
from hub.api.extensions import (
    AccessLog,
    DocumentCache,
    ErrorCodes,
    GatewayScope,
    LimitedSchema,
    Observe,
    UnitOfWork,
)
from hub.api.permissions import ReadsAccessLog, ReadsAuditTrail, ReadsReviewQueue
from hub.api.planned import PlannedExecution, answer_operation
from hub.api.review import claim as claim_review
from hub.api.review import decide as decide_review
from hub.api.review import release as release_review
from hub.api.review import review_item, review_page
from hub.api.steward import merge as merge_edit
from hub.api.steward import move as move_edit
from hub.api.steward import override as override_edit
from hub.api.steward import split as split_edit
from hub.api.steward import undo_edit
from hub.api.submit import submit
from hub.api.types import (
    Address,
    LegalEntity,
    Person,
)
from hub.errors import InputError

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_TOKENS", "build_schema", "schema", "schema_sdl"]

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000
# The depth and alias limits as validation rules, built once: the validation cache is keyed by the
# rule classes, and a limiter built per request would bring new ones every time.
_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


@strawberry.enum(description="What a client may do (`hub clients add --role`).")
class ClientRole(Enum):
    READER = "reader"
    WRITER = "writer"
    STEWARD = "steward"
    AUDITOR = "auditor"
    ADMIN = "admin"
    GATEWAY = "gateway"
    OPS = "ops"


@strawberry.type(description="The client making the request.")
class Viewer:
    name: str
    role: ClientRole
    scopes: list[str]


@strawberry.type(name="Query")
class QueryRoot:
    person = strawberry.field(
        resolver=lookups.person,
        description="A person by id; a retired id gives the person it was merged into. `asOf`: as it was"
        " then (members, values, links); one instant per operation.",
    )
    address = strawberry.field(
        resolver=lookups.address,
        description="An address by id; a retired id gives the address it was merged into. `asOf`: as it"
        " was then.",
    )
    legal_entity = strawberry.field(
        resolver=lookups.legal_entity,
        description="A legal entity by id; a retired id gives the one it was merged into. `asOf`: as it"
        " was then.",
    )
    node = strawberry.field(
        resolver=lookups.node,
        description="Any entity by id, whatever its kind.",
    )
    source_record = strawberry.field(
        resolver=lookups.source_record,
        description="A source record by its source system, kind and key (the crosswalk).",
    )
    person_by_id_number = strawberry.field(
        resolver=lookups.person_by_id_number,
        description="The person holding this resident ID number (15 or 18 digits). Needs `pii:lookup` or"
        " `pii:read`; rate limited and written to the access log.",
    )
    legal_entity_by_uscc = strawberry.field(
        resolver=lookups.legal_entity_by_uscc,
        description="The legal entity with this unified social credit code.",
    )
    address_by_doorplate_code = strawberry.field(
        resolver=lookups.address_by_doorplate_code,
        description="The address with this QR doorplate code.",
    )
    search_persons = strawberry.field(
        resolver=lookups.search_persons,
        description="People by name (homophones and traditional characters found too), ID number, birth date"
        " or phone; best first. Searching by ID number, birth date or phone needs `pii:lookup` or"
        " `pii:read`, is rate limited and written to the access log.",
    )
    search_addresses = strawberry.field(
        resolver=lookups.search_addresses,
        description="Addresses by text, parsed first: 琴湖花园3-2-301 finds 琴湖花园3幢2单元301室;"
        " best first.",
    )
    search_legal_entities = strawberry.field(
        resolver=lookups.search_legal_entities,
        description="Legal entities by name (region, legal form and brackets aside) or credit code.",
    )
    match = strawberry.field(
        resolver=lookups.match,
        description="Which stored entities an unsaved record (a person, an address or a legal entity)"
        " would match, with the per-comparison explanation; writes nothing. A record with an ID number,"
        " phone or birth date needs `pii:lookup` or `pii:read`; without `pii:read` those comparisons say"
        " only same or not.",
    )
    audit_events = strawberry.federation.field(
        inaccessible=True,
        resolver=audit_event_page,
        description="The audit trail of changes, oldest first (auditor and admin only): by actor, action,"
        " an entity (or client, source, run) it changed, and time (`since` inclusive, `until` exclusive).",
        permission_classes=[ReadsAuditTrail],
    )
    access_log = strawberry.federation.field(
        inaccessible=True,
        resolver=access_log_page,
        description="Who saw which entities' personal data, oldest first (auditor and admin only): by"
        " client name, entity and time (`since` inclusive, `until` exclusive).",
        permission_classes=[ReadsAccessLog],
    )
    review_items = strawberry.federation.field(
        inaccessible=True,
        resolver=review_page,
        description="The review queue (steward, auditor, admin): open and claimed items first, the most"
        " uncertain first; by kind, state, assignee, score band, source, town or grid. Pages by keyset"
        " cursors (`after`/`first`, `before`/`last`), so deciding items never makes a later page skip"
        " any; `bands` counts the items of each score band.",
        permission_classes=[ReadsReviewQueue],
    )
    review_item = strawberry.federation.field(
        inaccessible=True,
        resolver=review_item,
        description="One review item by id (steward, auditor, admin), whatever its state.",
        permission_classes=[ReadsReviewQueue],
    )

    persons = strawberry.field(
        resolver=lists.persons,
        description="Every active person, a page at a time in id order (keyset cursors: entities made or"
        " retired meanwhile never make a page skip one). To take the golden records once, then follow"
        " `changes`.",
    )
    addresses = strawberry.field(
        resolver=lists.addresses, description="Every active address, a page at a time in id order."
    )
    legal_entities = strawberry.field(
        resolver=lists.legal_entities,
        description="Every active legal entity, a page at a time in id order.",
    )
    changes = strawberry.field(
        resolver=changes,
        description="The change feed: entities created, changed, merged or split and links opened or"
        " closed, oldest first, after the cursor `after` (from the first without it), for `kinds` (all"
        " the client reads without it), at most `first` (1 to 10,000). Poll with the `endCursor` each"
        " page gives, also when it brought nothing.",
    )

    @strawberry.field(description="The client making this request.")
    def viewer(self, info: Info) -> Viewer | None:
        client = info.context.client
        if client is None:
            return None
        return Viewer(name=client.name, role=ClientRole(client.role), scopes=list(client.scopes))


# Stewards', reviewers' and auditors' fields are @inaccessible: a departmental supergraph composed
# with the hub leaves them out of its API, while the hub serves them to its own clients (the console).
# A department's own mutation, `submitRecords`, stays in.
@strawberry.federation.type(name="Mutation")
class MutationRoot:
    submit_records = strawberry.mutation(
        resolver=submit,
        description="Store records a department submits (the contract's fields, each with its `key`; at"
        " most 500, all of one kind), resolve them at once against the stored entities and answer for each,"
        " in order: its entity and whether it was CREATED, JOINED an entity, waits for REVIEW or was"
        " QUARANTINED (with the reason; the others go in). Submitting the same record again changes"
        " nothing. While a batch resolution runs the records are stored and answered `pending`, for the"
        " next resolution to match. For `writer` clients with the source's scope (`source:NAME`) and"
        " admins.",
    )
    claim_review_item = strawberry.federation.mutation(
        inaccessible=True,
        resolver=claim_review,
        description="Take a review item (steward, admin); another's claim or a decided item is a CONFLICT.",
    )
    decide_review_item = strawberry.federation.mutation(
        inaccessible=True,
        resolver=decide_review,
        description="Decide a review item (steward, admin): MATCH or NOT_MATCH becomes the steward's"
        " judgement on the pair, which every later resolution honours; UNSURE leaves it open with the note."
        " The decision takes effect at once: MATCH merges the two records' entities when they differ (the"
        " larger, or else the older, survives), NOT_MATCH splits the second record into an entity of its"
        " own when the two share one; both are audited edits that `undo` can reverse.",
    )
    release_review_item = strawberry.federation.mutation(
        inaccessible=True,
        resolver=release_review,
        description="Hand a claimed review item back to the queue, open (steward, admin): one's own claim;"
        " an admin may release anyone's (FORBIDDEN for a steward releasing another's). An item not"
        " claimed is a CONFLICT.",
    )
    merge_entities = strawberry.federation.mutation(
        inaccessible=True,
        resolver=merge_edit,
        description="Merge `other` into `into` (steward, admin), both at the versions the caller saw; a"
        " version that moved on meanwhile is a CONFLICT. The records move, `other` is retired into `into`,"
        " links follow, and later resolution runs keep them together. Undo with `undo(eventId)`.",
    )
    split_entity = strawberry.federation.mutation(
        inaccessible=True,
        resolver=split_edit,
        description="Split an entity (steward, admin), at the version the caller saw: each group of its"
        " records becomes a new entity (`created`), the records in no group stay. Later runs keep the"
        " groups apart. Undo with `undo(eventId)`.",
    )
    move_records = strawberry.federation.mutation(
        inaccessible=True,
        resolver=move_edit,
        description="Move some records of an entity into another existing entity (steward, admin), both at"
        " the versions the caller saw. Undo with `undo(eventId)`.",
    )
    override_value = strawberry.federation.mutation(
        inaccessible=True,
        resolver=override_edit,
        description="Set a golden value by hand (steward, admin), at the version the caller saw: recorded"
        " as the steward's statement, it outranks every source, whose values stay in `lineage`. `value`"
        " null withdraws the steward's value. `field`: `name`, `idNumber`, `phone`, `text`, ...",
    )
    undo = strawberry.federation.mutation(
        inaccessible=True,
        resolver=undo_edit,
        description="Reverse a steward's edit by its audit event (steward, admin): members, status and"
        " links as they were; a CONFLICT if what it touched has changed since.",
    )


def _aware(value: datetime) -> str:
    """A time as ISO 8601 with its zone; a time read without one (SQLite keeps none) is UTC, as the
    hub stores every time, so whatever a client gets back it can pass as `asOf`."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def _parse_time(value: Any) -> datetime:
    """An ISO 8601 time, as a variable or written into the query; BAD_INPUT for anything else, and for
    a time no zone can take (year 1 at +14:00, year 9999 at -05:00: Python's range ends there). The
    error is the hub's own, so that graphql-core's wrapping of it keeps its code (a ValueError would
    be an unexpected error, INTERNAL)."""
    if not isinstance(value, str):
        raise InputError(f"expected an ISO 8601 time as text, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InputError(f"{value[:40]!r} is not an ISO 8601 time within years 1 to 9999") from None
    return parsed


def _parse_time_literal(node: Any, variables: dict[str, Any] | None = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise InputError("expected an ISO 8601 time as a string")
    return _parse_time(node.value)


AwareDateTime = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat), always with its time zone.",
    serialize=_aware,
    parse_value=_parse_time,
    parse_literal=_parse_time_literal,
)


class _Schema(LimitedSchema):
    # Whether a query of a planned shape skips the extensions' hooks (`answer_operation`): not when
    # extensions beyond the hub's own are installed (traces), as they must see the operation.
    one_pass = True

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if self.one_pass and root_value is None and not operation_extensions:
            allowed = allowed_operation_types
            if allowed is None:
                allowed = DEFAULT_ALLOWED_OPERATION_TYPES
            answered = await answer_operation(
                self._schema, query, variable_values, context_value, operation_name, allowed
            )
            if answered is not None:
                return answered
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log nothing here: `ErrorCodes` logs the unexpected errors with their traceback, and the
        expected ones (`NOT_FOUND`, `FORBIDDEN`, `CONFLICT`, ...) are answers, not incidents."""


def build_schema(*extra: Any) -> _Schema:
    """The schema, with `extra` extensions around the hub's own (traces: hub/api/tracing.py)."""
    built = _Schema(
        query=QueryRoot,
        mutation=MutationRoot,
        types=[Person, Address, LegalEntity],
        extensions=[
            *extra,  # traces: the operation's span around all the rest
            Observe,  # outermost of the hub's own: reads the result once every error has its code
            ErrorCodes,
            AccessLog,  # outside UnitOfWork: writes after the operation's session is released
            GatewayScope,  # a gateway's own token reads the SDL only: refused before anything runs
            UnitOfWork,
            lambda: AddValidationRules(_LIMIT_RULES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            # Clients send the same few queries again and again: parse and validate each once.
            DocumentCache,
        ],
        # The lowest version whose directives the schema uses (@key, @shareable, @inaccessible are all
        # 2.0), so that older supergraph composers accept the hub as well as newer ones.
        federation_version="2.0",
        config=StrawberryConfig(scalar_map={datetime: AwareDateTime}),
        # Lookups of a known shape are answered in one pass, the rest field by field.
        execution_context_class=PlannedExecution,
    )
    built.one_pass = not extra
    return built


schema = build_schema()


def schema_sdl() -> str:
    """The printed schema, as checked in at `schema.graphql`."""
    return print_schema(schema) + "\n"
