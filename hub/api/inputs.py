"""Records as a client sends them: one input type per kind with the contract's fields
(docs/contract.md §1), for `submitRecords` (many, of one kind) and `match` (one, of any kind).

A department's fields beyond the contract's go in `extra` and are kept with the record as sent. A
record without its `key` can be matched; submitted, it is quarantined with that reason.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from hub.domain import Kind
from hub.errors import InputError

__all__ = [
    "RECORD_INPUTS",
    "AddressRecordInput",
    "LegalEntityRecordInput",
    "PersonRecordInput",
    "RecordInput",
    "RecordsInput",
    "record_of",
    "records_of",
]

_EXTRA = "Fields beyond the contract's, kept with the record as sent."


@strawberry.input(description="A person as a source states it: the contract's fields (docs/contract.md §1).")
class PersonRecordInput:
    key: str | None = strawberry.field(default=None, description="The record's id in its source.")
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
    key: str | None = strawberry.field(default=None, description="The record's id in its source.")
    address: str | None = None
    doorplate_code: str | None = None
    grid_code: str | None = None
    house_type: str | None = None
    label: str | None = None
    extra: JSON | None = strawberry.field(default=None, description=_EXTRA)


@strawberry.input(description="A legal entity as a source states it: the contract's fields.")
class LegalEntityRecordInput:
    key: str | None = strawberry.field(default=None, description="The record's id in its source.")
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


def records_of(records: RecordsInput) -> tuple[Kind, list[dict[str, Any]]]:
    """The kind and the records (as the contract's dicts) of a `RecordsInput`."""
    for kind, given in (
        (Kind.PERSON, records.persons),
        (Kind.ADDRESS, records.addresses),
        (Kind.LEGAL_ENTITY, records.legal_entities),
    ):
        if given is not strawberry.UNSET and given is not None:
            return kind, [_plain(r) for r in given]
    raise InputError("records: give persons, addresses or legalEntities")


@strawberry.input(one_of=True, description="One record: exactly one of a person, an address, a legal entity.")
class RecordInput:
    person: PersonRecordInput | None = strawberry.UNSET
    address: AddressRecordInput | None = strawberry.UNSET
    legal_entity: LegalEntityRecordInput | None = strawberry.UNSET


def record_of(record: RecordInput) -> tuple[Kind, dict[str, Any]]:
    """The kind and the record (as the contract's dict) of a `RecordInput`."""
    for kind, given in (
        (Kind.PERSON, record.person),
        (Kind.ADDRESS, record.address),
        (Kind.LEGAL_ENTITY, record.legal_entity),
    ):
        if given is not strawberry.UNSET and given is not None:
            return kind, _plain(given)
    raise InputError("record: give a person, an address or a legalEntity")
