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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from hub.errors import BusyError

__all__ = ["exclusive"]


@contextlib.contextmanager
def exclusive(engine: Engine, name: str, what: str | Callable[[], str]) -> Iterator[None]:
    """Hold the lock `name` (e.g. `resolve`) of the database behind `engine` for the block; BusyError
    saying that `what` (e.g. "another hub resolve", or a function that says which run) is running
    when another process holds it."""

    def busy() -> BusyError:
        said = what() if callable(what) else what
        return BusyError(f"{said} is running on this database; wait for it to finish, then run this again")

    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                raise busy()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    database = engine.url.database
    in_memory = not database or database == ":memory:" or bool(engine.url.query.get("uri"))
    if engine.dialect.name != "sqlite" or in_memory:
        yield
        return
    path = Path(f"{database}.lock-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}")
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy() from None
        yield
    finally:
        os.close(handle)  # closing drops the lock
