"""Ground truth for evaluation: a `source,kind,key,true_id` CSV, and the hub's current clusters."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import InputError

__all__ = ["current_clusters", "read_truth"]

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
