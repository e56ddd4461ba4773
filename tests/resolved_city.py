"""A small generated city, ingested and resolved: what the API and console tests run against.

Building one takes seconds (generating, ingesting, resolving, linking), and most test modules want
one of their own to change as they please. So each test process builds a city once per backend and
size, and every caller gets a copy of it: a copy of the SQLite file, or a PostgreSQL database made
from it as a template. The copies are dropped when the caller's fixture ends.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.generate import generate_city
from hub.ingest import ingest_file, ingest_records
from hub.resolve.batch import resolve_kinds
from hub.resolve.links import link_entities
from hub.store.database import make_engine
from hub.store.migrations import upgrade
from hub.store.models import Source


@dataclass(frozen=True)
class _Built:
    url: str  # the city's database: an SQLite file, or a PostgreSQL database used only as a template
    files: Path  # the generated exports it was ingested from


_built: dict[tuple[str, int], _Built] = {}  # this process's cities, by backend and persons


def resolved_city(
    request: pytest.FixtureRequest, directory: Path, persons: int = 800, backend: str | None = None
) -> Engine:
    """An engine on a new database of `backend` (else `request.param`'s) holding a resolved city of
    `persons`, with the exports it came from in `directory / "files"`. The database is the caller's to
    change; it is dropped when the requesting fixture or test ends."""
    backend = backend or request.param
    key = (backend, persons)
    if key not in _built:
        place = request.getfixturevalue("tmp_path_factory").mktemp(f"city-{backend}-{persons}")
        _built[key] = _build(request, backend, persons, place)
        if backend != "sqlite":
            request.getfixturevalue("city_templates")  # dropped at the session's end
    built = _built[key]
    shutil.copytree(built.files, directory / "files")
    if backend == "sqlite":
        path = directory / "hub.db"
        shutil.copyfile(make_url(built.url).database or "", path)
        return make_engine(f"sqlite:///{path}")
    name = f"hub_city_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(built.url).database}"')
    request.addfinalizer(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return make_engine(make_url(built.url).set(database=name).render_as_string(hide_password=False))


def drop_templates() -> None:
    """Drop this process's PostgreSQL cities (`city_templates` in tests/conftest.py, at the end)."""
    for built in _built.values():
        if not built.url.startswith("sqlite"):
            _admin(f'DROP DATABASE IF EXISTS "{make_url(built.url).database}" WITH (FORCE)')


def _admin(statement: str) -> None:
    admin = create_engine(os.environ["HUB_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def _build(request: pytest.FixtureRequest, backend: str, persons: int, directory: Path) -> _Built:
    if backend == "sqlite":
        path = directory / "hub.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        name = f"hub_city_template_{uuid.uuid4().hex[:10]}"
        _admin(f'CREATE DATABASE "{name}"')
        server = make_url(os.environ["HUB_TEST_POSTGRES_URL"])
        url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    if backend != "sqlite":
        upgrade(engine)
    manifest = generate_city(persons, 5, directory / "files")
    assert manifest.files
    for f in json.loads((directory / "files" / "manifest.json").read_text())["files"]:
        ingest_file(
            engine,
            directory / "files" / f["path"],
            f["source"],
            Kind(f["kind"]),
            encoding=f["encoding"],
            workers=0,
        )
    with Session(engine) as session, session.begin():
        # Family members a rental clerk wrote at a registered person's flat and phone, under another name
        # and without an ID: pairs no model should decide, so the stewards' queue always has some.
        ingest_records(session, "rental_registry", Kind.PERSON, _relatives(directory / "files"))
    with Session(engine) as session, session.begin():
        for source in session.scalars(select(Source)):
            if source.name == "household_registry":
                source.trust = {"*": 90}
    list(resolve_kinds(engine, list(Kind)))
    with Session(engine) as session, session.begin():
        link_entities(session)
    if backend == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()  # a template has no connections
    return _Built(url, directory / "files")


def _relatives(files: Path) -> list[dict[str, str]]:
    relatives = []
    with (files / "household_registry_person.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            person = json.loads(line)
            if person.get("phone") and person.get("registered_address"):
                relatives.append(
                    {
                        "key": f"relative-of-{person['key']}",
                        "name": person["name"][0] + "晓燕",
                        "phone": person["phone"],
                        "address": person["registered_address"],
                        "registered_address": person["registered_address"],
                    }
                )
            if len(relatives) == 6:
                break
    return relatives
