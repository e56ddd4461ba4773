"""The audit trail: append-only, hash-chained, and `hub audit verify` names the first row that fails."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.audit import GENESIS, append_only_ddl, event_hash, record_event, verify
from hub.store.database import make_engine
from hub.store.models import AuditEvent


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def append(engine: Engine, n: int, actor: str = "steward:li") -> None:
    for i in range(n):
        with Session(engine) as session, session.begin():
            record_event(
                session,
                actor,
                "entity.merge",
                [f"per_{i}", f"per_{i + 1}"],
                before={"n": i},
                after={"n": i + 1},
            )


@pytest.fixture
def go_around_the_triggers(engine: Engine) -> Iterator[Callable[[], None]]:
    """What someone with direct write access to the database could do first (put back afterwards:
    PostgreSQL's test database is shared by the tests)."""

    def drop() -> None:
        with engine.begin() as connection:
            for statement in append_only_ddl(engine.dialect.name, create=False):
                connection.execute(text(statement))

    yield drop
    drop()
    with engine.begin() as connection:
        for statement in append_only_ddl(engine.dialect.name):
            connection.execute(text(statement))


def test_events_chain_from_the_genesis_and_the_chain_holds(engine: Engine) -> None:
    append(engine, 3)
    with Session(engine) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        check = verify(session)
    assert [e.id for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert check.ok and check.checked == 3 and check.head_hash == events[-1].hash
    assert events[1].actor == "steward:li" and events[1].subject_ids == ["per_1", "per_2"]


def test_an_empty_trail_holds(engine: Engine) -> None:
    with Session(engine) as session:
        check = verify(session)
    assert check.ok and check.checked == 0 and check.head_hash == GENESIS


def test_the_database_refuses_to_change_or_delete_an_event(engine: Engine) -> None:
    append(engine, 1)
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with Session(engine) as session:
        assert verify(session).checked == 1


def test_a_changed_event_is_named(
    engine: Engine,
    go_around_the_triggers: Callable[[], None],
    hub: Callable[..., tuple[int, str, str]],
    database_url: str,
) -> None:
    append(engine, 5)
    assert hub(database_url, "audit", "verify")[0] == 0
    go_around_the_triggers()
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'nobody' WHERE id = 3"))
    code, out, _ = hub(database_url, "audit", "verify")
    assert code == 1
    assert "BROKEN at event 3" in out and "content was changed" in out and "2 events before it hold" in out


@pytest.mark.parametrize("changed", [1, 2, 4])
def test_an_event_changed_and_given_a_new_hash_is_named(
    engine: Engine, go_around_the_triggers: Callable[[], None], changed: int
) -> None:
    # Whoever rewrites a row's hash too is caught by the link from the next row, which still holds
    # the old hash; the row after that tells which of the two was rewritten.
    append(engine, 4)
    go_around_the_triggers()
    with Session(engine) as session, session.begin():
        event = session.get(AuditEvent, changed)
        assert event is not None
        event.actor = "nobody"
        event.hash = event_hash(
            event.id, event.occurred_at, event.actor, event.action, event.subject_ids, event.before,
            event.after, event.prev_hash,
        )  # fmt: skip
    with Session(engine) as session:
        check = verify(session)
    if changed == 4:  # the newest: nothing chains to it yet, so the rewrite cannot be seen
        assert check.ok
    else:
        assert (check.broken_id, check.checked) == (changed, changed - 1)
        assert "given a new hash" in (check.reason or "")


def test_a_deleted_event_is_named(
    engine: Engine,
    go_around_the_triggers: Callable[[], None],
    hub: Callable[..., tuple[int, str, str]],
    database_url: str,
) -> None:
    append(engine, 5)
    go_around_the_triggers()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = 2"))
    code, out, _ = hub(database_url, "audit", "verify")
    assert code == 1
    assert "BROKEN at event 2: it is missing (deleted): event 3 follows event 1" in out


def test_writers_appending_at_once_never_fork_the_chain(engine: Engine) -> None:
    failures: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            append(engine, 15, actor=name)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(f"steward:{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    with Session(engine) as session:
        check = verify(session)
    assert check.ok and check.checked == 45


def test_cli_changes_are_audited_with_who_did_them(
    hub: Callable[..., tuple[int, str, str]], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_ACTOR", "admin:wang")
    assert hub(database_url, "clients", "add", "tax-bureau", "--role", "reader")[0] == 0
    assert hub(database_url, "clients", "revoke", "tax-bureau")[0] == 0
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.subject_ids, AuditEvent.after).order_by(
                AuditEvent.id
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("admin:wang", "client.add", ["client:tax-bureau"], {"role": "reader", "scopes": []}),
        ("admin:wang", "client.revoke", ["client:tax-bureau"], {}),
    ]
    code, out, _ = hub(database_url, "audit", "verify")
    assert code == 0 and out.startswith("ok: 2 events hold")
