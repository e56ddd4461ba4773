"""The hub as a federation subgraph, as a gateway calls it: `_entities` by every key, retired ids,
malformed representations, partial refusals, the gateway's role and the SDL it composes."""

from __future__ import annotations

from typing import Any

import pytest
from api_city import City, data, post
from graphql import ObjectTypeDefinitionNode, parse
from sqlalchemy.orm import Session

from hub.steward import merge_entities

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  __typename
  ... on Person { id redirectedFrom name }
  ... on Address { id redirectedFrom text doorplateCode }
  ... on LegalEntity { id redirectedFrom name uscc } } }"""


def entities(client: Any, *representations: object) -> dict[str, Any]:
    return post(client, ENTITIES, r=list(representations))


def active(city: City, kind: str, offset: int = 0) -> str:
    entity: str = city.one(
        f"SELECT id FROM entity WHERE kind = '{kind}' AND status = 'active'"
        f" ORDER BY id LIMIT 1 OFFSET {offset}"
    )
    return entity


def a_term(city: City, field: str, lookup: str, argument: str) -> tuple[str, str]:
    """A search term of `field` that `lookup` finds one entity by, and that entity's id."""
    terms = city.column(
        "SELECT DISTINCT t.term FROM search_term t JOIN search_field f ON f.id = t.field_id"
        f" WHERE f.field = '{field}' ORDER BY t.term LIMIT 50"
    )
    with city.client() as client:
        for term in terms:
            found = data(client, f"query($t: String!) {{ {lookup}({argument}: $t) {{ id }} }}", t=term)[
                lookup
            ]
            if found is not None:
                return term, found["id"]
    raise AssertionError(f"no {field} term finds an entity")


def merge(city: City, into: str, other: str) -> None:
    with Session(city.engine) as session, session.begin():
        merge_entities(session, into, None, other, None, "steward:test", "one real thing")


# --- keys -----------------------------------------------------------------------------------------


def test_an_address_is_found_by_its_doorplate_code_key(city: City) -> None:
    code, entity = a_term(city, "doorplate", "addressByDoorplateCode", "doorplateCode")
    with city.client() as client:
        body = entities(
            client,
            {"__typename": "Address", "doorplateCode": code},
            {"__typename": "Address", "doorplateCode": f" {code.lower()} "},
            {"__typename": "Address", "doorplateCode": "NO-SUCH-PLATE"},
            {"__typename": "Address", "id": entity},
        )
    assert "errors" not in body, body["errors"]
    found = body["data"]["_entities"]
    assert [f and f["id"] for f in found] == [entity, entity, None, entity]
    assert found[0]["doorplateCode"] == code and found[0]["text"]


def test_a_legal_entity_is_found_by_its_uscc_key(city: City) -> None:
    uscc, entity = a_term(city, "uscc_any", "legalEntityByUscc", "uscc")
    with city.client() as client:
        body = entities(client, {"__typename": "LegalEntity", "uscc": uscc})
    assert "errors" not in body, body["errors"]
    assert body["data"]["_entities"][0]["id"] == entity


# --- retired ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["person", "address", "legal_entity"])
def test_a_retired_id_resolves_to_its_survivor_through_entities(city: City, kind: str) -> None:
    survivor, retired = active(city, kind, 2), active(city, kind, 3)
    merge(city, survivor, retired)
    typename = {"person": "Person", "address": "Address", "legal_entity": "LegalEntity"}[kind]
    with city.client() as client:
        body = entities(
            client, {"__typename": typename, "id": retired}, {"__typename": typename, "id": survivor}
        )
    assert "errors" not in body, body["errors"]
    through_retired, direct = body["data"]["_entities"]
    assert through_retired["__typename"] == typename
    assert through_retired["id"] == survivor and through_retired["redirectedFrom"] == retired
    assert direct["id"] == survivor and direct["redirectedFrom"] is None
    assert {k: v for k, v in through_retired.items() if k != "redirectedFrom"} == {
        k: v for k, v in direct.items() if k != "redirectedFrom"
    }


def test_a_retired_id_retired_again_resolves_to_the_last_survivor(city: City) -> None:
    first, second, third = (active(city, "person", offset) for offset in (20, 21, 22))
    merge(city, second, first)
    merge(city, third, second)
    with city.client() as client:
        body = entities(client, {"__typename": "Person", "id": first})
    assert body["data"]["_entities"] == [
        {
            "__typename": "Person",
            "id": third,
            "redirectedFrom": first,
            "name": body["data"]["_entities"][0]["name"],
        }
    ]
    assert body["data"]["_entities"][0]["name"]


# --- malformed representations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("representation", "said"),
    [
        ({"id": "per_1"}, "__typename None is not an entity type"),
        ({"__typename": "Nope", "id": "per_1"}, "__typename 'Nope' is not an entity type"),
        ({"__typename": "PersonAddress", "id": "per_1"}, "not an entity type"),
        ({"__typename": "Person", "id": 42}, "id is a JSON number; give a string"),
        ({"__typename": "Person", "id": None}, "id is a JSON null"),
        ({"__typename": "Person", "id": ["per_1"]}, "id is a JSON array"),
        ({"__typename": "Person"}, "give Person by one of its keys, {id}; got []"),
        ({"__typename": "Person", "name": "王伟"}, "got ['name']"),
        ({"__typename": "Address", "doorplate_code": "3205"}, "{id} or {doorplateCode}"),
        ({"__typename": "Address", "id": "adr_1", "doorplateCode": "3205"}, "{id} or {doorplateCode}"),
        ({"__typename": "LegalEntity", "id": "leg_1", "extra": "x"}, "{id} or {uscc}"),
        (["Person", "per_1"], "representations[0] is a list"),
        ("per_1", "representations[0] is a str"),
    ],
)
def test_a_malformed_representation_is_bad_input_at_its_index_alone(
    city: City, caplog: pytest.LogCaptureFixture, representation: object, said: str
) -> None:
    person = active(city, "person")
    with city.client() as client:
        body = entities(client, representation, {"__typename": "Person", "id": person})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert error["path"] == ["_entities", 0]
    assert error["message"].startswith("_entities: representations[0]") and said in error["message"]
    refused, found = body["data"]["_entities"]
    assert refused is None and found["id"] == person  # the rest of the batch is answered
    assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text


def test_the_index_of_each_malformed_representation_is_named(city: City) -> None:
    with city.client() as client:
        body = entities(
            client,
            {"__typename": "Person", "id": active(city, "person")},
            {"__typename": "Person", "id": 1},
            {"__typename": "Address", "doorplate": "x"},
        )
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", 1], "BAD_INPUT"),
        (["_entities", 2], "BAD_INPUT"),
    ]
    assert [e["message"].split(":")[1].strip() for e in body["errors"]] == [
        "representations[1]",
        "representations[2]",
    ]


# --- connections ----------------------------------------------------------------------------------

RESIDENTS_PAGE = """query($id: ID!, $after: String) { address(id: $id) {
  residentsConnection(first: 1, after: $after) { totalCount edges { cursor }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


def test_page_info_has_the_four_relay_fields_a_shared_page_info_needs(city: City) -> None:
    address = city.one(
        "SELECT object_id FROM link WHERE relation IN ('lives_at', 'household_registered_at')"
        " AND valid_to IS NULL GROUP BY object_id HAVING count(*) >= 3 ORDER BY object_id LIMIT 1"
    )
    with city.client() as client:
        first = data(client, RESIDENTS_PAGE, id=address)["address"]["residentsConnection"]
        second = data(client, RESIDENTS_PAGE, id=address, after=first["pageInfo"]["endCursor"])["address"]
    page = second["residentsConnection"]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][0]["cursor"],
    }
    assert page["pageInfo"]["hasPreviousPage"] is True and page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"] != first["edges"][0]["cursor"]


# --- the gateway's role ---------------------------------------------------------------------------


def test_a_gateway_token_reads_the_subgraph_schema(city: City) -> None:
    with city.client(role="gateway") as gateway:
        sdl = data(gateway, "{ _service { sdl } }")["_service"]["sdl"]
        typename = data(gateway, "{ __typename }")
    assert '@key(fields: "doorplateCode")' in sdl and "type Person" in sdl
    assert typename == {"__typename": "Query"}


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ('{ person(id: "per_1") { id } }', ["person"]),
        ("{ viewer { name } }", ["viewer"]),
        (
            '{ _entities(representations: [{__typename: "Person", id: "per_1"}]) { __typename } }',
            ["_entities"],
        ),
        ("{ __schema { queryType { name } } }", ["__schema"]),
        ("{ _service { sdl } me: viewer { role } }", ["me"]),
        (
            'query { ...f } fragment f on Query { searchAddresses(text: "虞山") { score } }',
            ["searchAddresses"],
        ),
        ("{ ... on Query { reviewItems { totalCount } } }", ["reviewItems"]),
        ('mutation { undo(eventId: "1") { __typename } }', ["undo"]),
    ],
)
def test_a_gateway_token_is_refused_every_other_field(city: City, query: str, refused: list[str]) -> None:
    with city.client(role="gateway") as gateway:
        body = post(gateway, query)
    assert body["data"] is None
    assert [e["path"] for e in body["errors"]] == [[key] for key in refused]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert all("(gateway) may not read" in e["message"] for e in body["errors"])


def test_other_roles_are_not_limited_to_the_schema(city: City) -> None:
    with city.client() as reader:
        both = data(reader, "{ _service { sdl } viewer { role } }")
    assert both["viewer"] == {"role": "READER"} and both["_service"]["sdl"]


# --- partial refusals -----------------------------------------------------------------------------


def refused_paths(body: dict[str, Any]) -> list[list[str | int]]:
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}, body["errors"]
    return sorted(e["path"] for e in body["errors"])


def test_a_scope_refusal_empties_the_refused_list_not_the_person(city: City) -> None:
    person = city.one("SELECT subject_id FROM link WHERE relation = 'lives_at' ORDER BY subject_id LIMIT 1")
    query = """query($id: ID!) { person(id: $id) { id name idNumber addresses { relation }
      legalEntities { role } } }"""
    with city.client("person") as client:
        body = post(client, query, id=person)
    found = body["data"]["person"]
    assert found["id"] == person and found["name"] and found["idNumber"]
    # The contract's lists are non-null: refused, they are empty, with the refusal at their path.
    assert found["addresses"] == [] and found["legalEntities"] == []
    assert refused_paths(body) == [["person", "addresses"], ["person", "legalEntities"]]
    with city.client() as reader:  # a client that may read addresses finds them there
        assert post(reader, query, id=person)["data"]["person"]["addresses"]


def test_a_scope_refusal_inside_entities_keeps_the_entity_for_the_gateway(city: City) -> None:
    person = city.one("SELECT subject_id FROM link WHERE relation = 'lives_at' ORDER BY subject_id LIMIT 1")
    query = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Person { id name
      addresses { address { id } } } } }"""
    with city.client("person") as client:
        body = post(client, query, r=[{"__typename": "Person", "id": person}])
    [found] = body["data"]["_entities"]
    assert found == {"id": person, "name": found["name"], "addresses": []} and found["name"]
    assert refused_paths(body) == [["_entities", 0, "addresses"]]


def test_scope_refusals_on_an_address_and_a_legal_entity_touch_those_fields_only(city: City) -> None:
    address = city.one(
        "SELECT object_id FROM link WHERE relation = 'registered_at' ORDER BY object_id LIMIT 1"
    )
    company = city.one(
        "SELECT subject_id FROM link WHERE relation = 'registered_at' ORDER BY subject_id LIMIT 1"
    )
    query = """query($a: ID!, $l: ID!) {
      address(id: $a) { id text residents { relation } residentsConnection { totalCount }
        legalEntities { relation } legalEntitiesConnection { totalCount } }
      legalEntity(id: $l) { id name addresses { relation } } }"""
    with city.client("address") as client:
        body = post(client, query, a=address, l=company)
    found = body["data"]["address"]
    assert found["id"] == address and found["text"]
    assert [found[f] for f in ("residents", "legalEntities")] == [[], []]
    assert [found[f] for f in ("residentsConnection", "legalEntitiesConnection")] == [None, None]
    assert body["data"]["legalEntity"] is None  # a kind outside the scope is refused whole
    assert refused_paths(body) == [
        ["address", "legalEntities"],
        ["address", "legalEntitiesConnection"],
        ["address", "residents"],
        ["address", "residentsConnection"],
        ["legalEntity"],
    ]
    with city.client("legal_entity") as client:
        body = post(
            client,
            "query($l: ID!) { legalEntity(id: $l) { id name addresses { relation }"
            " employees { totalCount } legalRepresentative { id } } }",
            l=company,
        )
    found = body["data"]["legalEntity"]
    assert found["id"] == company and found["addresses"] == [] and found["employees"] is None
    assert ["legalEntity", "addresses"] in refused_paths(body)


def test_a_role_refusal_nulls_history_and_judgements_only(city: City) -> None:
    person = active(city, "person", 30)
    query = """query($id: ID!) { person(id: $id) { id name history { action }
      sourceRecords { key judgements { decision } } } }"""
    with city.client() as reader:
        body = post(reader, query, id=person)
    found = body["data"]["person"]
    assert found["id"] == person and found["name"] and found["history"] is None
    assert found["sourceRecords"] and all(
        r["key"] and r["judgements"] is None for r in found["sourceRecords"]
    )
    paths = refused_paths(body)
    assert paths[0] == ["person", "history"]
    assert paths[1:] == [
        ["person", "sourceRecords", i, "judgements"] for i in range(len(found["sourceRecords"]))
    ]
    with city.client(role="steward") as steward:
        allowed = data(steward, query, id=person)["person"]
    assert isinstance(allowed["history"], list) and isinstance(
        allowed["sourceRecords"][0]["judgements"], list
    )


# --- the SDL a gateway composes -------------------------------------------------------------------


def test_the_served_sdl_links_federation_2_0_with_shared_page_info_and_inaccessible_steward_fields(
    city: City,
) -> None:
    with city.client(role="gateway") as gateway:
        sdl = data(gateway, "{ _service { sdl } }")["_service"]["sdl"]
    assert 'specs.apollo.dev/federation/v2.0", import: ["@inaccessible", "@key", "@shareable"]' in sdl
    assert "type PageInfo @shareable" in sdl
    assert "reviewItems(" in sdl and "mergeEntities(" in sdl
    (mutation,) = [
        d
        for d in parse(sdl).definitions
        if isinstance(d, ObjectTypeDefinitionNode) and d.name.value == "Mutation"
    ]
    open_fields = {
        f.name.value
        for f in mutation.fields or ()
        if not any(d.name.value == "inaccessible" for d in f.directives or ())
    }
    assert open_fields == {"submitRecords"}  # stewards' mutations are inaccessible, a department's own is not
    assert "history: [EntityChange!] @inaccessible" in sdl


def test_the_hub_itself_still_serves_the_inaccessible_fields_to_stewards(city: City) -> None:
    person = active(city, "person", 40)
    query = """query($id: ID!) { reviewItems(first: 1) { totalCount }
      person(id: $id) { history { action } sourceRecords { judgements { decision } } } }"""
    with city.client(role="steward") as steward:
        found = data(steward, query, id=person)
    assert found["reviewItems"]["totalCount"] > 0 and isinstance(found["person"]["history"], list)
    with city.client() as reader:
        refused = post(reader, "{ reviewItems(first: 1) { totalCount } }")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
