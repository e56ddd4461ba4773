"""The hub's domain vocabulary: the kinds of thing it resolves and the states and decisions about them.

Pure Python, imported by every layer: a kind read from a file is the same `Kind` in the tables, the
resolver and the GraphQL answer. The tables store each value as its lower-case string.
"""

from __future__ import annotations

import enum

from hub.errors import InputError, UnknownKindError

__all__ = [
    "DERIVED_SOURCE",
    "ENTITY_PREFIX",
    "LINK_ENDS",
    "ActorType",
    "ChangeAction",
    "Decision",
    "EntityStatus",
    "Kind",
    "LinkRelation",
    "ReviewStatus",
    "new_entity_id",
    "parse_kind",
]


class Kind(enum.StrEnum):
    PERSON = "person"
    ADDRESS = "address"
    LEGAL_ENTITY = "legal_entity"


class EntityStatus(enum.StrEnum):
    ACTIVE = "active"
    MERGED = "merged"  # retired into `merged_into_id`, which still resolves to the survivor


class Decision(enum.StrEnum):
    """A judgement on a pair of records, stored in lower case; stewards and the API say `verdict`."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNSURE = "unsure"

    @property
    def verdict(self) -> str:
        """MATCH, NOT_MATCH or UNSURE."""
        return _VERDICTS[self]

    @classmethod
    def from_verdict(cls, verdict: str) -> Decision:
        for decision, name in _VERDICTS.items():
            if name == verdict:
                return decision
        raise InputError(f"decision {verdict!r}: choose {', '.join(_VERDICTS.values())}")


_VERDICTS = {Decision.POSITIVE: "MATCH", Decision.NEGATIVE: "NOT_MATCH", Decision.UNSURE: "UNSURE"}


class ActorType(enum.StrEnum):
    RULE = "rule"
    MODEL = "model"
    STEWARD = "steward"
    SYSTEM = "system"


class LinkRelation(enum.StrEnum):
    LIVES_AT = "lives_at"
    HOUSEHOLD_REGISTERED_AT = "household_registered_at"
    EMPLOYED_BY = "employed_by"
    LEGAL_REPRESENTATIVE = "legal_representative"
    REGISTERED_AT = "registered_at"
    OPERATES_AT = "operates_at"


# The kinds a link of each relation joins: (subject, object).
LINK_ENDS: dict[LinkRelation, tuple[Kind, Kind]] = {
    LinkRelation.LIVES_AT: (Kind.PERSON, Kind.ADDRESS),
    LinkRelation.HOUSEHOLD_REGISTERED_AT: (Kind.PERSON, Kind.ADDRESS),
    LinkRelation.EMPLOYED_BY: (Kind.PERSON, Kind.LEGAL_ENTITY),
    LinkRelation.LEGAL_REPRESENTATIVE: (Kind.PERSON, Kind.LEGAL_ENTITY),
    LinkRelation.REGISTERED_AT: (Kind.LEGAL_ENTITY, Kind.ADDRESS),
    LinkRelation.OPERATES_AT: (Kind.LEGAL_ENTITY, Kind.ADDRESS),
}


class ChangeAction(enum.StrEnum):
    """What one entry of the change feed says happened."""

    CREATED = "created"  # a new entity (a new record's, or a group of records resolution put apart)
    CHANGED = "changed"  # records joined or left it, or a steward set or withdrew a value
    MERGED = "merged"  # retired into `other_id`, the entity that absorbed it
    SPLIT = "split"  # a new (or restored) entity took records from `other_id`
    LINK_OPENED = "link_opened"
    LINK_CLOSED = "link_closed"


class ReviewStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECIDED = "decided"


ENTITY_PREFIX = {Kind.PERSON: "per", Kind.ADDRESS: "adr", Kind.LEGAL_ENTITY: "leg"}

# The hub's own source: addresses written in person and company records that no office registered,
# made address records so that the people who write them meet at one address entity.
DERIVED_SOURCE = "hub"


def new_entity_id(kind: Kind, millis: int, record_id: int) -> str:
    """A new entity's id: the kind's prefix, a moment in milliseconds and a record id, 12 hex digits each.

    Unique because record ids are, and never reused because record ids are not. (Bulk ingestion
    builds the same string in SQL.)
    """
    return f"{ENTITY_PREFIX[kind]}_{millis:012x}{record_id:012x}"


def parse_kind(text: str) -> Kind:
    """Return the Kind named by `text` ("person", "LEGAL_ENTITY", "legal-entity" all work)."""
    try:
        return Kind(text.strip().lower().replace("-", "_"))
    except ValueError:
        choices = ", ".join(k.value for k in Kind)
        raise UnknownKindError(f"unknown kind {text!r}; use one of {choices}") from None
