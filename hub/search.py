"""Finding entities: by an exact key (ID number, credit code, doorplate code) and by scored fuzzy search.

The query text is normalized exactly as an ingested record would be, so 王偉 finds 王伟 (traditional
characters), 汪伟 finds 王伟 (a homophone: the same pinyin key), and 3-2-301 in a compound finds
3幢2单元301室 (the same flat key). Candidates come from the search terms of current record versions
(an index lookup); each candidate entity is then scored against the query with its golden values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import InputError
from hub.normalize.fields import match_fields, search_terms
from hub.normalize.records import normalize_record
from hub.store.models import SEARCH_FIELD_IDS
from hub.store.sql import json_object

__all__ = [
    "MAX_RESULTS",
    "Query",
    "candidates",
    "current_match_fields",
    "entity_by_term",
    "normalized_query",
    "ranked",
    "score",
]

MAX_RESULTS = 50
# A common name: score the first this many entities, not the whole city (a birth date, ID number or
# phone in the query narrows the candidates first).
MAX_CANDIDATES = 100

# A common name's term holds thousands of records: reading this many of them (in record order, along
# the term's index) finds the candidates without joining and de-duplicating all of them.
CANDIDATE_ROWS = 4 * MAX_CANDIDATES

_JOINS = (
    " FROM search_term t"
    " JOIN source_record r ON r.id = t.record_id AND r.version = t.version"
    " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
)
_CURRENT = "SELECT DISTINCT m.entity_id" + _JOINS
_CURRENT_ROWS = "SELECT m.entity_id" + _JOINS


@dataclass(frozen=True, slots=True)
class Query:
    """A search's input, normalized: the match fields and the search terms a record like it would have."""

    kind: Kind
    fields: dict[str, Any]
    terms: tuple[tuple[str, str], ...]


def normalized_query(kind: Kind, record: Mapping[str, Any]) -> Query:
    """Normalize search input given as contract fields (name, id_number, address, uscc, …)."""
    given = {k: v.strip() for k, v in record.items() if isinstance(v, str) and v.strip()}
    if not given:
        raise InputError("give at least one non-empty search field")
    features = normalize_record(kind, given).features
    fields = match_fields(kind, features)
    return Query(kind, {**fields, "features": features}, search_terms(kind, fields))


def entity_by_term(session: Session, kind: Kind, field: str, term: str) -> str | None:
    """The one entity whose current records have this exact term (None if none or several)."""
    rows = session.execute(
        text(_CURRENT + " WHERE t.field_id = :field_id AND t.term = :term LIMIT 2"),
        {"field_id": SEARCH_FIELD_IDS[kind, field], "term": term},
    ).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def candidates(session: Session, query: Query, *, like: str | None = None) -> list[str]:
    """Entities whose current records share a search term with the query, the most telling term first
    (up to `MAX_CANDIDATES`, each term's in record order); with `like`, also those whose legal-entity
    core name contains it (a small kind: a scan of its core names is cheap)."""
    found = _entities(session, query.kind, query.terms, limit=MAX_CANDIDATES)
    name_core = SEARCH_FIELD_IDS.get((query.kind, "name_core"))
    if like and name_core is not None and len(found) < MAX_CANDIDATES:
        rows = session.execute(
            text(_CURRENT + " WHERE t.field_id = :field_id AND t.term LIKE :like ESCAPE '\\' LIMIT :limit"),
            {"field_id": name_core, "like": f"%{_escape(like)}%", "limit": MAX_CANDIDATES},
        )
        found += [entity for (entity,) in rows if entity not in found]
    return found


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _entities(session: Session, kind: Kind, terms: Iterable[tuple[str, str]], *, limit: int) -> list[str]:
    found: dict[str, None] = {}
    statement = text(
        _CURRENT_ROWS + " WHERE t.field_id = :field_id AND t.term = :term ORDER BY t.record_id LIMIT :rows"
    )
    for field, term in terms:
        if len(found) >= limit:
            break
        rows = session.execute(
            statement, {"field_id": SEARCH_FIELD_IDS[kind, field], "term": term, "rows": CANDIDATE_ROWS}
        )
        found.update((entity, None) for (entity,) in rows)
    return list(found)[:limit]


def current_match_fields(session: Session, entity_ids: list[str]) -> list[tuple[int, str, dict[str, Any]]]:
    """(record id, entity id, match fields) of every current record of these entities, by record id."""
    if not entity_ids:
        return []
    statement = text(
        "SELECT r.id, m.entity_id, v.match FROM membership m"
        " JOIN source_record r ON r.id = m.record_id"
        " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
        " WHERE m.valid_to IS NULL AND m.entity_id IN :keys ORDER BY r.id"
    ).bindparams(bindparam("keys", expanding=True))
    return [(r, e, json_object(m)) for r, e, m in session.execute(statement, {"keys": entity_ids})]


def ranked(session: Session, query: Query, entity_ids: list[str], first: int) -> list[tuple[str, float]]:
    """The `first` best of these entities for the query, with their scores, best first (ties by id).

    Scores come from the match fields of every current record of each candidate, read in one
    statement: small flat rows, not the whole features.
    """
    records: dict[str, list[Mapping[str, Any]]] = {}
    for _record_id, entity_id, match in current_match_fields(session, entity_ids):
        records.setdefault(entity_id, []).append(match)
    scored = [(e, value) for e, rows in records.items() if (value := score(query, rows)) > 0]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:first]


def score(query: Query, records: Iterable[Mapping[str, Any]]) -> float:
    """How well an entity (its records' match fields) matches the query, 0–1: the mean over the fields
    the query gives.

    Each field scores its best agreement with any of the entity's records: 1 for the same value,
    0.9 for a homophone name or the same flat with the unit left out, else the string similarity.
    """
    fields = query.fields
    records = list(records)
    parts: list[float] = []

    def best(name: str, alternatives: dict[str, float] | None = None) -> None:
        wanted = fields.get(name)
        if wanted is None:
            return
        top = 0.0
        for r in records:
            if r.get(name) == wanted:
                top = 1.0
                break
            for other, worth in (alternatives or {}).items():
                if fields.get(other) is not None and r.get(other) == fields[other]:
                    top = max(top, worth)
        parts.append(top)

    if query.kind == Kind.PERSON:
        name = fields.get("name")
        if name:
            similar = max((fuzz.ratio(name, r.get("name") or "") / 100 for r in records), default=0.0)
            homophone = any(r.get("name_key") == fields.get("name_key") for r in records)
            parts.append(max(similar, 0.9 if homophone else 0.0))
        best("id_any")
        best("phone")
        best("birth_date")
    elif query.kind == Kind.ADDRESS:
        best("flat", {"room_key": 0.9, "building_key": 0.5})
        best("doorplate")
        canonical = fields.get("canonical")
        if canonical and "flat" not in fields:
            parts.append(
                max(
                    (fuzz.partial_ratio(canonical, r.get("canonical") or "") / 100 for r in records),
                    default=0.0,
                )
            )
    else:
        core = fields.get("name_core")
        if core:
            parts.append(
                max((fuzz.ratio(core, r.get("name_core") or "") / 100 for r in records), default=0.0)
            )
        best("uscc_any")
    return round(sum(parts) / len(parts), 4) if parts else 0.0
