"""The change feed, as a department that keeps a copy of the golden graph uses it: applying every entry
in order gives the hub's entities and links, whoever changed them (ingestion, resolution, the links
step, stewards' edits and their undoing), and paging never skips or repeats an entry."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from resolved_city import resolved_city
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from hub.changes import Change, change_cursor, changes_after, cursor_position
from hub.domain import ChangeAction, Kind
from hub.errors import InputError
from hub.ingest import ingest_records
from hub.resolve.links import link_entities
from hub.resolve.realtime import resolve_records
from hub.steward import merge_entities, move_records, override_value, split_entity, undo
from hub.store.models import Entity, Membership, SourceRecord

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
STEWARD = "steward:feed-test"


@pytest.fixture(scope="module", params=BACKENDS)
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = resolved_city(request, tmp_path_factory.mktemp("changes"), persons=200)
    yield engine
    engine.dispose()


def everything(
    engine: Engine, after: int = 0, page: int = 10_000, kinds: list[Kind] | None = None
) -> list[Change]:
    entries: list[Change] = []
    with Session(engine) as session:
        while True:
            got, after, more = changes_after(session, after, kinds, page)
            entries += got
            if not more:
                return entries


class Copy:
    """A department's copy of the graph, kept by the feed alone."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.links: dict[int, tuple[str, str, str]] = {}
        self.versions: dict[str, int] = {}

    def apply(self, entries: list[Change]) -> None:
        for e in entries:
            if e.action in (ChangeAction.CREATED, ChangeAction.SPLIT):
                assert e.entity_id not in self.active, e
                self.active.add(e.entity_id)
            elif e.action == ChangeAction.MERGED:
                assert e.other_id in self.active, e
                self.active.remove(e.entity_id)
            elif e.action == ChangeAction.CHANGED:
                assert e.entity_id in self.active, e
            elif e.action == ChangeAction.LINK_OPENED:
                assert e.link_id is not None and e.relation is not None and e.other_id is not None
                self.links[e.link_id] = (e.relation, e.entity_id, e.other_id)
            else:
                assert e.link_id in self.links, e
                del self.links[e.link_id]
            if e.version is not None:
                self.versions[e.entity_id] = e.version

    def check(self, engine: Engine) -> None:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, version FROM entity WHERE status = 'active'"))
            active: dict[str, int] = {r[0]: r[1] for r in rows}
            links = {
                r[0]: (r[1], r[2], r[3])
                for r in connection.execute(
                    text("SELECT id, relation, subject_id, object_id FROM link WHERE valid_to IS NULL")
                )
            }
        assert self.active == set(active)
        assert self.links == links
        assert {e: self.versions[e] for e in active} == active


def test_applying_the_feed_gives_the_hubs_entities_and_links(city: Engine, tmp_path: Path) -> None:
    copy = Copy()
    entries = everything(city)
    actors = {e.actor for e in entries}
    assert {"ingest", "resolution"} <= actors
    assert {e.action for e in entries} >= {
        ChangeAction.CREATED,
        ChangeAction.MERGED,
        ChangeAction.CHANGED,
        ChangeAction.LINK_OPENED,
    }
    copy.apply(entries)
    copy.check(city)
    position = max(e.position for e in entries)

    # Stewards: merge two people and undo it, merge them again, split a record out and undo that,
    # move a record to a third person, set a value.
    with Session(city) as session, session.begin():
        a, b, c = session.scalars(
            select(Entity.id)
            .where(Entity.kind == Kind.PERSON, Entity.status == "active")
            .order_by(Entity.id)
            .limit(3)
        ).all()
        merged = merge_entities(session, a, None, b, None, STEWARD)
    with Session(city) as session, session.begin():
        undo(session, merged.event_id, STEWARD)
    with Session(city) as session, session.begin():
        merge_entities(session, a, None, b, None, STEWARD)
    with Session(city) as session, session.begin():
        records = session.scalars(
            select(Membership.record_id).where(Membership.entity_id == a, Membership.valid_to.is_(None))
        ).all()
        assert len(records) >= 2
        split = split_entity(session, a, None, [[records[-1]]], STEWARD)
        (new,) = split.created
    with Session(city) as session, session.begin():
        undo(session, split.event_id, STEWARD)
    with Session(city) as session, session.begin():
        move_records(session, a, None, [records[-1]], c, None, STEWARD)
    with Session(city) as session, session.begin():
        override_value(session, a, None, "name", "王定义", STEWARD)
    entries = everything(city, position)
    said = [(e.action, e.entity_id, e.other_id) for e in entries if not e.action.startswith("link")]
    assert all(e.actor == STEWARD for e in entries)
    assert said[:2] == [(ChangeAction.CHANGED, a, None), (ChangeAction.MERGED, b, a)]
    for expected in [
        (ChangeAction.SPLIT, b, a),  # the merge undone: b is back, taken from a
        (ChangeAction.SPLIT, new, a),
        (ChangeAction.MERGED, new, a),  # the split undone
        (ChangeAction.CHANGED, c, None),
    ]:
        assert expected in said
    assert said[-1] == (ChangeAction.CHANGED, a, None)
    copy.apply(entries)
    copy.check(city)
    position = max(e.position for e in entries)

    # An undo: the override is withdrawn as it was set.
    with Session(city) as session, session.begin():
        event = session.scalar(text("SELECT max(id) FROM audit_event WHERE action = 'entity.override'"))
        undo(session, event, STEWARD)
    entries = everything(city, position)
    assert [(e.action, e.entity_id) for e in entries] == [(ChangeAction.CHANGED, a)]
    copy.apply(entries)
    copy.check(city)
    position = entries[-1].position

    # A source changes a record, a new one arrives and is resolved at once, the links are rebuilt.
    with Session(city) as session, session.begin():
        record = session.scalars(
            select(SourceRecord).where(SourceRecord.kind == Kind.PERSON).order_by(SourceRecord.id).limit(1)
        ).one()
        owner = session.scalar(
            select(Membership.entity_id).where(
                Membership.record_id == record.id, Membership.valid_to.is_(None)
            )
        )
        payload = session.scalar(
            text("SELECT payload FROM record_version WHERE record_id = :id AND version = :v"),
            {"id": record.id, "v": record.version},
        )
        changed = json.loads(payload) if isinstance(payload, str) else dict(payload)
        changed["phone"] = "13800000000"
        source = session.scalar(text("SELECT name FROM source WHERE id = :id"), {"id": record.source_id})
        ingest_records(session, source, Kind.PERSON, [changed])
    entries = everything(city, position)
    assert [(e.action, e.entity_id, e.actor) for e in entries] == [(ChangeAction.CHANGED, owner, "ingest")]
    with Session(city) as session, session.begin():
        ingest_records(
            session, "tax", Kind.PERSON, [{"key": "feed-1", "name": "欧阳新", "phone": "13911112222"}]
        )
        new_record = session.scalars(select(SourceRecord.id).where(SourceRecord.key == "feed-1")).one()
        resolve_records(session, Kind.PERSON, [new_record])
        link_entities(session)
    entries = everything(city, entries[-1].position)
    assert entries[0].action == ChangeAction.CREATED and entries[0].actor == "ingest"
    copy.apply(entries)
    copy.check(city)


def test_pages_neither_skip_nor_repeat_and_kinds_filter(city: Engine) -> None:
    whole = everything(city)
    assert [e.position for e in whole] == sorted({e.position for e in whole})
    assert everything(city, page=7) == whole
    people = everything(city, page=50, kinds=[Kind.PERSON])
    assert people == [e for e in whole if Kind.PERSON in (e.kind, e.other_kind)]
    assert any(e.action == ChangeAction.LINK_OPENED and e.kind == Kind.PERSON for e in people)
    addresses = everything(city, kinds=[Kind.ADDRESS])
    assert any(
        e.relation == "lives_at" for e in addresses
    )  # a person's link to an address is the address's too
    with Session(city) as session:
        got, after, more = changes_after(session, whole[-1].position, None, 10)
        assert (got, after, more) == ([], whole[-1].position, False)
        # A reader of one kind moves on past the other kinds' entries.
        last_person = people[-1].position
        got, after, more = changes_after(session, last_person, [Kind.PERSON], 10)
        assert got == [] and after == whole[-1].position and not more
        # A cursor past the newest entry (the database restored to an earlier state) is refused:
        # answered with nothing, its reader would wait for entries that never come.
        with pytest.raises(InputError, match="past the feed's newest entry"):
            changes_after(session, whole[-1].position + 1, None, 10)


def test_cursors_are_opaque_and_checked() -> None:
    assert cursor_position(change_cursor(1234)) == 1234
    assert cursor_position(None) == 0
    for bad in ("1234", "bm90LWEtY3Vyc29y", "x" * 100, change_cursor(1)[:-2]):
        with pytest.raises(InputError, match="not a cursor of the change feed"):
            cursor_position(bad)


def test_hub_export_changes_follows_the_feed(city: Engine, hub: Callable[..., tuple[int, str, str]]) -> None:
    url = city.url.render_as_string(hide_password=False)
    whole = everything(city)
    code, out, err = hub(url, "export", "changes")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(e["cursor"], e["action"], e["entity_id"]) for e in lines] == [
        (e.cursor, e.action.value, e.entity_id) for e in whole
    ]
    following = err.split("--since ")[-1].split()[0]
    assert cursor_position(following) == whole[-1].position
    code, out, err = hub(url, "export", "changes", "--since", following)
    assert code == 0 and out == "" and f"0 entries; next time pass --since {following}" in err
    middle = whole[len(whole) // 2]
    code, out, _ = hub(
        url, "export", "changes", "--since", middle.cursor, "--kind", "legal_entity", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["cursor"] for r in rows] == [
        e.cursor
        for e in whole
        if e.position > middle.position and Kind.LEGAL_ENTITY in (e.kind, e.other_kind)
    ]
    code, out, _ = hub(url, "export", "changes", "--since", whole[-1].at.isoformat())
    assert [json.loads(line)["cursor"] for line in out.splitlines()] == [
        e.cursor for e in whole if e.at >= whole[-1].at
    ]
    for bad in ("yesterday", "2026-12-01T10:00:00"):
        code, _, err = hub(url, "export", "changes", "--since", bad)
        assert code == 2 and "--since" in err
