"""The audit trail: an append-only, hash-chained log of every change someone made, and its check.

Each `audit_event` row's hash is SHA-256 over its content (id, time, actor, action, subjects, before,
after) and the previous row's hash, so changing a row breaks its own hash and deleting one breaks the
link from the next. A writer holds the head while it appends (`hold_head`), and `prev_hash` is
unique besides, so the chain cannot fork. `verify` walks the chain in id order and names the first
row that does not hold.

Deleting the newest rows leaves a shorter chain that still holds; `verify` reports the head (count
and hash) so that an operator can compare it with one noted earlier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hub.store.models import AuditEvent, utcnow

__all__ = ["GENESIS", "ChainCheck", "append_only_ddl", "event_hash", "hold_head", "record_event", "verify"]

GENESIS = "0" * 64
_BATCH = 5000
_LOCK_KEY = 0x41554454  # "AUDT": the advisory lock of the chain's head


def _instant(value: datetime) -> str:
    """A stored time as the same text on every database (UTC, microseconds)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def event_hash(
    event_id: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject_ids: Sequence[Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 of the event's content in canonical JSON (sorted keys), chained to `prev_hash`."""
    content = orjson.dumps(
        {
            "id": event_id,
            "occurred_at": _instant(occurred_at),
            "actor": actor,
            "action": action,
            "subject_ids": list(subject_ids),
            "before": before,
            "after": after,
            "prev_hash": prev_hash,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(content).hexdigest()


def _hash_of(event: AuditEvent) -> str:
    return event_hash(
        event.id,
        event.occurred_at,
        event.actor,
        event.action,
        event.subject_ids,
        event.before,
        event.after,
        event.prev_hash,
    )


def record_event(
    session: Session,
    actor: str,
    action: str,
    subject_ids: Iterable[Any] = (),
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append an event at the head of the chain, inside the caller's transaction (flushes).

    `at`: the instant of the change the event records (default now), so that an edit's event and
    the memberships it opened and closed carry the same time.

    The caller's change and its event commit or roll back together. Values must be JSON: ids,
    texts, numbers, and mappings and lists of them. The head is held (`hold_head`) while it is read
    and extended; the unique id and `prev_hash` make a fork impossible even without it.
    """
    hold_head(session)
    head = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    prev_id, prev_hash = (head[0], head[1]) if head else (0, GENESIS)
    event = AuditEvent(
        id=prev_id + 1,
        occurred_at=at or utcnow(),
        actor=actor,
        action=action,
        subject_ids=[str(s) for s in subject_ids],
        before=dict(before or {}),
        after=dict(after or {}),
        prev_hash=prev_hash,
    )
    event.hash = _hash_of(event)
    session.add(event)
    session.flush()
    return event


def hold_head(session: Session) -> None:
    """Hold the right to append until the transaction ends, so the head read next stays the head.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write that changes nothing takes the
    database's write lock (a transaction that has only read could otherwise append after a head
    that another writer has since moved).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("DELETE FROM audit_event WHERE 0"))


def append_only_ddl(dialect: str, *, create: bool = True) -> list[str]:
    """The statements that make `audit_event` refuse UPDATE and DELETE (or, `create=False`, undo it)."""
    message = "audit_event is append-only"
    postgresql = dialect == "postgresql"
    statements = []
    if create and postgresql:
        statements.append(
            "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
    for event in ("update", "delete"):
        name = f"audit_event_no_{event}"
        if not create:
            statements.append(f"DROP TRIGGER IF EXISTS {name}" + (" ON audit_event" if postgresql else ""))
        elif postgresql:
            statements.append(
                f"CREATE TRIGGER {name} BEFORE {event.upper()} ON audit_event"
                " FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
            )
        else:
            statements.append(
                f"CREATE TRIGGER {name} BEFORE {event.upper()} ON audit_event"
                f" BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    if not create and postgresql:
        statements.append("DROP FUNCTION IF EXISTS audit_event_append_only()")
    return statements


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What `verify` found: how many events held, and the first that did not (with why)."""

    checked: int
    head_hash: str
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(session: Session) -> ChainCheck:
    """Walk the chain from the first event; stop at the first that is changed or unlinked."""
    previous_hash, previous_id, checked = GENESIS, 0, 0
    while True:
        batch = session.scalars(
            select(AuditEvent).where(AuditEvent.id > previous_id).order_by(AuditEvent.id).limit(_BATCH)
        ).all()
        if not batch:
            return ChainCheck(checked, previous_hash)
        for event in batch:
            if event.id != previous_id + 1:
                return ChainCheck(
                    checked,
                    previous_hash,
                    previous_id + 1,
                    f"it is missing (deleted): event {event.id} follows event {previous_id or 'none'}",
                )
            if event.prev_hash != previous_hash:
                return _unlinked(session, event, previous_id, previous_hash, checked)
            if _hash_of(event) != event.hash:
                return ChainCheck(
                    checked, previous_hash, event.id, "its content was changed after it was written"
                )
            previous_hash, previous_id = event.hash, event.id
            checked += 1
        session.expunge_all()


def _unlinked(
    session: Session, event: AuditEvent, previous_id: int, previous_hash: str, checked: int
) -> ChainCheck:
    """`event` does not chain to its predecessor, though both hash right: one of them was rewritten
    with a new hash. If the event after `event` still chains to it, `event` is intact and the
    predecessor was rewritten; otherwise `event` was."""
    after = session.scalars(select(AuditEvent).where(AuditEvent.id == event.id + 1)).first()
    if after is not None and after.prev_hash == event.hash:
        return ChainCheck(
            checked - 1,
            previous_hash,
            previous_id,
            f"it was changed and given a new hash: event {event.id} chains to its old hash",
        )
    return ChainCheck(
        checked,
        previous_hash,
        event.id,
        f"it was changed and given a new hash: it does not chain to event {previous_id or '(start)'}",
    )
