"""Normalize a whole source record into features for matching and flags for malformed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.normalize.identifiers import parse_date, parse_phone, parse_resident_id, parse_uscc

__all__ = ["NormalizedRecord", "normalize_record"]

_GENDER = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "1": "M", "2": "F"}


# The names `hub normalize` always writes per kind (null when absent); tools rely on them.
OUTPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "person": ("name", "name_pinyin", "id_number", "id_number_valid", "birth_date", "sex", "phone"),
    "address": (
        "province",
        "city",
        "district",
        "street",
        "community",
        "road",
        "number",
        "compound",
        "building",
        "unit",
        "room",
        "canonical",
    ),
    "legal_entity": ("name_core", "uscc", "uscc_valid", "is_branch"),
}


@dataclass(slots=True)
class NormalizedRecord:
    """`features` are canonical values by name; `flags` name each malformed field and why."""

    kind: str
    features: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    def output(self) -> dict[str, Any]:
        """The features with the kind's fixed names first, each present (null when unknown)."""
        fixed = OUTPUT_FIELDS[self.kind]
        result = {name: self.features.get(name) for name in fixed}
        result.update((name, value) for name, value in self.features.items() if name not in result)
        return result


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _resident_id(out: NormalizedRecord, record: Mapping[str, Any], field_name: str, prefix: str) -> None:
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


def _phone(out: NormalizedRecord, record: Mapping[str, Any]) -> None:
    raw = _text(record, "phone")
    if not raw:
        return
    parsed = parse_phone(raw)
    out.features["phone"] = parsed.value if parsed.valid else None
    if not parsed.valid:
        out.flags["phone"] = parsed.reason or "invalid"


def _date(out: NormalizedRecord, record: Mapping[str, Any], field_name: str) -> None:
    raw = _text(record, field_name)
    if not raw:
        return
    parsed = parse_date(raw)
    out.features[field_name] = parsed.isoformat() if parsed else None
    if parsed is None:
        out.flags[field_name] = "not a date, or a two-digit year that could be either century"


def _uscc(out: NormalizedRecord, record: Mapping[str, Any], field_name: str, prefix: str) -> None:
    raw = _text(record, field_name)
    if not raw:
        return
    parsed = parse_uscc(raw)
    out.features[f"{prefix}uscc"] = parsed.value
    out.features[f"{prefix}uscc_valid"] = parsed.valid
    if not parsed.valid:
        out.flags[field_name] = parsed.reason or "invalid"


def _person(record: Mapping[str, Any]) -> NormalizedRecord:
    out = NormalizedRecord("person")
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
        out.flags["birth_date"] = "differs from the birth date in the ID number"
    _phone(out, record)
    _uscc(out, record, "employer_uscc", "employer_")
    return out


def _address(record: Mapping[str, Any]) -> NormalizedRecord:
    out = NormalizedRecord("address")
    code = _text(record, "doorplate_code")
    if code:
        out.features["doorplate_code"] = code.upper()
    return out


def _legal_entity(record: Mapping[str, Any]) -> NormalizedRecord:
    out = NormalizedRecord("legal_entity")
    _uscc(out, record, "uscc", "")
    _resident_id(out, record, "legal_representative_id_number", "legal_representative_")
    _date(out, record, "established_on")
    _phone(out, record)
    return out


_BY_KIND = {"person": _person, "address": _address, "legal_entity": _legal_entity}


def normalize_record(kind: str, record: Mapping[str, Any]) -> NormalizedRecord:
    """Return the features and flags of one contract record of `kind` (pure; no database)."""
    return _BY_KIND[kind](record)
