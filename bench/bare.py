"""The 3-hop answer without the hub's API: a bare Starlette endpoint running the same SQL, as a yardstick.

bench/api.py serves it beside `hub serve` (uvicorn, two worker processes, the same database) and
drives it with the same requests, so that the hub's requests per second can be given as a share of
what the same statements and the same golden values cost with no GraphQL, no tokens, no access log
and no limits: a ratio that the speed of the machine does not move.

It answers POST /graphql with the body of bench/api.py's threeHop query (`variables.id`) and the JSON
the hub would give: the address and its text, its residents (at most 100, as the hub's default) with
their names, their legal entities with names, and those legal entities' addresses with texts. The
statements are the hub's loaders' statements, batched as a hand-written endpoint that knows the whole
answer in advance would: the links of each hop, then the members of every entity named at once, each
golden value chosen by `hub.golden` as the hub chooses it. That is 4 statements where the hub runs 5
(it also reads the address's entity row, to follow merges) and one for the token: the difference
is part of what the ratio measures.

    HUB_DATABASE_URL=sqlite:///city.db python -m uvicorn bare:app --app-dir bench --workers 2
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.domain import Kind
from hub.golden import claims_of, survive
from hub.store.database import make_engine
from hub.store.sql import driver_cursor, json_object, placeholder

_engine = make_engine(os.environ["HUB_DATABASE_URL"]) if "HUB_DATABASE_URL" in os.environ else None
_PLACES = ("lives_at", "household_registered_at")
_ROLES = ("employed_by", "legal_representative")
_COMPANY_PLACES = ("registered_at", "operates_at")
_KINDS = {"adr": Kind.ADDRESS, "per": Kind.PERSON, "leg": Kind.LEGAL_ENTITY}


def _rows(cursor: Any, mark: str, sql: str, keys: Sequence[str]) -> list[Any]:
    if not keys:
        return []
    cursor.execute(sql.replace(":keys", f"({', '.join([mark] * len(keys))})"), list(keys))
    return list(cursor.fetchall())


def _links(cursor: Any, mark: str, column: str, relations: tuple[str, ...], keys: Sequence[str]) -> list[Any]:
    names = ", ".join(f"'{r}'" for r in relations)
    return _rows(
        cursor,
        mark,
        f"SELECT id, relation, subject_id, object_id FROM link WHERE valid_to IS NULL"
        f" AND relation IN ({names}) AND {column} IN :keys ORDER BY id",
        keys,
    )


def _golden(cursor: Any, mark: str, entity_ids: Sequence[str]) -> dict[str, str | None]:
    """Each entity's name (a person's or legal entity's) or text (an address's)."""
    rows = _rows(
        cursor,
        mark,
        "SELECT m.entity_id, r.id, s.name, s.trust, r.key, r.version, v.received_at, v.features"
        " FROM membership m JOIN source_record r ON r.id = m.record_id JOIN source s ON s.id = r.source_id"
        " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
        " WHERE m.valid_to IS NULL AND m.entity_id IN :keys",
        entity_ids,
    )
    claims: dict[str, list[Any]] = {}
    for entity_id, record_id, source, trust, key, version, received_at, features in rows:
        kind = _KINDS[entity_id[:3]]
        attribute = "text" if kind == Kind.ADDRESS else "name"
        claims.setdefault(entity_id, []).extend(
            claims_of(
                kind,
                json_object(features),
                record_id=record_id,
                source=source,
                key=key,
                version=version,
                received_at=received_at,
                trust=json_object(trust),
                only=attribute,
            )
        )
    out: dict[str, str | None] = {}
    for entity_id in entity_ids:
        golden = survive(claims.get(entity_id, []))
        chosen = golden.get("text") or golden.get("name")
        out[entity_id] = chosen.value if chosen else None
    return out


def three_hop(address: str) -> dict[str, Any]:
    assert _engine is not None, "set HUB_DATABASE_URL"
    with _engine.connect() as connection, driver_cursor(connection) as cursor:
        mark = placeholder(connection)
        residents = _links(cursor, mark, "object_id", _PLACES, [address])[:100]
        people = list(dict.fromkeys(r[2] for r in residents))
        roles = _links(cursor, mark, "subject_id", _ROLES, people)
        companies = list(dict.fromkeys(r[3] for r in roles))
        places = _links(cursor, mark, "subject_id", _COMPANY_PLACES, companies)
        named = [address, *people, *companies, *dict.fromkeys(p[3] for p in places)]
        values = _golden(cursor, mark, list(dict.fromkeys(named)))
    by_company: dict[str, list[Any]] = {}
    for _, relation, subject, obj in places:
        by_company.setdefault(subject, []).append(
            {"relation": relation.upper(), "address": {"id": obj, "text": values[obj]}}
        )
    by_person: dict[str, list[Any]] = {}
    for _, relation, subject, obj in roles:
        role = "EMPLOYEE" if relation == "employed_by" else "LEGAL_REPRESENTATIVE"
        by_person.setdefault(subject, []).append(
            {
                "role": role,
                "legalEntity": {"id": obj, "name": values[obj], "addresses": by_company.get(obj, [])},
            }
        )
    return {
        "address": {
            "id": address,
            "text": values[address],
            "residents": [
                {
                    "relation": relation.upper(),
                    "person": {
                        "id": subject,
                        "name": values[subject],
                        "legalEntities": by_person.get(subject, []),
                    },
                }
                for _, relation, subject, _ in residents
            ],
        }
    }


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    data = three_hop(body["variables"]["id"])  # on the event loop, as the hub's loaders read
    return Response(orjson.dumps({"data": data}), media_type="application/json")


async def health(_request: Request) -> Response:
    return Response(b'{"status": "ok"}', media_type="application/json")


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/health", health)])
