"""The record fields that departmental systems send, per kind (docs/contract.md §1)."""

from __future__ import annotations

from hub.errors import UnknownKindError
from hub.store.models import Kind

__all__ = ["KIND_FIELDS", "parse_kind"]

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


def parse_kind(text: str) -> Kind:
    """Return the Kind named by `text` ("person", "LEGAL_ENTITY", "legal-entity" all work)."""
    try:
        return Kind(text.strip().lower().replace("-", "_"))
    except ValueError:
        choices = ", ".join(k.value for k in Kind)
        raise UnknownKindError(f"unknown kind {text!r}; use one of {choices}") from None
