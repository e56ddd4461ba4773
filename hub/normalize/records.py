"""Normalize a whole source record into features for matching and flags for malformed values.

Pure: no database, no web. Ingestion stores the result next to the raw payload, so records can be
normalized again when this code improves; `hub normalize` prints it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from hub.domain import Kind
from hub.normalize.address import address_keys, parse_address
from hub.normalize.companies import normalize_company_name
from hub.normalize.identifiers import (
    org_code_check_char,
    parse_date,
    parse_phone,
    parse_resident_id,
    parse_uscc,
)
from hub.normalize.names import normalize_person_name

__all__ = ["OUTPUT_FIELDS", "NormalizedRecord", "address_features", "normalize_record"]

_GENDER = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "1": "M", "2": "F"}

# The names `hub normalize` always writes per kind (null when absent); tools rely on them.
OUTPUT_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.PERSON: ("name", "name_pinyin", "id_number", "id_number_valid", "birth_date", "sex", "phone"),
    Kind.ADDRESS: (
        "province", "city", "district", "street", "community", "road", "number", "compound", "building",
        "unit", "room", "canonical",
    ),
    Kind.LEGAL_ENTITY: ("name_core", "uscc", "uscc_valid", "is_branch"),
}  # fmt: skip


@dataclass(slots=True)
class NormalizedRecord:
    """`features` are canonical values by name; `flags` name each malformed field and why."""

    kind: Kind
    features: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    def output(self) -> dict[str, Any]:
        """The features with the kind's fixed names first, each present (null when unknown)."""
        result = {name: self.features.get(name) for name in OUTPUT_FIELDS[self.kind]}
        result.update((name, value) for name, value in self.features.items() if name not in result)
        return result


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


@lru_cache(maxsize=1 << 17)
def _address_features(text: str) -> dict[str, str]:
    """The cached features of an address text: never to be changed; `address_features` hands out copies."""
    parsed = parse_address.__wrapped__(text)  # this cache holds the result; no second copy in the parser's
    known = {name: value for name, value in zip(parsed._fields, parsed, strict=True) if value is not None}
    for name, value in address_keys(parsed).items():
        if value is not None:
            known[name] = value
    return known


def address_features(text: str) -> dict[str, Any]:
    """Components, canonical text and blocking keys of one address text, the unknown ones left out.

    Cached: the same address text comes again and again (a household, the same house in many sources).
    """
    return _address_features(text).copy()


def _resident_id(out: NormalizedRecord, record: dict[str, Any], field_name: str, prefix: str) -> None:
    raw = _text(record, field_name)
    if not raw:
        return
    parsed = parse_resident_id(raw)
    out.features[f"{prefix}id_number"] = parsed.value
    out.features[f"{prefix}id_number_valid"] = parsed.valid
    if not parsed.valid:
        out.flags[field_name] = parsed.reason or "invalid"
    elif not prefix:
        assert parsed.birth_date is not None
        out.features["id_birth_date"] = parsed.birth_date.isoformat()
        out.features["id_sex"] = parsed.sex


def _phone(out: NormalizedRecord, record: dict[str, Any]) -> None:
    raw = _text(record, "phone")
    if not raw:
        return
    parsed = parse_phone(raw)
    out.features["phone"] = parsed.value if parsed.valid else None
    if not parsed.valid:
        out.flags["phone"] = parsed.reason or "invalid"


def _date(out: NormalizedRecord, record: dict[str, Any], field_name: str) -> None:
    raw = _text(record, field_name)
    if not raw:
        return
    parsed = parse_date(raw)
    out.features[field_name] = parsed.isoformat() if parsed else None
    if parsed is None:
        out.flags[field_name] = "not a date, or a two-digit year that could be either century"


def _uscc(out: NormalizedRecord, record: dict[str, Any], field_name: str, prefix: str) -> None:
    raw = _text(record, field_name)
    if not raw:
        return
    parsed = parse_uscc(raw)
    out.features[f"{prefix}uscc"] = parsed.value
    out.features[f"{prefix}uscc_valid"] = parsed.valid
    if parsed.org_code and org_code_check_char(parsed.org_code[:8]) == parsed.org_code[8]:
        # the organization code inside a credit code or an old tax number: one company either way
        out.features[f"{prefix}org_code"] = parsed.org_code
    if not parsed.valid:
        out.flags[field_name] = parsed.reason or "invalid"


def _person_name(out: NormalizedRecord, raw: str, prefix: str) -> None:
    if not raw:
        return
    name = normalize_person_name(raw)
    out.features[f"{prefix}name"] = name.name
    out.features[f"{prefix}name_pinyin"] = name.name_pinyin
    out.features[f"{prefix}name_key"] = name.homophone_key
    out.features[f"{prefix}name_sound_key"] = name.sound_key
    if not prefix:
        out.features["surname"] = name.surname


def _addresses(out: NormalizedRecord, record: dict[str, Any], *field_names: str) -> None:
    for field_name in field_names:
        raw = _text(record, field_name)
        if raw:
            out.features[field_name] = address_features(raw)


def _person(record: dict[str, Any]) -> NormalizedRecord:
    out = NormalizedRecord(Kind.PERSON)
    _person_name(out, _text(record, "name"), "")
    _resident_id(out, record, "id_number", "")
    _date(out, record, "birth_date")
    gender = _text(record, "gender")
    if gender:
        out.features["sex"] = _GENDER.get(gender.lower())
        if out.features["sex"] is None:
            out.flags["gender"] = f"unknown gender {gender!r}; use 男/女 or M/F"
    if not out.features.get("sex"):
        out.features["sex"] = out.features.get("id_sex")
    id_birth_date = out.features.get("id_birth_date")
    if not out.features.get("birth_date"):
        out.features["birth_date"] = id_birth_date
    elif id_birth_date and out.features["birth_date"] != id_birth_date:
        stated = out.features["birth_date"].replace("-", "")
        if DamerauLevenshtein.distance(stated, id_birth_date.replace("-", "")) > 1:
            # Not a typo: a child or an elderly person recorded under a family member's number. The
            # number is kept, but it says nothing of who this record is.
            out.features["id_number_borrowed"] = True
            out.flags["id_number"] = (
                f"born {id_birth_date} by the number, {out.features['birth_date']} by the record: "
                "taken to be a family member's number"
            )
        else:
            out.flags["birth_date"] = "differs from the birth date in the ID number"
    _phone(out, record)
    _addresses(out, record, "address", "registered_address")
    employer = _text(record, "employer_name")
    if employer:
        company = normalize_company_name(employer)
        out.features["employer_name_core"] = company.name_core
        out.features["employer_is_branch"] = company.is_branch
    _uscc(out, record, "employer_uscc", "employer_")
    return out


def _address(record: dict[str, Any]) -> NormalizedRecord:
    out = NormalizedRecord(Kind.ADDRESS)
    raw = _text(record, "address")
    if raw:
        out.features.update(_address_features(raw))
    code = _text(record, "doorplate_code")
    if code:
        out.features["doorplate_code"] = code.upper()
    _grid_code(out, record)
    return out


def _grid_code(out: NormalizedRecord, record: dict[str, Any]) -> None:
    """The grid (网格) the place belongs to: a code of digits, written with spaces or dashes at times."""
    raw = _text(record, "grid_code")
    if not raw:
        return
    digits = "".join(unicodedata.normalize("NFKC", raw).replace("-", " ").split())
    if digits.isascii() and digits.isdigit():
        out.features["grid_code"] = digits
    else:
        out.flags["grid_code"] = "not a grid code: digits expected"


def _legal_entity(record: dict[str, Any]) -> NormalizedRecord:
    out = NormalizedRecord(Kind.LEGAL_ENTITY)
    raw_name = _text(record, "name")
    if raw_name:
        company = normalize_company_name(raw_name)
        out.features["name"] = company.name
        out.features["name_core"] = company.name_core
        out.features["legal_form"] = company.legal_form
        out.features["is_branch"] = company.is_branch
        out.features["branch"] = company.branch
    _uscc(out, record, "uscc", "")
    _person_name(out, _text(record, "legal_representative"), "legal_representative_")
    _resident_id(out, record, "legal_representative_id_number", "legal_representative_")
    _addresses(out, record, "registered_address", "business_address")
    _date(out, record, "established_on")
    _phone(out, record)
    return out


_BY_KIND = {Kind.PERSON: _person, Kind.ADDRESS: _address, Kind.LEGAL_ENTITY: _legal_entity}


def normalize_record(kind: Kind, record: Mapping[str, Any]) -> NormalizedRecord:
    """Return the features and flags of one contract record of `kind` (pure; no database)."""
    # Typed as a dict below, the compiled code reads a record's fields by the dict's own C calls
    # instead of looking up a method each time; records parsed from JSON are dicts already.
    return _BY_KIND[kind](record if isinstance(record, dict) else dict(record))
