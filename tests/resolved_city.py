"""A small generated city, ingested and resolved: what the API and console tests run against."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from emptied import truncate_all
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.generate import generate_city
from hub.ingest import ingest_file, ingest_records
from hub.resolve.batch import resolve_kinds
from hub.resolve.links import link_entities
from hub.store.database import make_engine
from hub.store.models import Source


def resolved_city(
    request: pytest.FixtureRequest, directory: Path, persons: int = 800, backend: str | None = None
) -> Engine:
    """An engine on a new database of `backend` (else `request.param`'s) holding a resolved city of
    `persons`."""
    backend = backend or request.param
    if backend == "sqlite":
        path = directory / "hub.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    if backend != "sqlite":
        truncate_all(engine)
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
    return engine


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
