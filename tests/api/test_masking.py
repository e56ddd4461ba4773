"""Personal fields are masked by what they mean, for every kind and everywhere a value surfaces (golden
values, lineage with original texts, payloads and features, match candidates, review items, overrides,
history, asOf), whatever the type of the source's value; every such read is noted for the access log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from api_city import City, data
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.domain import ActorType, Decision, Kind
from hub.ingest import ingest_file
from hub.store.models import AccessLog, Client, Entity, Judgement, ReviewItem, SourceRecord

SOURCE = "masking_checks"

COMPANY = {
    "key": "LE-1",
    "name": "常熟市星辰贸易有限公司",
    "legal_representative": "沈嘉怡",
    "legal_representative_id_number": "320581 19910307 1225",
    "phone": "+86 139 1234 5678",
    "contacts": {"mobile": 13912340001, "legal_rep_id_number": [320581198503021230, "32058119850302567X"]},
}
COMPANY_MASKED = {
    "key": "LE-1",
    "name": "常熟市星辰贸易有限公司",
    "legal_representative": "沈嘉怡",
    "legal_representative_id_number": "320581********1225",
    "phone": "139****5678",
    "contacts": {
        "mobile": "139****0001",
        "legal_rep_id_number": ["320581********1230", "320581********567X"],
    },
}
BRANCH = {
    "key": "LE-2",
    "name": "常熟市星辰贸易有限公司",
    "phone": "0512 5278 1234",
    "ID_NUMBER": 320581198503029873,
    "Tel": 13912340002.0,
}
PERSON = {
    "key": "P-1",
    "name": "沈嘉怡",
    "id_number": "320581199103071225",
    "birth_date": "3/7/1991",
    "phone": "139 1234 0003",
    "idNumber": 320581199103074321,
    "mobile": [13912340004, "0512-5278 0005", None],
    "emergency": {"dob": 19910307, "phone": {"home": 13912340006}, "relation": "母亲"},
    "remark": "room 1203",
}
PERSON_MASKED = {
    "key": "P-1",
    "name": "沈嘉怡",
    "id_number": "320581********1225",
    "birth_date": "1991-**-**",
    "phone": "139****0003",
    "idNumber": "320581********4321",
    "mobile": ["139****0004", "051*****0005", None],
    "emergency": {"dob": "1991-**-**", "phone": {"home": "139****0006"}, "relation": "母亲"},
    "remark": "room 1203",
}
# Every personal value above, as its digits: none may appear whole in a masked response.
WHOLE = [
    "13912345678",
    "320581199103071225",
    "13912340001",
    "320581198503021230",
    "32058119850302567",
    "051252781234",
    "320581198503029873",
    "13912340002",
    "13912340003",
    "320581199103074321",
    "13912340004",
    "051252780005",
    "19910307",
    "13912340006",
]


@dataclass
class Odd:
    """The entities of the records above, in the city."""

    company: str
    branch: str
    person: str


@pytest.fixture(scope="module")
def odd(city: City) -> Odd:
    for kind, records in ((Kind.LEGAL_ENTITY, [COMPANY, BRANCH]), (Kind.PERSON, [PERSON])):
        path = city.directory / f"odd_{kind.value}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        summary = ingest_file(city.engine, path, SOURCE, kind, workers=0)
        assert summary.new == len(records) and summary.quarantined == 0
    entity = (
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id WHERE r.key = :key"
    )
    return Odd(city.one(entity, key="LE-1"), city.one(entity, key="LE-2"), city.one(entity, key="P-1"))


def viewer_rows(city: City, client: TestClient) -> list[AccessLog]:
    """The access-log rows of the client behind `client`, oldest first."""
    name = data(client, "{ viewer { name } }")["viewer"]["name"]
    with Session(city.engine) as session:
        client_id = session.scalar(select(Client.id).where(Client.name == name))
        return list(
            session.scalars(select(AccessLog).where(AccessLog.client_id == client_id).order_by(AccessLog.id))
        )


def fields_for(rows: list[AccessLog], entity: str) -> set[str]:
    return {f for row in rows if entity in row.entity_ids for f in row.fields}


def assert_nothing_whole(response: Any) -> None:
    digits = re.sub(r"[^0-9*]", "", json.dumps(response, ensure_ascii=False))
    shown = [value for value in WHOLE if value in digits]
    assert not shown, f"shown whole: {shown}"


COMPANY_QUERY = """query($id: ID!) { legalEntity(id: $id) { name phone
  lineage { field value values { value original source } }
  sourceRecords { key payload features } } }"""


def test_a_legal_entitys_phone_is_masked_and_logged_like_a_persons(city: City, odd: Odd) -> None:
    with city.client() as reader:
        shown = data(reader, COMPANY_QUERY, id=odd.company)["legalEntity"]
        rows = viewer_rows(city, reader)
    assert shown["phone"] == "139****5678"
    [phone] = [f for f in shown["lineage"] if f["field"] == "phone"]
    assert phone["value"] == "139****5678"
    assert [(v["value"], v["original"]) for v in phone["values"]] == [("139****5678", "139****5678")]
    [record] = shown["sourceRecords"]
    assert record["payload"] == COMPANY_MASKED
    assert record["features"]["phone"] == "139****5678"
    assert record["features"]["legal_representative_id_number"] == "320581********1225"
    assert_nothing_whole(shown)
    assert fields_for(rows, odd.company) == {"phone:masked", "sourceRecord:masked"}

    with city.client("pii:read") as caseworker:
        whole = data(caseworker, COMPANY_QUERY, id=odd.company)["legalEntity"]
        rows = viewer_rows(city, caseworker)
    assert whole["phone"] == "13912345678"
    [phone] = [f for f in whole["lineage"] if f["field"] == "phone"]
    assert phone["values"][0]["original"] == "+86 139 1234 5678"
    assert whole["sourceRecords"][0]["payload"] == COMPANY
    assert fields_for(rows, odd.company) == {"phone", "sourceRecord"}


def test_every_generated_companys_phone_is_masked(city: City, odd: Odd) -> None:
    with Session(city.engine) as session:
        ids = session.scalars(
            select(Entity.id)
            .where(Entity.kind == Kind.LEGAL_ENTITY, Entity.status == "active")
            .order_by(Entity.id)
        ).all()
    query = """query($r: [_Any!]!) { _entities(representations: $r) { ... on LegalEntity { id phone
      lineage { field values { value original } } } } }"""
    with city.client() as reader:
        found = data(reader, query, r=[{"__typename": "LegalEntity", "id": i} for i in ids])["_entities"]
    phones = [
        text
        for company in found
        for text in (
            company["phone"],
            *(v[k] for f in company["lineage"] if f["field"] == "phone" for v in f["values"] for k in v),
        )
        if text
    ]
    assert len(phones) > 10  # the city's companies have phones
    for text in phones:
        assert len(re.findall(r"[0-9]", text)) <= 7 and "****" in text, text


def test_payload_values_are_masked_by_field_name_whatever_their_type(city: City, odd: Odd) -> None:
    query = """query($key: String!) { sourceRecord(source: "masking_checks", kind: PERSON, key: $key) {
      entityId payload features } }"""
    with city.client() as reader:
        record = data(reader, query, key="P-1")["sourceRecord"]
        rows = viewer_rows(city, reader)
    assert record["payload"] == PERSON_MASKED
    assert_nothing_whole(record)
    assert fields_for(rows, odd.person) == {"sourceRecord:masked"}
    with city.client("pii:read") as caseworker:
        assert data(caseworker, query, key="P-1")["sourceRecord"]["payload"] == PERSON

    query = """query($key: String!) { sourceRecord(source: "masking_checks", kind: LEGAL_ENTITY, key: $key) {
      payload } }"""
    with city.client() as reader:
        branch = data(reader, query, key="LE-2")["sourceRecord"]["payload"]
    assert branch == {
        "key": "LE-2",
        "name": "常熟市星辰贸易有限公司",
        "phone": "051*****1234",
        "ID_NUMBER": "320581********9873",
        "Tel": "139****0002",
    }


def test_a_birth_date_not_written_the_iso_way_keeps_only_its_year(city: City, odd: Odd) -> None:
    query = (
        """query($id: ID!) { person(id: $id) { birthDate lineage { field values { value original } } } }"""
    )
    with city.client() as reader:
        person = data(reader, query, id=odd.person)["person"]
    assert person["birthDate"] == "1991-**-**"
    [birth] = [f for f in person["lineage"] if f["field"] == "birth_date"]
    assert [(v["value"], v["original"]) for v in birth["values"]] == [("1991-**-**", "1991-**-**")]
    assert_nothing_whole(person)


MATCH = """query($record: LegalEntityRecordInput!) { match(record: {legalEntity: $record}) {
  entity { id ... on LegalEntity { phone } } matchedRecord { key payload features } } }"""


def test_match_candidates_are_masked(city: City, odd: Odd) -> None:
    with city.client() as reader:
        found = data(reader, MATCH, record={"name": "常熟市星辰贸易有限公司"})["match"]
        rows = viewer_rows(city, reader)
    mine = {c["entity"]["id"]: c for c in found if c["entity"]["id"] in (odd.company, odd.branch)}
    assert set(mine) == {odd.company, odd.branch}
    assert mine[odd.company]["entity"]["phone"] == "139****5678"
    assert mine[odd.branch]["entity"]["phone"] == "051*****1234"
    assert mine[odd.company]["matchedRecord"]["payload"] == COMPANY_MASKED
    assert_nothing_whole(found)
    assert "phone:masked" in fields_for(rows, odd.branch)


@pytest.fixture(scope="module")
def review_item(city: City, odd: Odd) -> Iterator[int]:
    """An open review item on the two odd companies, as resolution would leave an unsure pair."""
    with Session(city.engine) as session, session.begin():
        a, b = sorted(
            session.scalars(select(SourceRecord.id).where(SourceRecord.key.in_(["LE-1", "LE-2"]))).all()
        )
        judgement = Judgement(
            kind=Kind.LEGAL_ENTITY,
            record_a_id=a,
            record_b_id=b,
            decision=Decision.UNSURE,
            score=0.5,
            actor_type=ActorType.MODEL,
            actor="model",
        )
        session.add(judgement)
        session.flush()
        item = ReviewItem(judgement_id=judgement.id, kind=Kind.LEGAL_ENTITY, priority=1.0)
        session.add(item)
        session.flush()
        item_id = item.id
    yield item_id


def test_review_items_show_both_records_masked(city: City, odd: Odd, review_item: int) -> None:
    query = """{ reviewItems(kind: LEGAL_ENTITY, state: OPEN, first: 500) {
      edges { node { id records { key entityId payload features } } } } }"""
    with city.client(role="steward") as steward:
        edges = data(steward, query)["reviewItems"]["edges"]
        rows = viewer_rows(city, steward)
    [item] = [e["node"] for e in edges if e["node"]["id"] == str(review_item)]
    payloads = {r["key"]: r["payload"] for r in item["records"]}
    assert payloads["LE-1"] == COMPANY_MASKED
    assert payloads["LE-2"]["ID_NUMBER"] == "320581********9873"
    assert_nothing_whole(item)
    assert "sourceRecord:masked" in fields_for(rows, odd.branch)


OVERRIDE = """mutation($id: ID!, $v: Int!, $value: String) {
  overrideValue(id: $id, version: $v, field: "phone", value: $value, note: "called the office") {
    eventId entity { ... on LegalEntity { phone
      lineage { field value values { value original source } } } } } }"""
VERSION = "query($id: ID!) { legalEntity(id: $id) { version } }"


def test_a_stewards_phone_for_a_company_is_masked_in_the_answer_the_trail_history_and_as_of(
    city: City, odd: Odd
) -> None:
    with city.client(role="steward") as steward:
        before = datetime.now().astimezone().isoformat()
        version = data(steward, VERSION, id=odd.company)["legalEntity"]["version"]
        edit = data(steward, OVERRIDE, id=odd.company, v=version, value="13987654321")["overrideValue"]
        rows = viewer_rows(city, steward)
    assert edit["entity"]["phone"] == "139****4321"
    [phone] = [f for f in edit["entity"]["lineage"] if f["field"] == "phone"]
    assert {(v["source"], v["value"], v["original"]) for v in phone["values"]} == {
        ("steward", "139****4321", "139****4321"),
        (SOURCE, "139****5678", "139****5678"),
    }
    assert "13987654321" not in json.dumps(edit)
    assert "phone:masked" in fields_for(rows, odd.company)

    with city.client(role="auditor") as auditor:
        history = data(
            auditor,
            "query($id: ID!) { legalEntity(id: $id) { history { action details } } }",
            id=odd.company,
        )["legalEntity"]["history"]
        trail = data(
            auditor,
            'query($id: ID!) { auditEvents(entityId: $id, action: "entity.override")'
            " { edges { node { after } } } }",
            id=odd.company,
        )["auditEvents"]["edges"]
        then = data(
            auditor,
            "query($id: ID!, $at: DateTime!) { legalEntity(id: $id, asOf: $at) { phone } }",
            id=odd.company,
            at=before,
        )["legalEntity"]
        rows = viewer_rows(city, auditor)
    [override] = [h for h in history if h["action"] == "entity.override"]
    assert override["details"]["value"] == "139****4321"
    assert [e["node"]["after"]["value"] for e in trail] == ["139****4321"]
    assert then["phone"] == "139****5678"
    assert "13987654321" not in json.dumps([history, trail])
    # The trail keeps the value masked whatever the reader's scope; each read of it is logged as masked.
    assert fields_for(rows, odd.company) == {"phone:masked"}
    assert sum(1 for row in rows if odd.company in row.entity_ids) == 3

    with city.client("pii:read", role="steward") as steward:
        version = data(steward, VERSION, id=odd.company)["legalEntity"]["version"]
        data(steward, OVERRIDE, id=odd.company, v=version, value=None)
        assert data(steward, "query($id: ID!) { legalEntity(id: $id) { phone } }", id=odd.company) == {
            "legalEntity": {"phone": "13912345678"}
        }


FLAGGED = [
    {"key": "F-1", "name": "沈嘉怡", "id_number": "320581199103071226"},  # check digit 6, expected 5
    {"key": "F-2", "name": "沈国强", "id_number": "320581199103071225", "birth_date": "1960-05-01"},
]


def test_a_personal_fields_flag_reason_gives_nothing_of_its_value_away(city: City) -> None:
    """A reason may quote the value's check character or the birth date the number holds, which with
    the masked number (region and last four shown) would give the whole of it."""
    path = city.directory / "flagged.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in FLAGGED), encoding="utf-8")
    assert ingest_file(city.engine, path, "masking_flags", Kind.PERSON, workers=0).new == 2
    query = """query($key: String!) { sourceRecord(source: "masking_flags", kind: PERSON, key: $key) {
      payload flags { field reason } } }"""
    for key, whole in (("F-1", "check digit 6, expected 5"), ("F-2", "born 1991-03-07 by the number")):
        with city.client() as reader:
            shown = data(reader, query, key=key)["sourceRecord"]
        reasons = " ".join(f["reason"] for f in shown["flags"] if f["field"] == "id_number")
        assert reasons and not re.search(r"[0-9]", reasons), reasons
        if key == "F-2":
            assert "1960-05-01" not in json.dumps(shown) and "1991-03-07" not in json.dumps(shown)
        with city.client("pii:read") as caseworker:
            flags = data(caseworker, query, key=key)["sourceRecord"]["flags"]
        assert any(whole in f["reason"] for f in flags), flags
