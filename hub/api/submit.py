"""`submitRecords`: a department hands the hub records and gets each one's entity back at once.

Only a `writer` client (or an admin) may submit, and a writer only for the sources its scopes name
(`source:tax`). The work runs like a steward's edit (`run_edit`): in a worker thread, in a transaction
of its own committed before the answer is built; the process keeps each kind's resolver warm between
submissions (`hub.submit.LiveResolvers`, one per app).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from hub.api.context import Info
from hub.api.steward import run_edit
from hub.clients import SOURCE_SCOPE
from hub.domain import Kind
from hub.errors import ForbiddenError, InputError
from hub.submit import Submission, submit_records

__all__ = ["RECORD_INPUTS", "SUBMIT_ROLES", "RecordsInput", "SubmittedRecord", "submit"]

SUBMIT_ROLES = frozenset({"writer", "admin"})


_EXTRA = "Fields beyond the contract's, kept with the record as sent."


@strawberry.input(description="A person as a source states it: the contract's fields (docs/contract.md §1).")
class PersonRecordInput:
    key: str = strawberry.field(description="The record's id in its source.")
    name: str | None = None
    id_number: str | None = None
    gender: str | None = None
    birth_date: str | None = None
    phone: str | None = None
    address: str | None = None
    registered_address: str | None = None
    employer_name: str | None = None
    employer_uscc: str | None = None
    extra: JSON | None = strawberry.field(default=None, description=_EXTRA)


@strawberry.input(description="An address as a source states it: the contract's fields.")
class AddressRecordInput:
    key: str = strawberry.field(description="The record's id in its source.")
    address: str | None = None
    doorplate_code: str | None = None
    grid_code: str | None = None
    house_type: str | None = None
    label: str | None = None
    extra: JSON | None = strawberry.field(default=None, description=_EXTRA)


@strawberry.input(description="A legal entity as a source states it: the contract's fields.")
class LegalEntityRecordInput:
    key: str = strawberry.field(description="The record's id in its source.")
    name: str | None = None
    uscc: str | None = None
    legal_representative: str | None = None
    legal_representative_id_number: str | None = None
    registered_address: str | None = None
    business_address: str | None = None
    established_on: str | None = None
    phone: str | None = None
    status: str | None = None
    extra: JSON | None = strawberry.field(default=None, description=_EXTRA)


@strawberry.input(one_of=True, description="The records of one kind: exactly one of the three lists.")
class RecordsInput:
    persons: list[PersonRecordInput] | None = strawberry.UNSET
    addresses: list[AddressRecordInput] | None = strawberry.UNSET
    legal_entities: list[LegalEntityRecordInput] | None = strawberry.UNSET


RECORD_INPUTS: dict[Kind, type] = {
    Kind.PERSON: PersonRecordInput,
    Kind.ADDRESS: AddressRecordInput,
    Kind.LEGAL_ENTITY: LegalEntityRecordInput,
}


def _plain(record: Any) -> dict[str, Any]:
    """A typed record as the contract's dict: its fields that were given, then its extra fields."""
    out = {name: value for name, value in vars(record).items() if name != "extra" and value is not None}
    extra = record.extra if isinstance(record.extra, dict) else {}
    return {**{k: v for k, v in extra.items() if k not in out}, **out}


def _records(records: RecordsInput) -> tuple[Kind, list[dict[str, Any]]]:
    for kind, given in (
        (Kind.PERSON, records.persons),
        (Kind.ADDRESS, records.addresses),
        (Kind.LEGAL_ENTITY, records.legal_entities),
    ):
        if given is not strawberry.UNSET and given is not None:
            return kind, [_plain(r) for r in given]
    raise InputError("records: give persons, addresses or legalEntities")


@strawberry.enum(description="What became of a submitted record.")
class SubmitOutcome(Enum):
    CREATED = strawberry.enum_value("created", description="An entity of its own: the hub knew no match.")
    JOINED = strawberry.enum_value("joined", description="It joined an entity with other records.")
    REVIEW = strawberry.enum_value(
        "review", description="A steward decides on a possible match; meanwhile it is in `entityId`."
    )
    QUARANTINED = strawberry.enum_value("quarantined", description="Set aside with its `reason`.")


@strawberry.type(description="One submitted record: its entity now and what became of it.")
class SubmittedRecord:
    key: str | None
    outcome: SubmitOutcome
    entity_id: strawberry.ID | None
    unchanged: bool = strawberry.field(
        description="The hub had this record with this content already: nothing changed."
    )
    reason: str | None = strawberry.field(description="Why a record was set aside.")


def _may_submit(info: Info, source: str) -> str:
    """The actor to record; FORBIDDEN for a client that may not submit for `source`."""
    client = info.context.client
    if client is None:
        return "local"
    if client.role not in SUBMIT_ROLES:
        raise ForbiddenError(
            f"client {client.name!r} ({client.role}) may not submit records; the roles that may are"
            f" {', '.join(sorted(SUBMIT_ROLES))}"
        )
    if client.role != "admin" and f"{SOURCE_SCOPE}{source}" not in client.scopes:
        mine = [s.removeprefix(SOURCE_SCOPE) for s in client.scopes if s.startswith(SOURCE_SCOPE)]
        raise ForbiddenError(
            f"client {client.name!r} may not submit records of source {source!r}; it submits for"
            f" {', '.join(mine) or 'no source'}"
        )
    return f"client:{client.name}"


async def submit(info: Info, source: str, records: RecordsInput) -> list[SubmittedRecord]:
    """Store records of `source` (at most `MAX_SUBMITTED`), resolve them at once and answer for each
    in order."""
    actor = _may_submit(info, source)
    wanted, plain = _records(records)
    info.context.require_kind(wanted)
    live = info.context.live

    def work(session: Session) -> Submission:
        return submit_records(session, source, wanted, plain, actor=actor, live=live)

    submission = await run_edit(info, work)
    submission.committed()
    return [
        SubmittedRecord(
            key=r.key,
            outcome=SubmitOutcome(r.outcome.value),
            entity_id=strawberry.ID(r.entity_id) if r.entity_id else None,
            unchanged=r.unchanged,
            reason=r.reason,
        )
        for r in submission.results
    ]
