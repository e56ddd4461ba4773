"""The audit trail: append-only, hash-chained, and `hub audit verify` names the first row that fails;
signed checkpoints kept outside the database catch what the chain alone cannot."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.audit import GENESIS, KEY_FILE_VARIABLE, append_only_ddl, event_hash, record_event, verify
from hub.store.database import make_engine
from hub.store.models import AccessLog, AuditEvent


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


def test_the_database_refuses_to_truncate_the_trail(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE is refused above")
    append(engine, 2)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_event"))
    with Session(engine) as session:
        assert verify(session).checked == 2


# Checkpoints: the trail's head signed with a key kept outside the database.

Hub = Callable[..., tuple[int, str, str]]


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(os.urandom(32))
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(path))
    return path


def checkpoint_file(hub: Hub, database_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "checkpoints.jsonl"
    code, out, _ = hub(database_url, "audit", "checkpoint", "--output", str(path))
    assert code == 0, out
    return path


def rewrite_from(engine: Engine, first: int, actor: str = "nobody") -> None:
    """What someone who went around the triggers could do: rewrite event `first` and recompute the hash
    of it and of every later event, so that the whole chain holds again."""
    with Session(engine) as session, session.begin():
        previous = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == first - 1)) or GENESIS
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.id >= first).order_by(AuditEvent.id)
        ):
            if event.id == first:
                event.actor = actor
            event.prev_hash = previous
            event.hash = event_hash(
                event.id, event.occurred_at, event.actor, event.action, event.subject_ids, event.before,
                event.after, event.prev_hash,
            )  # fmt: skip
            previous = event.hash
            session.flush()


def _forge_newest(engine: Engine) -> None:
    _sql(engine, "DELETE FROM audit_event WHERE id = 5")
    append(engine, 1, actor="steward:forger")


TAMPERING: dict[str, tuple[Callable[[Engine], None], str]] = {
    "the newest events deleted": (
        lambda e: _sql(e, "DELETE FROM audit_event WHERE id > 3"),
        "the trail has 3 events, fewer than the checkpoint counted",
    ),
    "every event deleted": (
        lambda e: _sql(e, "DELETE FROM audit_event"),
        "the trail has 0 events, fewer than the checkpoint counted",
    ),
    "an event rewritten and every later hash recomputed": (
        lambda e: rewrite_from(e, 2),
        "event 5 now has hash",
    ),
    "the newest event replaced by a forged one with a correct hash": (
        lambda e: _forge_newest(e),
        "event 5 now has hash",
    ),
}


def _sql(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement))


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_a_checkpoint_catches_what_the_chain_walk_cannot(
    engine: Engine,
    go_around_the_triggers: Callable[[], None],
    hub: Hub,
    database_url: str,
    key_file: Path,
    tmp_path: Path,
    tampering: str,
) -> None:
    tamper, failure = TAMPERING[tampering]
    append(engine, 5)
    checkpoints = checkpoint_file(hub, database_url, tmp_path)
    code, out, _ = hub(database_url, "audit", "verify", "--checkpoint", str(checkpoints))
    assert code == 0 and "ok: 1 checkpoints hold" in out, out
    go_around_the_triggers()
    tamper(engine)
    assert hub(database_url, "audit", "verify")[0] == 0  # the chain alone still holds
    code, out, _ = hub(database_url, "audit", "verify", "--checkpoint", str(checkpoints))
    assert code == 1
    assert "BROKEN: checkpoint of" in out and failure in out, out


def test_the_trail_may_grow_past_its_checkpoints(
    engine: Engine, hub: Hub, database_url: str, key_file: Path, tmp_path: Path
) -> None:
    append(engine, 2)
    checkpoints = checkpoint_file(hub, database_url, tmp_path)
    append(engine, 3)
    checkpoint_file(hub, database_url, tmp_path)  # appended: the file keeps both
    append(engine, 1)
    lines = [orjson.loads(line) for line in checkpoints.read_text().splitlines()]
    assert [(c["events"], c["head_id"]) for c in lines] == [(2, 2), (5, 5)]
    assert all(len(c["hmac"]) == 64 and len(c["head_hash"]) == 64 for c in lines)
    code, out, _ = hub(database_url, "audit", "verify", "--checkpoint", str(checkpoints))
    assert code == 0 and "ok: 2 checkpoints hold" in out and "1 events came after it" in out, out


def test_a_forged_checkpoint_is_refused(
    engine: Engine, hub: Hub, database_url: str, key_file: Path, tmp_path: Path
) -> None:
    # Someone who rewrote the trail would also want a checkpoint that matches it; without the key the
    # signature gives them away, whether they edit a checkpoint or sign one with a key of their own.
    append(engine, 3)
    checkpoints = checkpoint_file(hub, database_url, tmp_path)
    real = orjson.loads(checkpoints.read_text())
    edited = {**real, "events": 2, "head_id": 2}
    checkpoints.write_text(orjson.dumps(edited).decode() + "\n")
    code, out, _ = hub(database_url, "audit", "verify", "--checkpoint", str(checkpoints))
    assert code == 1 and "its signature does not hold" in out, out

    other_key = tmp_path / "other.key"
    other_key.write_bytes(os.urandom(32))
    forged = tmp_path / "forged.jsonl"
    code, _, _ = hub(
        database_url, "audit", "checkpoint", "--key-file", str(other_key), "--output", str(forged)
    )
    assert code == 0
    code, out, _ = hub(database_url, "audit", "verify", "--checkpoint", str(forged))
    assert code == 1 and "its signature does not hold" in out, out
    code, out, _ = hub(
        database_url, "audit", "verify", "--checkpoint", str(forged), "--key-file", str(other_key)
    )
    assert code == 0, out


def test_checkpoints_need_a_key_kept_outside_the_database(
    engine: Engine, hub: Hub, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_FILE_VARIABLE, raising=False)
    append(engine, 1)
    code, _, err = hub(database_url, "audit", "checkpoint")
    assert code == 2 and "no audit key" in err and KEY_FILE_VARIABLE in err and "/dev/urandom" in err
    short = tmp_path / "short.key"
    short.write_bytes(b"secret")
    code, _, err = hub(database_url, "audit", "checkpoint", "--key-file", str(short))
    assert code == 2 and "holds 6 bytes" in err
    code, _, err = hub(database_url, "audit", "verify", "--checkpoint", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no audit key" in err


def test_a_broken_trail_gets_no_checkpoint(
    engine: Engine,
    go_around_the_triggers: Callable[[], None],
    hub: Hub,
    database_url: str,
    key_file: Path,
    tmp_path: Path,
) -> None:
    append(engine, 3)
    go_around_the_triggers()
    _sql(engine, "UPDATE audit_event SET actor = 'nobody' WHERE id = 2")
    output = tmp_path / "checkpoints.jsonl"
    code, out, _ = hub(database_url, "audit", "checkpoint", "--output", str(output))
    assert code == 1 and "BROKEN at event 2" in out and "no checkpoint written" in out
    assert not output.exists()


def test_the_database_refuses_to_change_the_access_log(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add(AccessLog(operation="query{person{idNumber}}", entity_ids=["per_1"], fields=["idNumber"]))
    statements = ["UPDATE access_log SET entity_ids = '[]'", "DELETE FROM access_log"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE access_log")
    for statement in statements:
        with pytest.raises(DBAPIError, match="access_log is append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with Session(engine) as session:
        assert session.scalar(select(AccessLog.entity_ids)) == ["per_1"]
