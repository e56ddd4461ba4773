"""The API departmental systems use, through HTTP, on a small resolved city: the contract queries,
masking per scope, refused tokens, limits, error codes, the access log and the statement count."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from api_city import City, data, post
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app
from hub.api.pagination import link_cursor
from hub.clients import revoke_client
from hub.store.models import AccessLog, Client

PERSON = """query($id: ID!) { person(id: $id) { id redirectedFrom name idNumber birthDate gender phone
  addresses { relation address { id text } } legalEntities { role legalEntity { id name } }
  sourceRecords { source kind key entityId } } }"""
THREE_HOPS = """query($id: ID!) { address(id: $id) { id text residents { relation person { id name
  legalEntities { role legalEntity { id name addresses { relation address { id text } } } } } } } }"""


def a_person_with_an_id_number(city: City) -> tuple[str, str]:
    """An active person entity and the valid ID number of one of its records."""
    row = city.one(
        "SELECT m.entity_id || '|' || r.key FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id WHERE m.valid_to IS NULL AND s.name = 'household_registry'"
        " ORDER BY r.id LIMIT 1"
    )
    entity, _key = row.split("|")
    with city.client("pii:read") as client:
        person = data(client, PERSON, id=entity)["person"]
    return entity, person["idNumber"]


def test_person_by_id_shows_golden_values_relations_and_records(city: City) -> None:
    entity, id_number = a_person_with_an_id_number(city)
    with city.client("pii:read") as client:
        person = data(client, PERSON, id=entity)["person"]
    assert person["id"] == entity and person["redirectedFrom"] is None
    assert len(id_number) == 18 and person["gender"] in ("男", "女")
    assert person["birthDate"] == f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
    assert {r["entityId"] for r in person["sourceRecords"]} == {entity}
    assert "household_registry" in {r["source"] for r in person["sourceRecords"]}
    assert any(a["relation"] == "LIVES_AT" for a in person["addresses"])


def test_masking_follows_the_clients_scope(city: City) -> None:
    entity, id_number = a_person_with_an_id_number(city)
    with city.client() as client:
        masked = data(client, PERSON, id=entity)["person"]
    assert masked["idNumber"] == id_number[:6] + "********" + id_number[-4:]
    assert masked["birthDate"].endswith("-**-**")
    assert masked["phone"] is None or "****" in masked["phone"]
    with city.client("pii:read") as client:
        whole = data(client, PERSON, id=entity)["person"]
    assert whole["idNumber"] == id_number and "*" not in whole["birthDate"]


def test_personal_reads_are_written_to_the_access_log(city: City) -> None:
    entity, _ = a_person_with_an_id_number(city)
    with city.client("pii:read") as client:
        client.post(
            "/graphql",
            json={
                "query": "query Lookup($id: ID!) { person(id: $id) { idNumber phone } }",
                "variables": {"id": entity},
            },
            headers={"x-purpose": "case"},
        )
        viewer = data(client, "{ viewer { name } }")["viewer"]["name"]
    with Session(city.engine) as session:
        client_id = session.scalar(select(Client.id).where(Client.name == viewer))
        [row] = session.scalars(select(AccessLog).where(AccessLog.client_id == client_id)).all()
    assert row.entity_ids == [entity] and "idNumber" in row.fields
    assert row.operation_name == "Lookup" and row.purpose == "case"
    with city.client() as client:  # masked values are logged as such
        data(client, PERSON, id=entity)
        viewer = data(client, "{ viewer { name } }")["viewer"]["name"]
    with Session(city.engine) as session:
        client_id = session.scalar(select(Client.id).where(Client.name == viewer))
        [row] = session.scalars(select(AccessLog).where(AccessLog.client_id == client_id)).all()
    assert "idNumber:masked" in row.fields


def test_a_client_sees_only_the_kinds_in_its_scope(city: City) -> None:
    entity, _ = a_person_with_an_id_number(city)
    with city.client("person") as client:
        assert data(client, "query($id: ID!) { person(id: $id) { name } }", id=entity)["person"]["name"]
        body = post(
            client, "query($id: ID!) { person(id: $id) { addresses { address { text } } } }", id=entity
        )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with city.client("address") as client:
        body = post(client, "query($id: ID!) { person(id: $id) { name } }", id=entity)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("header", [None, "Bearer hub_not-a-token", "Basic abc"])
def test_requests_without_a_live_token_are_refused(city: City, header: str | None) -> None:
    client = TestClient(create_app(city.engine), headers={"Authorization": header} if header else {})
    with client:
        response = client.post("/graphql", json={"query": "{ viewer { name } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_revoked_token_is_refused_from_the_next_request(city: City) -> None:
    with city.client() as client:
        name = data(client, "{ viewer { name } }")["viewer"]["name"]
        with Session(city.engine) as session, session.begin():
            revoke_client(session, name)
        response = client.post("/graphql", json={"query": "{ viewer { name } }"})
    assert response.status_code == 401


def test_contract_queries_answer(city: City) -> None:
    address = city.one("SELECT object_id FROM link WHERE relation = 'lives_at' AND valid_to IS NULL LIMIT 1")
    company = city.one("SELECT id FROM entity WHERE kind = 'legal_entity' AND status = 'active' LIMIT 1")
    source, key = city.one(
        "SELECT s.name || '|' || r.key FROM source_record r JOIN source s ON s.id = r.source_id"
        " WHERE r.kind = 'address' LIMIT 1"
    ).split("|")
    with city.client() as client:
        found = data(
            client, "query($id: ID!) { address(id: $id) { id text residents { person { id } } } }", id=address
        )
        assert found["address"]["text"] and found["address"]["residents"]
        legal = data(
            client,
            "query($id: ID!) { legalEntity(id: $id) { id name uscc legalRepresentative { id }"
            " addresses { relation address { id } } sourceRecords { key } } }",
            id=company,
        )["legalEntity"]
        assert legal["id"] == company and legal["name"] and legal["sourceRecords"]
        record = data(
            client,
            "query($s: String!, $k: String!) {"
            " sourceRecord(source: $s, kind: ADDRESS, key: $k) { entityId } }",
            s=source,
            k=key,
        )["sourceRecord"]
        assert record["entityId"].startswith("adr_")
        node = data(client, "query($id: ID!) { node(id: $id) { __typename id } }", id=company)["node"]
        assert node == {"__typename": "LegalEntity", "id": company}
        assert data(client, '{ person(id: "per_nothing") { id } }') == {"person": None}


def test_search_persons_finds_homophones_and_traditional_characters(city: City) -> None:
    entity, id_number = a_person_with_an_id_number(city)
    with city.client("pii:read") as client:
        name = data(client, "query($id: ID!) { person(id: $id) { name } }", id=entity)["person"]["name"]
        query = (
            "query($n: String, $i: String) {"
            " searchPersons(name: $n, idNumber: $i, first: 50) { score person { id } } }"
        )
        by_name = data(client, query, n=name)["searchPersons"]
        assert entity in [m["person"]["id"] for m in by_name] and by_name[0]["score"] == 1.0
        by_id = data(client, query, i=id_number)["searchPersons"]
        assert by_id[0]["person"]["id"] == entity
        traditional = {"伟": "偉", "华": "華", "国": "國", "军": "軍", "红": "紅", "丽": "麗", "东": "東"}
        written = "".join(traditional.get(c, c) for c in name)
        assert entity in [m["person"]["id"] for m in data(client, query, n=written)["searchPersons"]]
        mine = data(client, query, n=name, i=id_number)["searchPersons"]
        assert mine[0]["person"]["id"] == entity and mine[0]["score"] == 1.0
        born = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
        by_birth = data(
            client,
            "query($n: String, $b: String) {"
            " searchPersons(name: $n, birthDate: $b) { score person { id } } }",
            n=name,
            b=born,
        )["searchPersons"]
        assert by_birth[0]["person"]["id"] == entity and by_birth[0]["score"] == 1.0


def test_search_addresses_parses_shorthand(city: City) -> None:
    text = city.one(
        "SELECT v.payload FROM record_version v JOIN source_record r ON r.id = v.record_id"
        " JOIN source s ON s.id = r.source_id WHERE s.name = 'doorplate_platform' ORDER BY r.id LIMIT 1"
    )
    import json
    import re

    full = json.loads(text) if isinstance(text, str) else text
    m = re.search(
        r"([^路街号]+?(?:花园|小区|新村|家园|公寓|苑))(\d+)幢(?:(\d+)单元)?(\d+)室$", full["address"]
    )
    if m is None:
        pytest.skip(f"the first doorplate is not a flat in a compound: {full['address']}")
    compound, building, unit, room = m.groups()
    short = f"{compound}{building}-{unit}-{room}" if unit else f"{compound}{building}-{room}"
    with city.client() as client:
        found = data(
            client,
            "query($t: String!) { searchAddresses(text: $t) { score address { text doorplateCode } } }",
            t=short,
        )["searchAddresses"]
    assert found and found[0]["score"] >= 0.9
    assert found[0]["address"]["doorplateCode"] == full["doorplate_code"]


def test_search_legal_entities_by_name_and_code(city: City) -> None:
    company = city.one("SELECT id FROM entity WHERE kind = 'legal_entity' AND status = 'active' LIMIT 1")
    with city.client() as client:
        legal = data(client, "query($id: ID!) { legalEntity(id: $id) { name uscc } }", id=company)[
            "legalEntity"
        ]
        query = (
            "query($n: String, $u: String) {"
            " searchLegalEntities(name: $n, uscc: $u) { score legalEntity { id } } }"
        )
        by_name = data(client, query, n=legal["name"])["searchLegalEntities"]
        assert by_name[0]["legalEntity"]["id"] == company and by_name[0]["score"] == 1.0
        by_code = data(client, query, u=legal["uscc"].lower())["searchLegalEntities"]
        assert by_code[0]["legalEntity"]["id"] == company
        found = data(client, "query($u: String!) { legalEntityByUscc(uscc: $u) { id } }", u=legal["uscc"])
        assert found["legalEntityByUscc"]["id"] == company


def test_lookup_by_id_number_and_doorplate_code(city: City) -> None:
    entity, id_number = a_person_with_an_id_number(city)
    code, address = city.one(
        "SELECT t.term || '|' || m.entity_id FROM search_term t JOIN search_field f ON f.id = t.field_id"
        " JOIN membership m ON m.record_id = t.record_id AND m.valid_to IS NULL"
        " WHERE f.field = 'doorplate' LIMIT 1"
    ).split("|")
    with city.client("pii:lookup") as client:
        found = data(client, "query($i: String!) { personByIdNumber(idNumber: $i) { id } }", i=id_number)
        assert found["personByIdNumber"]["id"] == entity
        found = data(
            client, "query($c: String!) { addressByDoorplateCode(doorplateCode: $c) { id } }", c=code
        )
        assert found["addressByDoorplateCode"]["id"] == address


def test_a_retired_id_gives_the_survivor_and_says_so(city: City) -> None:
    retired, survivor = city.one(
        "SELECT id || '|' || merged_into_id FROM entity WHERE kind = 'person' AND status = 'merged' LIMIT 1"
    ).split("|")
    with city.client() as client:
        person = data(client, "query($id: ID!) { person(id: $id) { id redirectedFrom } }", id=retired)[
            "person"
        ]
    assert person == {"id": survivor, "redirectedFrom": retired}


def test_lineage_names_every_source_value_and_the_rule(city: City) -> None:
    entity, _ = a_person_with_an_id_number(city)
    with city.client() as client:
        lineage = data(
            client,
            "query($id: ID!) { person(id: $id) {"
            " lineage { field value rule values { value original chosen source trust } } } }",
            id=entity,
        )["person"]["lineage"]
    fields = {f["field"]: f for f in lineage}
    # The original text as the source sent it: the normalized value reads it (here, the same name).
    assert all(
        v["original"] and v["value"] in v["original"].replace(" ", "") for v in fields["name"]["values"]
    )
    assert all(v["original"] and "*" in v["original"] for v in fields["id_number"]["values"])
    name = fields["name"]
    assert name["rule"].startswith("a steward's value first, then valid values")
    assert any(v["chosen"] and v["value"] == name["value"] for v in name["values"])
    assert {v["source"] for v in name["values"] if v["trust"] == 90} <= {"household_registry"}
    assert all("*" in v["value"] for v in fields["id_number"]["values"])  # masked here too


def test_match_scores_an_unsaved_record_and_writes_nothing(city: City) -> None:
    entity, id_number = a_person_with_an_id_number(city)
    before = city.one("SELECT count(*) FROM source_record")
    with city.client("pii:read") as client:
        person = data(client, "query($id: ID!) { person(id: $id) { name birthDate } }", id=entity)["person"]
        found = data(
            client,
            "query($r: PersonRecordInput!) { match(record: {person: $r}) { entity { id } score wouldJoin"
            " explanation { comparison level weight } } }",
            r={"name": person["name"], "idNumber": id_number, "birthDate": person["birthDate"]},
        )["match"]
    assert found[0]["entity"]["id"] == entity and found[0]["wouldJoin"] and found[0]["score"] > 0.99
    steps = {s["comparison"]: s["level"] for s in found[0]["explanation"]}
    assert steps["id"] == "same" and steps["name"] == "same"
    assert city.one("SELECT count(*) FROM source_record") == before


def test_federation_resolves_references_in_one_batch(city: City) -> None:
    ids = [
        city.one(
            "SELECT id FROM entity WHERE kind = 'person' AND status = 'active'"
            f" ORDER BY id LIMIT 1 OFFSET {i}"
        )
        for i in range(3)
    ]
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Person { id name } } }"
    with city.client() as client:
        found = data(client, query, r=[{"__typename": "Person", "id": i} for i in ids])["_entities"]
    assert [f["id"] for f in found] == ids and all(f["name"] for f in found)


def test_limits_refuse_deep_wide_and_huge_queries(city: City) -> None:
    deep = (
        '{ person(id: "x") { '
        + "addresses { address { residents { person { " * 4
        + "id"
        + " } } } }" * 4
        + " } }"
    )
    aliases = "{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(40)) + " }"
    huge = "{ " + " ".join("viewer { name }" for _ in range(700)) + " }"  # over 2,000 tokens
    with city.client() as client:
        for query in (deep, aliases, huge):
            body = post(client, query)
            assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", body
        body = post(client, '{ searchPersons(name: "王伟", first: 1000) { score } }')
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        address = city.one("SELECT id FROM entity WHERE kind = 'address' AND status = 'active' LIMIT 1")
        body = post(
            client,
            "query($id: ID!) { address(id: $id) { residentsConnection(first: 501) { totalCount } } }",
            id=address,
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_connections_page_with_a_total(city: City) -> None:
    address = city.one(
        "SELECT object_id FROM link WHERE relation IN ('lives_at', 'household_registered_at')"
        " AND valid_to IS NULL GROUP BY object_id HAVING count(*) >= 3 LIMIT 1"
    )
    query = """query($id: ID!, $after: String) { address(id: $id) {
      residentsConnection(first: 2, after: $after) {
        totalCount edges { cursor node { person { id } } } pageInfo { hasNextPage endCursor } } } }"""
    seen: list[str] = []
    after = None
    with city.client() as client:
        while True:
            page = data(client, query, id=address, after=after)["address"]["residentsConnection"]
            seen += [e["node"]["person"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(seen) == page["totalCount"] >= 3
        body = post(client, query, id=address, after="bm90LWEtY3Vyc29y")
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert seen == city.column(
        "SELECT subject_id FROM link WHERE object_id = :id AND valid_to IS NULL"
        " AND relation IN ('lives_at', 'household_registered_at') ORDER BY id",
        id=address,
    )


def test_the_employees_of_many_legal_entities_page_in_one_query(city: City) -> None:
    """Each legal entity's page is cut by the database, for all of them at once: the same people in
    the same order as the links, the right totals, and an empty page past the end."""
    companies = city.column(
        "SELECT object_id FROM link WHERE relation = 'employed_by' AND valid_to IS NULL"
        " GROUP BY object_id HAVING count(*) >= 2 ORDER BY count(*) DESC, object_id LIMIT 5"
    )
    assert len(companies) >= 2
    fields = """employees(first: 1, after: %s) { totalCount edges { cursor node { person { id } } }
      pageInfo { hasNextPage hasPreviousPage endCursor } }"""

    def asked(afters: list[str | None]) -> dict[str, Any]:
        """One query for every company's page, each after its own cursor."""
        aliases = " ".join(
            f'c{i}: legalEntity(id: "{c}") {{ {fields % (json.dumps(a) if a else "null")} }}'
            for i, (c, a) in enumerate(zip(companies, afters, strict=True))
        )
        with city.client() as client:
            return data(client, "{ " + aliases + " }")

    first = asked([None] * len(companies))
    second = asked([first[f"c{i}"]["employees"]["pageInfo"]["endCursor"] for i in range(len(companies))])
    beyond = asked([link_cursor(2**62)] * len(companies))
    pages = [first, second, beyond]
    for i, company in enumerate(companies):
        page, next_page, empty = (p[f"c{i}"] for p in pages)
        employed = city.column(
            "SELECT subject_id FROM link WHERE object_id = :id AND relation = 'employed_by'"
            " AND valid_to IS NULL ORDER BY id",
            id=company,
        )
        assert page["employees"]["totalCount"] == len(employed) == empty["employees"]["totalCount"]
        assert [e["node"]["person"]["id"] for e in page["employees"]["edges"]] == employed[:1]
        assert [e["node"]["person"]["id"] for e in next_page["employees"]["edges"]] == employed[1:2]
        assert page["employees"]["pageInfo"]["hasNextPage"]
        assert not page["employees"]["pageInfo"]["hasPreviousPage"]
        assert next_page["employees"]["pageInfo"]["hasPreviousPage"]
        assert empty["employees"]["edges"] == []
        assert not empty["employees"]["pageInfo"]["hasNextPage"]


def _statements(city: City, client: TestClient, query: str, **variables: Any) -> tuple[int, dict[str, Any]]:
    count = 0

    def counter(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(city.engine, "before_cursor_execute", counter)
    try:
        result = data(client, query, **variables)
    finally:
        event.remove(city.engine, "before_cursor_execute", counter)
    return count, result


def test_the_three_hop_query_costs_the_same_statements_for_many_results_as_for_few(city: City) -> None:
    inner = (
        "SELECT l.object_id, count(*) AS n FROM link l"
        " JOIN link w ON w.subject_id = l.subject_id AND w.valid_to IS NULL"
        " AND w.relation IN ('employed_by', 'legal_representative')"
        " WHERE l.relation = 'lives_at' AND l.valid_to IS NULL GROUP BY l.object_id"
    )
    joined = (
        "string_agg(object_id, ',')"
        if city.engine.dialect.name == "postgresql"
        else "group_concat(object_id)"
    )
    rows = city.one(f"SELECT {joined} FROM ({inner} ORDER BY n, l.object_id) AS t").split(",")
    with city.client() as client:
        measured = []
        for address in dict.fromkeys(rows[:5] + rows[-5:]):
            count, result = _statements(city, client, THREE_HOPS, id=address)
            people = result["address"]["residents"]
            companies = [c for p in people for c in p["person"]["legalEntities"]]
            places = [a for c in companies for a in c["legalEntity"]["addresses"]]
            measured.append((len(people) + len(companies) + len(places), bool(places), count))
    sizes = {size for size, _, _ in measured}
    assert len(sizes) > 1, measured  # few and many results
    for reaches_places in (False, True):
        counts = {count for _, places, count in measured if places == reaches_places}
        assert len(counts) <= 1, measured  # the same statements however many results
    assert max(count for *_, count in measured) <= 12, measured


def test_unexpected_errors_are_masked_and_logged_once_and_expected_ones_not_logged(
    city: City, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    entity, _ = a_person_with_an_id_number(city)

    def broken(self: object, sql: str, keys: list[str], rows: object = ()) -> list[object]:
        raise RuntimeError("disk on fire at /var/lib/secret")

    with city.client(role="reader") as client:
        caplog.clear()
        body = post(client, "{ auditEvents { totalCount } }")
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # an answer, not an incident

        monkeypatch.setattr("hub.api.loaders.Loaders._rows", broken)  # every read, ahead or loaded
        caplog.clear()
        body = post(client, "query($id: ID!) { person(id: $id) { name } }", id=entity)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and "fire" not in error["message"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "disk on fire" in str(logged[0].exc_info[1])


def test_every_time_carries_its_zone_and_can_be_passed_back_as_as_of(city: City) -> None:
    # SQLite keeps no zone: times read from it once came back naive, and asOf refuses a naive time.
    entity, _ = a_person_with_an_id_number(city)
    query = """query($id: ID!) { person(id: $id) { updatedAt history { at }
      sourceRecords { firstSeenAt lastSeenAt receivedAt judgements { createdAt } } } }"""
    with city.client(role="steward") as client:
        person = data(client, query, id=entity)["person"]
        times = [person["updatedAt"], *(h["at"] for h in person["history"])]
        for record in person["sourceRecords"]:
            times += [record["firstSeenAt"], record["lastSeenAt"], record["receivedAt"]]
            times += [j["createdAt"] for j in record["judgements"]]
        assert times and all(t.endswith("+00:00") for t in times), times
        again = data(
            client,
            "query($id: ID!, $at: DateTime) { person(id: $id, asOf: $at) { id } }",
            id=entity,
            at=person["updatedAt"],
        )
        assert again["person"]["id"] == entity
