"""Locks that keep two runs of one piece of work apart (two `hub resolve`s of a kind, two ingests of
one source and kind), held by a process and released when it ends, however it ends.

Two such runs at once corrupt nothing the database checks, yet double what they write: two
resolutions of a kind each merge the same entities, so the change feed and the review queue carry
everything twice. A second run is refused at once, naming what holds the lock, rather than made to
wait: a nightly job that finds its predecessor still running should say so, not pile up behind it.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own,
  taken for the block; the server drops it when that connection ends, so a killed process holds
  nothing.
- SQLite: an exclusive `flock` on a file beside the database (`hub.db.lock-resolve-person`), which
  the kernel drops with the process. The files stay (removing one while another process opens it
  would let two hold the lock); they are empty.
- An in-memory database belongs to one process: nothing to keep apart.

A batch resolution also keeps live writes apart (`batch_resolution`, `resolution_running`). It
decides from what it read when it started and stores that minutes later, so a steward's merge or a
department's submission resolved in between would be undone where the run moves the same records.
While it runs, a submission is stored and left for the next resolution, and a steward's edit is
refused as BUSY; a batch run starts only once the live writes in flight have committed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.errors import BusyError
from hub.store.database import SQLITE_BUSY_MS

__all__ = ["batch_resolution", "exclusive", "refuse_during_resolution", "resolution_running"]

_LIVE = "resolution-live"  # held exclusively by a batch resolution, shared by a live write's check


@contextlib.contextmanager
def exclusive(
    engine: Engine, name: str, what: str | Callable[[], str], then: str = "run this again"
) -> Iterator[None]:
    """Hold the lock `name` (e.g. `resolve`) of the database behind `engine` for the block; BusyError
    saying that `what` (e.g. "another hub resolve", or a function that says which run) is running
    when another process holds it, and to wait for it and `then` do what."""

    def busy() -> BusyError:
        said = what() if callable(what) else what
        return BusyError(f"{said} is running on this database; wait for it to finish, then {then}")

    if engine.dialect.name == "postgresql":

        def take(connection: Connection, key: int) -> None:
            if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                raise busy()

        with _advisory(engine, name, take):
            yield
        return

    def take_file(handle: int) -> None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy() from None

    with _flocked(_lock_file(engine, name), take_file):
        yield


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _lock_file(engine: Engine, name: str) -> Path | None:
    """The file whose `flock` is the lock `name` of a SQLite database; None for an in-memory one."""
    database = engine.url.database or ""
    if engine.url.query.get("uri"):  # sqlite:///file:/srv/hub.db?uri=true
        database = database.removeprefix("file:")
        if engine.url.query.get("mode") == "memory":
            database = ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(f"{database}.lock-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}")


@contextlib.contextmanager
def batch_resolution(engine: Engine, wait: float = 30.0) -> Iterator[None]:
    """Keep live writes (submissions, stewards' edits) off the graph while a batch resolution runs.

    Waits up to `wait` seconds for the live writes in flight to commit (each takes milliseconds), then
    BusyError. PostgreSQL: a live write holds the shared lock until its transaction ends, so getting
    the exclusive one means none is in flight; the request waits in the server's queue. SQLite: a live
    write only looks at the lock, so a write that looked before the lock was taken may still be open:
    a write transaction taken and ended here waits for it (SQLite has one writer at a time).
    """
    deadline = time.monotonic() + wait
    if engine.dialect.name == "postgresql":

        def queue(connection: Connection, key: int) -> None:
            # Waiting in the server's queue, not polling: a live write that comes after this request
            # finds the lock taken (the server queues it behind the exclusive one), so a steady stream
            # of submissions cannot keep the run from starting.
            milliseconds = str(int(wait * 1000))
            connection.execute(text("SELECT set_config('lock_timeout', :ms, false)"), {"ms": milliseconds})
            try:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":
                    raise
                raise _kept_busy(wait) from None
            finally:
                connection.execute(text("RESET lock_timeout"))

        with _advisory(engine, _LIVE, queue):
            yield
        return

    def wait_file(handle: int) -> None:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                _wait_turn(deadline, wait)
        left = max(1, int((deadline - time.monotonic()) * 1000))
        try:
            with engine.connect() as connection:  # live writes that looked before the lock was taken end
                connection.exec_driver_sql(f"PRAGMA busy_timeout={left}")  # first: this waits its turn
                try:  # as SQLite's one writer, for what is left of `wait`
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                    connection.commit()
                finally:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        except OperationalError as exc:  # another writer held on
            if "locked" not in str(exc.orig):
                raise
            raise _kept_busy(wait) from None

    with _flocked(_lock_file(engine, _LIVE), wait_file):
        yield


@contextlib.contextmanager
def _advisory(engine: Engine, name: str, take: Callable[[Connection, int], None]) -> Iterator[None]:
    """PostgreSQL: the session-level advisory lock `name`, taken by `take` on a connection of its own
    (the server drops it if the process dies) and released when the block ends."""
    key = _key(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        take(connection, key)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextlib.contextmanager
def _flocked(path: Path | None, take: Callable[[int], None]) -> Iterator[None]:
    """SQLite: the lock file `path` open while the block runs, locked by `take` (the kernel drops the
    lock when it is closed or the process dies); nothing for an in-memory database (None)."""
    if path is None:
        yield
        return
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        take(handle)
        yield
    finally:
        os.close(handle)


def _kept_busy(wait: float) -> BusyError:
    return BusyError(f"live writes kept the graph busy for {wait:.0f} s; run this again")


def _wait_turn(deadline: float, wait: float) -> None:
    if time.monotonic() > deadline:
        raise _kept_busy(wait)
    time.sleep(0.02)


def resolution_running(session: Session) -> bool:
    """Whether a batch resolution is running on the session's database; call it after `hold_head`.

    On PostgreSQL the answer holds until the session's transaction ends (a shared lock is kept), so
    a batch run waits for this write to commit. On SQLite the write lock `hold_head` took does that.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        took = session.execute(text("SELECT pg_try_advisory_xact_lock_shared(:key)"), {"key": _key(_LIVE)})
        return not took.scalar()
    path = _lock_file(bind.engine, _LIVE)
    if path is None:
        return False
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)
    return False


def refuse_during_resolution(session: Session) -> None:
    """BusyError when a batch resolution is running: a steward's edit made now could be undone by it."""
    if resolution_running(session):
        raise BusyError(
            "a batch resolution (hub resolve) is running and would undo this edit where it moves the same"
            " records; try again when it has finished",
            retry_after=60.0,
        )
