"""Ground truth for evaluation: a `source,kind,key,true_id` CSV, and the hub's current clusters."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import InputError

__all__ = ["current_clusters", "current_links", "read_relations", "read_truth", "true_ids_of_entities"]

RecordKey = tuple[str, str, str]


def read_truth(path: Path) -> dict[RecordKey, str]:
    """(source, kind, key) → true entity id, from a CSV with those four columns."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"source", "kind", "key", "true_id"} - set(reader.fieldnames or ())
            if missing:
                raise InputError(f"{path}: the truth file lacks the columns {', '.join(sorted(missing))}")
            return {(r["source"], r["kind"], r["key"]): r["true_id"] for r in reader}
    except OSError as exc:
        raise InputError(f"{path}: {exc}") from exc


def current_clusters(session: Session, kind: Kind) -> dict[RecordKey, str]:
    """(source, kind, key) → current entity id, for every record of `kind`."""
    rows = session.connection().exec_driver_sql(
        "SELECT s.name, r.kind, r.key, m.entity_id FROM source_record r"
        " JOIN source s ON s.id = r.source_id"
        " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
        f" WHERE r.kind = '{kind}'"
    )
    return {(source, k, key): entity for source, k, key, entity in rows}


def read_relations(path: Path) -> set[tuple[str, str, str]]:
    """(relation, from true id, to true id) from a CSV with those columns (`relations.csv`)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"relation", "from_id", "to_id"} - set(reader.fieldnames or ())
            if missing:
                raise InputError(f"{path}: the relations file lacks the columns {', '.join(sorted(missing))}")
            return {(r["relation"], r["from_id"], r["to_id"]) for r in reader}
    except OSError as exc:
        raise InputError(f"{path}: {exc}") from exc


def true_ids_of_entities(
    predicted: Mapping[RecordKey, str], truth: Mapping[RecordKey, str]
) -> dict[str, str]:
    """Each entity's true id: the one most of its records have (ties: the smallest)."""
    votes: dict[str, Counter[str]] = {}
    for key, entity in predicted.items():
        true_id = truth.get(key)
        if true_id is not None:
            votes.setdefault(entity, Counter())[true_id] += 1
    return {entity: min(c, key=lambda t: (-c[t], t)) for entity, c in votes.items()}


def current_links(session: Session) -> set[tuple[str, str, str]]:
    """(relation, subject entity, object entity) of every current link."""
    rows = session.connection().exec_driver_sql(
        "SELECT relation, subject_id, object_id FROM link WHERE valid_to IS NULL"
    )
    return {(relation, subject, obj) for relation, subject, obj in rows}
