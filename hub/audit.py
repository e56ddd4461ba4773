"""The audit trail: an append-only, hash-chained log of every change someone made, and its check.

Each `audit_event` row's hash is SHA-256 over its content (id, time, actor, action, subjects, before,
after) and the previous row's hash, so changing a row breaks its own hash and deleting one breaks the
link from the next. A writer holds the head while it appends (`hold_head`), and `prev_hash` is
unique besides, so the chain cannot fork. `verify` walks the chain in id order and names the first
row that does not hold.

A chain alone cannot show that its newest rows were deleted, that it was emptied, or that it was
rewritten from some row on with every later hash recomputed: whoever can write the table can do all
that and leave a chain that holds. A checkpoint anchors it outside the database: the count and head
hash at a moment, signed with HMAC-SHA256 under a key the database never sees (`checkpoint`, kept in
a JSON Lines file elsewhere). `check_checkpoint` refuses a checkpoint whose signature does not hold
and fails when the trail has fewer events than it names or its event at that position has another
hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hub.errors import InputError
from hub.store.models import AuditEvent, utcnow

__all__ = [
    "GENESIS",
    "KEY_FILE_VARIABLE",
    "ChainCheck",
    "Checkpoint",
    "append_only_ddl",
    "check_checkpoint",
    "checkpoint",
    "event_hash",
    "hold_head",
    "load_key",
    "read_checkpoints",
    "read_key",
    "record_event",
    "verify",
]

GENESIS = "0" * 64
_BATCH = 5000
LOCK_KEY = 0x41554454  # "AUDT": the advisory lock of the chain's head
KEY_FILE_VARIABLE = "HUB_AUDIT_KEY_FILE"
_MIN_KEY_BYTES = 16


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
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("DELETE FROM audit_event WHERE 0"))


def append_only_ddl(dialect: str, table: str = "audit_event", *, create: bool = True) -> list[str]:
    """The statements that make `table` refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE, or undo that.

    Each trigger is dropped before it is created, so running them again (a migration after an older
    one already made some of them) leaves exactly one of each. SQLite has no TRUNCATE.
    """
    message = f"{table} is append-only"
    postgresql = dialect == "postgresql"
    function = f"{table}_append_only"
    events = ("update", "delete", "truncate") if postgresql else ("update", "delete")
    statements = []
    if create and postgresql:
        statements.append(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
    for event in events:
        name = f"{table}_no_{event}"
        statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
        if not create:
            continue
        if postgresql:
            each = "STATEMENT" if event == "truncate" else "ROW"
            statements.append(
                f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {table}"
                f" FOR EACH {each} EXECUTE FUNCTION {function}()"
            )
        else:
            statements.append(
                f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    if not create and postgresql:
        statements.append(f"DROP FUNCTION IF EXISTS {function}()")
    return statements


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What `verify` found: how many events held, and the first that did not (with why)."""

    checked: int
    head_hash: str
    broken_id: int | None = None
    reason: str | None = None
    head_id: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(session: Session, since: ChainCheck | None = None) -> ChainCheck:
    """Walk the chain from the first event (or on from where an earlier whole check `since` ended);
    stop at the first that is changed or unlinked."""
    previous_hash, previous_id, checked = GENESIS, 0, 0
    if since is not None and since.ok:
        previous_hash, previous_id, checked = since.head_hash, since.head_id, since.checked
    while True:
        batch = session.scalars(
            select(AuditEvent).where(AuditEvent.id > previous_id).order_by(AuditEvent.id).limit(_BATCH)
        ).all()
        if not batch:
            return ChainCheck(checked, previous_hash, head_id=previous_id)
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


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The trail's head at a moment, signed: how many events it had and the newest one's id and hash.

    One line of a JSON Lines file: `{"format", "events", "head_id", "head_hash", "at", "hmac"}`, the
    HMAC-SHA256 (hex) being over the other fields in canonical JSON (sorted keys, no spaces).
    """

    events: int
    head_id: int
    head_hash: str
    at: str
    hmac: str = ""

    FORMAT = "hub-audit-checkpoint/1"

    def content(self) -> bytes:
        """What the HMAC covers: every field but the HMAC itself."""
        return orjson.dumps(
            {
                "format": self.FORMAT,
                "events": self.events,
                "head_id": self.head_id,
                "head_hash": self.head_hash,
                "at": self.at,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def signed(self, key: bytes) -> Checkpoint:
        return Checkpoint(self.events, self.head_id, self.head_hash, self.at, _hmac(key, self.content()))

    def signature_holds(self, key: bytes) -> bool:
        return hmac.compare_digest(_hmac(key, self.content()), self.hmac)

    def line(self) -> str:
        """The checkpoint as one JSON line (with its newline)."""
        fields = orjson.loads(self.content())
        return orjson.dumps({**fields, "hmac": self.hmac}, option=orjson.OPT_SORT_KEYS).decode() + "\n"

    def describe(self) -> str:
        return f"checkpoint of {self.at} ({self.events:,} events, head {self.head_hash[:16]}…)"


def _hmac(key: bytes, content: bytes) -> str:
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def load_key(key_file: str | Path | None = None) -> bytes:
    """The checkpoint key: the bytes of `key_file`, else of the file `HUB_AUDIT_KEY_FILE` names.

    The key must live outside the database (whoever holds both can forge a checkpoint that matches a
    rewritten trail); a missing, unreadable or short key is refused rather than replaced by a default.
    """
    path = key_file or os.environ.get(KEY_FILE_VARIABLE, "").strip()
    if not path:
        raise InputError(
            f"no audit key: pass --key-file FILE or set {KEY_FILE_VARIABLE} to a file of random bytes kept"
            " outside the database, made once with `head -c 32 /dev/urandom > audit.key`"
        )
    return read_key(path, "audit key file", "audit.key")


def read_key(path: str | Path, what: str, example: str) -> bytes:
    """The bytes of a key file (`what`: "audit key file"), refused when unreadable or shorter than 16
    bytes; `example` names the file in the hint on how to make one."""
    try:
        key = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{what} {str(path)!r} cannot be read ({exc.strerror}); check the path") from None
    if len(key) < _MIN_KEY_BYTES:
        raise InputError(
            f"{what} {str(path)!r} holds {len(key)} bytes; a key needs at least {_MIN_KEY_BYTES}"
            f" (make one with `head -c 32 /dev/urandom > {example}`)"
        )
    return key


def checkpoint(session: Session, key: bytes) -> tuple[ChainCheck, Checkpoint | None]:
    """Walk the chain and, if it holds, sign its head: (what the walk found, the checkpoint or None).

    A broken trail gets no checkpoint: signing it would vouch for the damage.
    """
    check = verify(session)
    if not check.ok:
        return check, None
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    # The walk saw ids 1..checked with no gap, so the head's id is the count.
    head = Checkpoint(check.checked, check.checked, check.head_hash, at)
    return check, head.signed(key)


def read_checkpoints(path: str | Path) -> list[Checkpoint]:
    """The checkpoints in a JSON Lines file, oldest first (blank lines skipped)."""
    try:
        content = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"checkpoint file {str(path)!r} cannot be read ({exc.strerror}); check the path"
        ) from None
    checkpoints = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = orjson.loads(line)
            if fields.get("format") != Checkpoint.FORMAT:
                raise ValueError(f"format {fields.get('format')!r}")
            checkpoints.append(
                Checkpoint(
                    int(fields["events"]),
                    int(fields["head_id"]),
                    str(fields["head_hash"]),
                    str(fields["at"]),
                    str(fields["hmac"]),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"checkpoint file {str(path)!r}, line {number}: not a checkpoint ({exc}); each line must be"
                " one that `hub audit checkpoint` wrote"
            ) from None
    if not checkpoints:
        raise InputError(
            f"checkpoint file {str(path)!r} holds no checkpoint; write one with `hub audit checkpoint`"
        )
    return checkpoints


def check_checkpoint(session: Session, point: Checkpoint, key: bytes) -> str | None:
    """What does not hold of `point` against the stored trail, or None when it holds.

    The signature first (a forged or edited checkpoint proves nothing), then the trail must still have
    at least as many events, and the event at the checkpoint's head must still have the same hash:
    together with the chain walk this catches deleted newest events, an emptied (truncated) trail and
    a trail rewritten from some event on with every later hash recomputed.
    """
    if not point.signature_holds(key):
        return (
            f"{point.describe()}: its signature does not hold; it was edited, forged or signed with"
            " another key"
        )
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    if count < point.events:
        return (
            f"{point.describe()}: the trail has {count:,} events, fewer than the checkpoint counted;"
            " events were deleted (the newest, or all of them)"
        )
    if point.events == 0:
        return None
    stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == point.head_id))
    if stored is None:
        return f"{point.describe()}: event {point.head_id}, its head, is missing (deleted)"
    if stored != point.head_hash:
        return (
            f"{point.describe()}: event {point.head_id} now has hash {stored[:16]}…; the trail was"
            " rewritten up to it and its hashes recomputed"
        )
    return None
