"""Lookups by personal identifiers are personal-data reads: they need a PII scope, are rate limited per
client, are written to the access log with the value hashed, and `match` does not reveal partial
agreement of a personal value to a client that may not see it."""

from __future__ import annotations

from typing import Any

from api_city import City, data, post
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.normalize.identifiers import resident_id_check_char
from hub.store.models import AccessLog, Client

NOBODY = "11010119000101001" + resident_id_check_char("11010119000101001")  # valid, held by no one

PERSON = "query($id: ID!) { person(id: $id) { name idNumber phone birthDate } }"
BY_ID = "query($i: String!) { personByIdNumber(idNumber: $i) { id idNumber } }"
SEARCH = (
    "query($n: String, $i: String, $b: String, $p: String) {"
    " searchPersons(name: $n, idNumber: $i, birthDate: $b, phone: $p) { score person { id } } }"
)
MATCH = (
    "query($r: PersonRecordInput!) { match(record: {person: $r}) { entity { id } score weight"
    " explanation { comparison level weight } } }"
)


def _a_person(city: City) -> tuple[str, dict[str, Any]]:
    """An active person with an ID number, a phone and a birth date, as a pii:read client sees it."""
    entity = city.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id WHERE m.valid_to IS NULL AND s.name = 'household_registry'"
        " ORDER BY r.id LIMIT 1"
    )
    with city.client("pii:read") as client:
        person = data(client, PERSON, id=entity)["person"]
    return entity, person


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def test_a_reader_without_a_pii_scope_searches_by_name_and_address_only(city: City) -> None:
    entity, person = _a_person(city)
    with city.client() as client:
        assert _code(post(client, BY_ID, i=person["idNumber"])) == "FORBIDDEN"
        assert _code(post(client, SEARCH, p=person["phone"] or "13900000000")) == "FORBIDDEN"
        assert _code(post(client, SEARCH, n=person["name"], b=person["birthDate"])) == "FORBIDDEN"
        assert _code(post(client, SEARCH, i=person["idNumber"])) == "FORBIDDEN"
        record = {"name": person["name"], "idNumber": person["idNumber"]}
        assert _code(post(client, MATCH, r=record)) == "FORBIDDEN"
        by_name = data(client, SEARCH, n=person["name"])["searchPersons"]
        assert entity in [m["person"]["id"] for m in by_name]
        assert data(client, MATCH, r={"name": person["name"]})["match"]


def test_a_lookup_client_finds_by_id_number_sees_it_masked_and_is_logged_hashed(city: City) -> None:
    entity, person = _a_person(city)
    with city.client("pii:lookup") as client:
        found = data(client, BY_ID, i=person["idNumber"])["personByIdNumber"]
        missing = data(client, BY_ID, i=NOBODY)["personByIdNumber"]
        viewer = data(client, "{ viewer { name } }")["viewer"]["name"]
    assert found["id"] == entity and found["idNumber"] != person["idNumber"] and "*" in found["idNumber"]
    assert missing is None
    with Session(city.engine) as session:
        client_id = session.scalar(select(Client.id).where(Client.name == viewer))
        rows = session.scalars(select(AccessLog).where(AccessLog.client_id == client_id)).all()
    # both lookups are reads of personal data, the one that found nothing too; neither keeps the value
    assert len(rows) == 2
    for row in rows:
        stored = repr([getattr(row, c.key) for c in AccessLog.__table__.columns])
        assert person["idNumber"] not in stored and NOBODY not in stored
    assert all(row.lookups and row.lookups[0]["argument"] == "idNumber" for row in rows), rows[0].lookups


def test_lookups_by_personal_identifiers_are_rate_limited_per_client(city: City) -> None:
    _, person = _a_person(city)
    # 30 aliases in one operation: the masked-number attack tries candidates this way
    aliases = " ".join(
        f'a{n}: personByIdNumber(idNumber: "{person["idNumber"][:-1]}{n % 10}") {{ id }}' for n in range(30)
    )
    with city.client("pii:lookup") as client:
        body = post(client, f"{{ {aliases} }}")
        refused = [e for e in body.get("errors", []) if e["extensions"]["code"] == "RATE_LIMITED"]
        # a burst of 10, then refused (one more may pass if a token refills meanwhile)
        assert 19 <= len(refused) <= 20, body.get("errors")
        assert all(e["extensions"]["retryAfter"] >= 1 for e in refused)  # when to try again
        assert _code(post(client, BY_ID, i=person["idNumber"])) == "RATE_LIMITED"
    with city.client("pii:lookup") as other:  # another client has a bucket of its own
        assert data(other, BY_ID, i=person["idNumber"])["personByIdNumber"] is not None


def test_match_shows_partial_agreement_of_personal_values_only_to_pii_readers(city: City) -> None:
    entity, person = _a_person(city)
    number = person["idNumber"]
    typo = number[:14] + ("1" if number[14] != "1" else "2") + number[15:]  # one digit off
    record = {"name": person["name"], "idNumber": typo}
    with city.client("pii:read") as client:
        seen = data(client, MATCH, r=record)["match"]
    with city.client("pii:lookup") as client:
        blind = data(client, MATCH, r=record)["match"]
    step = {s["comparison"]: s for s in next(m for m in seen if m["entity"]["id"] == entity)["explanation"]}
    assert step["id"]["level"] == "one typo"
    assert entity in [m["entity"]["id"] for m in blind]
    for candidate in blind:  # no personal comparison says more than same or not, in level or weight
        for shown in candidate["explanation"]:
            if shown["comparison"] in {"id", "phone", "birth_date"}:
                assert shown["level"] in {"same", "different", "missing"}, shown
                assert shown["level"] == "same" or shown["weight"] <= 0, shown
