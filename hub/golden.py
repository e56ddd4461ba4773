"""Golden values: one value per attribute of an entity, chosen from its records' values by survivorship.

Pure: claims in, golden values out. Every source value is a `Claim` (which record, which source,
when received, the source's trust in that attribute); `survive` chooses one and keeps them all, so
the API can show the golden value, every alternative, and the rule that chose.

The rule, in order: a value a steward set (a statement on the entity) beats every source; then a
value its source got right (a valid ID number or credit code) beats a flagged
one; then the source with the higher trust for that attribute (`source.trust`, attribute name or
"*"; 0 when unset); then the most recently received; then the value most records agree on; then the
earliest record, so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from hub.domain import Kind

__all__ = [
    "ATTRIBUTES",
    "RULE",
    "STEWARD",
    "Claim",
    "Golden",
    "claims_of",
    "steward_claim",
    "survive",
    "trust_of",
]

RULE = (
    "a steward's value first, then valid values, then the most trusted source, then the most recent,"
    " then the most common"
)
STEWARD = "steward"


# Claims and golden values are named tuples: immutable, and made by the dozen for every answer, where a
# frozen dataclass costs four times as much to make.


class Claim(NamedTuple):
    """One value of one attribute, as one source record's current version states it."""

    attribute: str
    value: str
    record_id: int
    source: str
    key: str
    version: int
    received_at: datetime
    trust: int = 0
    valid: bool = True
    steward: bool = False


class Golden(NamedTuple):
    """The surviving value of an attribute, the claim that gave it, and every claim considered."""

    attribute: str
    value: str
    chosen: Claim
    claims: tuple[Claim, ...]
    rule: str = RULE


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _place(features: Mapping[str, Any], name: str) -> str | None:
    place = features.get(name)
    return _text(place.get("canonical")) if isinstance(place, Mapping) else None


# attribute → how to read it from a record's features: (value, valid)
Reader = Callable[[Mapping[str, Any]], tuple[str | None, bool]]


def _plain(name: str) -> Reader:
    return lambda f: (_text(f.get(name)), True)


def _checked(name: str, flag: str) -> Reader:
    return lambda f: (_text(f.get(name)), bool(f.get(flag)))


def _birth(f: Mapping[str, Any]) -> tuple[str | None, bool]:
    return _text(f.get("birth_date")) or _text(f.get("id_birth_date")), True


def _gender(f: Mapping[str, Any]) -> tuple[str | None, bool]:
    sex = f.get("sex") or f.get("id_sex")
    return {"M": "男", "F": "女"}.get(sex) if isinstance(sex, str) else None, True


_ADDRESS_PARTS = ("district", "street", "community", "road", "number", "compound", "building", "unit", "room")

ATTRIBUTES: dict[Kind, dict[str, Reader]] = {
    Kind.PERSON: {
        "name": _plain("name"),
        "id_number": _checked("id_number", "id_number_valid"),
        "birth_date": _birth,
        "gender": _gender,
        "phone": _plain("phone"),
        "address": lambda f: (_place(f, "address"), True),
        "registered_address": lambda f: (_place(f, "registered_address"), True),
    },
    Kind.ADDRESS: {
        "text": _plain("canonical"),
        "doorplate_code": _plain("doorplate_code"),
        **{name: _plain(name) for name in _ADDRESS_PARTS},
    },
    Kind.LEGAL_ENTITY: {
        "name": _plain("name"),
        "uscc": _checked("uscc", "uscc_valid"),
        "legal_form": _plain("legal_form"),
        "branch": _plain("branch"),
        "legal_representative": _plain("legal_representative_name"),
        "established_on": _plain("established_on"),
        "phone": _plain("phone"),
        "registered_address": lambda f: (_place(f, "registered_address"), True),
        "business_address": lambda f: (_place(f, "business_address"), True),
    },
}


def trust_of(trust: Mapping[str, Any] | None, attribute: str) -> int:
    """A source's trust in `attribute`: its own entry, else its "*" entry, else 0."""
    if not trust:
        return 0
    value = trust.get(attribute, trust.get("*", 0))
    return int(value) if isinstance(value, int | float) else 0


def claims_of(
    kind: Kind,
    features: Mapping[str, Any],
    *,
    record_id: int,
    source: str,
    key: str,
    version: int,
    received_at: datetime,
    trust: Mapping[str, Any] | None = None,
    only: str | None = None,
) -> list[Claim]:
    """Every attribute value one record's features state (or only that of attribute `only`)."""
    out = []
    readers = ATTRIBUTES[kind]
    for attribute, read in readers.items() if only is None else ((only, readers[only]),):
        value, valid = read(features)
        if value is not None:
            out.append(
                Claim(
                    attribute,
                    value,
                    record_id,
                    source,
                    key,
                    version,
                    received_at,
                    trust_of(trust, attribute),
                    valid,
                )
            )
    return out


def steward_claim(attribute: str, value: str, statement_id: int, actor: str, at: datetime) -> Claim:
    """A value a steward set on the entity: it wins over every source's (statement ids are negative
    record ids, so the two never collide)."""
    return Claim(attribute, value, -statement_id, STEWARD, actor, 0, at, steward=True)


def survive(claims: Iterable[Claim]) -> dict[str, Golden]:
    """The golden value of each attribute the claims cover."""
    by_attribute: dict[str, list[Claim]] = {}
    for claim in claims:
        by_attribute.setdefault(claim.attribute, []).append(claim)
    out = {}
    for attribute, group in by_attribute.items():
        if len(group) == 1:  # most attributes of most entities: one record states them
            out[attribute] = Golden(attribute, group[0].value, group[0], (group[0],))
            continue
        agree: dict[str, int] = {}
        for c in group:
            agree[c.value] = agree.get(c.value, 0) + 1
        chosen = max(
            group,
            key=lambda c: (c.steward, c.valid, c.trust, c.received_at, agree[c.value], -c.record_id),
        )
        ordered = tuple(sorted(group, key=lambda c: (c.value != chosen.value, -c.trust, c.record_id)))
        out[attribute] = Golden(attribute, chosen.value, chosen, ordered)
    return out
