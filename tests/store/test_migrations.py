"""The alembic migrations build exactly the schema the models describe, on both databases, stand
alone from the application's code, carry old data forward, and go down as well as up."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from alembic import command
from hub.audit import record_event
from hub.domain import Kind
from hub.normalize.fields import SEARCH_FIELDS, match_fields, search_terms
from hub.normalize.records import normalize_record
from hub.store.migrations import alembic_config, current_revision, head_revision, upgrade
from hub.store.models import SEARCH_FIELD_IDS, Base


def test_migrated_database_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_search_field_has_the_number_the_database_gives_it(engine: Engine) -> None:
    with engine.connect() as connection:
        stored = {
            (Kind(kind), field): number
            for number, kind, field in connection.execute(text("SELECT id, kind, field FROM search_field"))
        }
    assert stored == SEARCH_FIELD_IDS
    assert set(SEARCH_FIELD_IDS) == {
        (kind, field) for kind, fields in SEARCH_FIELDS.items() for field in fields
    }


def test_migrated_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert head_revision() is not None


# A migration must do the same thing whatever the application's code becomes, so none imports it.
VERSIONS = Path(__file__).resolve().parents[2] / "alembic" / "versions"


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.stem)
def test_a_migration_imports_no_application_code(path: Path) -> None:
    imported: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    assert [name for name in imported if name == "hub" or name.startswith("hub.")] == []


RECORDS: list[tuple[Kind, dict[str, str], bool]] = [
    # (kind, payload, whether the version was stored with its match fields, as since revision 0002)
    (Kind.PERSON, {"name": "王伟", "id_number": "110101199003071234", "birth_date": "1990-03-07"}, True),
    (Kind.PERSON, {"name": "李娜", "phone": "13912345678", "birth_date": "1985-11-02"}, False),
    (Kind.ADDRESS, {"address": "昆山市玉山镇人民路88号3幢2单元301室", "doorplate_code": "QS0001"}, False),
    (Kind.LEGAL_ENTITY, {"name": "昆山市玉山镇华强五金店", "uscc": "91320583MA1XYZ1234"}, True),
]


def test_upgrading_an_old_database_indexes_its_records_as_ingestion_would(blank_engine: Engine) -> None:
    """Revisions 0003 and 0004 fill `search_term` for records stored before them. They keep frozen
    copies of the rules; if the rules change, the stored terms need a migration of their own, and
    this test says so."""
    upgrade(blank_engine, "0002")
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    source = sa.table(
        "source", sa.column("id"), sa.column("name"), sa.column("trust", json), sa.column("created_at")
    )
    record = sa.table(
        "source_record",
        *(sa.column(c) for c in ("id", "source_id", "kind", "key", "version", "content_hash")),
        *(sa.column(c, sa.DateTime(timezone=True)) for c in ("first_seen_at", "last_seen_at")),
    )
    version = sa.table(
        "record_version",
        *(sa.column(c) for c in ("record_id", "version", "content_hash")),
        *(sa.column(c, json) for c in ("payload", "features", "flags", "match")),
        sa.column("received_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    expected: set[tuple[str, str, str, int]] = set()
    with blank_engine.begin() as connection:
        connection.execute(source.insert(), {"id": 1, "name": "old", "trust": {}, "created_at": now})
        for number, (kind, payload, with_match) in enumerate(RECORDS, start=1):
            features = normalize_record(kind, payload).features
            match = match_fields(kind, features)
            connection.execute(
                record.insert(),
                {"id": number, "source_id": 1, "kind": kind.value, "key": f"k{number}", "version": 1,
                 "content_hash": "-", "first_seen_at": now, "last_seen_at": now},
            )  # fmt: skip
            connection.execute(
                version.insert(),
                {"record_id": number, "version": 1, "content_hash": "-", "payload": payload,
                 "features": features, "flags": {}, "match": match if with_match else None,
                 "received_at": now},
            )  # fmt: skip
            expected |= {(kind.value, field, term, number) for field, term in search_terms(kind, match)}
    assert {kind for kind, *_ in expected} == {"person", "address", "legal_entity"}
    assert any(field == "name_birth" for _, field, _, _ in expected)

    upgrade(blank_engine)
    with blank_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT f.kind, f.field, t.term, t.record_id FROM search_term t"
                " JOIN search_field f ON f.id = t.field_id"
            )
        )
        stored = {(kind, field, term, record) for kind, field, term, record in rows}
    assert stored == expected


def test_every_migration_goes_down_and_up_again(blank_engine: Engine) -> None:
    upgrade(blank_engine)
    config = alembic_config(blank_engine.url.render_as_string(hide_password=False))
    with blank_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    with blank_engine.connect() as connection:
        assert current_revision(blank_engine) is None
        assert "audit_event" not in sa.inspect(connection).get_table_names()
    upgrade(blank_engine)
    with Session(blank_engine) as session, session.begin():
        record_event(session, "test", "test.event")
    # The trail's guard came back with the tables.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), blank_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event"))
