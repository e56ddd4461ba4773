"""`hub export entities`: the golden records as a department loads them, the same as the API serves."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from resolved_city import resolved_city
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app
from hub.clients import add_client
from hub.domain import Kind
from hub.export import golden_header
from hub.steward import override_value
from hub.store.models import AccessLog

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
Hub = Callable[..., tuple[int, str, str]]

PERSON_FIELDS = {
    "name": "name",
    "id_number": "idNumber",
    "birth_date": "birthDate",
    "gender": "gender",
    "phone": "phone",
}


@pytest.fixture(scope="module", params=BACKENDS)
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = resolved_city(request, tmp_path_factory.mktemp("export"), persons=300)
    with Session(engine) as session, session.begin():
        entity_id, version = session.execute(
            text(
                "SELECT id, version FROM entity WHERE kind = 'person' AND status = 'active'"
                " ORDER BY id LIMIT 1"
            )
        ).one()
        override_value(session, entity_id, version, "name", "王定义", "steward:test", "checked by phone")
    yield engine
    engine.dispose()


def _served(engine: Engine, ids: list[str], *scopes: str) -> dict[str, dict[str, Any]]:
    """The API's answer for each person: its version and golden fields."""
    with Session(engine) as session, session.begin():
        token = add_client(session, f"export-{len(scopes)}-{len(ids)}", "reader", list(scopes))
    fields = " ".join(PERSON_FIELDS.values())
    query = " ".join(f'p{i}: person(id: "{id_}") {{ id version {fields} }}' for i, id_ in enumerate(ids))
    with TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"}) as client:
        body = client.post(
            "/graphql", json={"query": "{ " + query + " }"}, headers={"X-Purpose": "audit"}
        ).json()
    assert "errors" not in body, body
    return {p["id"]: p for p in body["data"].values()}


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_every_active_person_once_with_the_values_the_api_serves(city: Engine, hub: Hub) -> None:
    code, out, err = hub(_url(city), "export", "entities", "--kind", "person")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == golden_header(Kind.PERSON)
    with city.connect() as connection:
        active = connection.execute(
            text("SELECT id FROM entity WHERE kind = 'person' AND status = 'active' ORDER BY id")
        ).scalars()
        assert [row["entity_id"] for row in rows] == list(active)
    assert f"{len(rows)} person entities" in err
    sample = rows[:25]
    served = _served(city, [row["entity_id"] for row in sample])
    for row in sample:
        person = served[row["entity_id"]]
        assert int(row["version"]) == person["version"]
        for column, field in PERSON_FIELDS.items():
            assert (row[column] or None) == person[field], (column, row)
    assert rows[0]["name"] == "王定义"  # a steward's value wins, as in the API
    assert any(row["id_number"] and "*" in row["id_number"] for row in rows)


def test_unmasked_needs_a_purpose_and_is_logged(city: Engine, hub: Hub, tmp_path: Path) -> None:
    code, _, err = hub(_url(city), "export", "entities", "--kind", "person", "--unmasked")
    assert code == 2 and "purpose" in err
    code, _, err = hub(
        _url(city), "export", "entities", "--kind", "person", "--unmasked", "--purpose", "idle"
    )
    assert code != 0 and "not a purpose code" in err
    with Session(city) as session:
        before = session.scalar(select(AccessLog.id).order_by(AccessLog.id.desc()).limit(1)) or 0
    output = tmp_path / "people.jsonl"
    code, _, err = hub(
        _url(city),
        "export",
        "entities",
        "--kind",
        "person",
        "--format",
        "jsonl",
        "--output",
        str(output),
        "--unmasked",
        "--purpose",
        "audit",
    )
    assert code == 0, err
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    sample = rows[:25]
    served = _served(city, [row["entity_id"] for row in sample], "pii:read")
    for row in sample:
        for column, field in PERSON_FIELDS.items():
            assert row[column] == served[row["entity_id"]][field]
    assert any(row["id_number"] and "*" not in row["id_number"] for row in rows)
    with Session(city) as session:
        logged = session.scalars(
            select(AccessLog).where(AccessLog.id > before, AccessLog.client_id.is_(None))
        ).all()
    assert [(e.operation_name, e.purpose, e.fields) for e in logged] == [
        ("export", "audit", ["birth_date", "id_number", "phone"])
    ]
    assert "hub export entities --kind person --format jsonl --unmasked" in logged[0].operation


@pytest.mark.parametrize("kind", ["address", "legal_entity"])
def test_the_three_formats_hold_the_same_rows(city: Engine, hub: Hub, tmp_path: Path, kind: str) -> None:
    tables = {}
    for fmt in ("csv", "jsonl", "parquet"):
        output = tmp_path / f"{kind}.{fmt}"
        code, _, err = hub(
            _url(city), "export", "entities", "--kind", kind, "--format", fmt, "--output", str(output)
        )
        assert code == 0, err
        if fmt == "csv":
            with output.open(encoding="utf-8", newline="") as f:
                rows = [{k: (v or None) for k, v in row.items()} for row in csv.DictReader(f)]
        elif fmt == "jsonl":
            rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
        else:
            rows = pq.read_table(output).to_pylist()
        tables[fmt] = [{k: (str(v) if v is not None else None) for k, v in row.items()} for row in rows]
    assert tables["csv"] == tables["jsonl"] == tables["parquet"]
    assert tables["csv"] and list(tables["csv"][0]) == golden_header(Kind(kind))
    with city.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM entity WHERE kind = :kind AND status = 'active'"), {"kind": kind}
        ).scalar()
    assert len(tables["csv"]) == count


def test_parquet_needs_a_file_and_an_unknown_format_is_refused(city: Engine, hub: Hub) -> None:
    code, _, err = hub(_url(city), "export", "entities", "--kind", "person", "--format", "parquet")
    assert code == 2 and "--output" in err
    code, _, err = hub(_url(city), "export", "entities", "--kind", "person", "--format", "xml")
    assert code == 2 and "csv, jsonl, parquet" in err
