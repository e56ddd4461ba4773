"""The record fields that departmental systems send, per kind (docs/contract.md §1)."""

from __future__ import annotations

from hub.domain import Kind

__all__ = ["KIND_FIELDS"]

KIND_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.PERSON: (
        "name",
        "id_number",
        "gender",
        "birth_date",
        "phone",
        "address",
        "registered_address",
        "employer_name",
        "employer_uscc",
    ),
    Kind.ADDRESS: ("address", "doorplate_code", "grid_code", "house_type", "label"),
    Kind.LEGAL_ENTITY: (
        "name",
        "uscc",
        "legal_representative",
        "legal_representative_id_number",
        "registered_address",
        "business_address",
        "established_on",
        "phone",
        "status",
    ),
}
