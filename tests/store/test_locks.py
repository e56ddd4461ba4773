"""The locks that keep two runs of one piece of work apart (`hub.store.locks`), on both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.audit import hold_head
from hub.errors import BusyError
from hub.store.database import make_engine
from hub.store.locks import batch_resolution, exclusive, resolution_running
from hub.store.models import ResolutionRun


def test_a_second_holder_is_refused_and_others_are_not(engine: Engine) -> None:
    with exclusive(engine, "resolve", "another hub resolve"):
        refused = pytest.raises(BusyError, match="another hub resolve is running on this database")
        with refused, exclusive(engine, "resolve", "another hub resolve"):
            pass
        with exclusive(engine, "ingest-tax-person", "another ingest"):  # another lock: not blocked
            pass
    with exclusive(engine, "resolve", "another hub resolve"):  # released with the block
        pass


_HOLDER = """
import sys, time
from hub.store.database import make_engine
from hub.store.locks import exclusive
with exclusive(make_engine(sys.argv[1]), "resolve", "held"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_killed_holder_holds_nothing(engine: Engine, database_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, database_url], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError), exclusive(engine, "resolve", "another hub resolve"):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while True:  # the server notices the dead connection at once on a local socket
            try:
                with exclusive(engine, "resolve", "another hub resolve"):
                    break
            except BusyError:
                assert time.monotonic() < deadline, "the lock outlived its holder"
                time.sleep(0.1)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_hub_resolve_is_refused_while_another_runs(
    engine: Engine, database_url: str, hub: Callable[..., tuple[int, str, str]]
) -> None:
    with exclusive(engine, "resolve", "another hub resolve"):
        code, _, err = hub(database_url, "resolve")
    assert code == 2, err
    assert "another hub resolve (or hub load --resolve) is running on this database" in err
    assert hub(database_url, "resolve")[0] == 0  # and goes through once the other is done


def test_a_batch_resolution_starts_once_the_live_write_in_flight_commits(engine: Engine) -> None:
    started: list[float] = []
    live = Session(engine)
    runner: threading.Thread | None = None
    try:
        live.begin()
        hold_head(live)  # a submission or a steward's edit, begun before the batch run
        assert not resolution_running(live)

        def batch() -> None:
            with batch_resolution(engine, wait=20):
                started.append(time.monotonic())
                time.sleep(0.5)  # still running while the next live write looks

        runner = threading.Thread(target=batch)
        runner.start()
        time.sleep(0.4)
        assert not started, "the batch run began under a live write still open"
        with Session(engine) as newcomer:  # a live write coming now already finds the run in its way,
            assert resolution_running(newcomer)  # so a steady stream of them cannot hold it off
        committed = time.monotonic()
        live.commit()
        deadline = time.monotonic() + 10
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started and started[0] >= committed
        with Session(engine) as later, later.begin():
            hold_head(later)
            assert resolution_running(later)  # a live write now sees the run
    finally:
        live.close()
        if runner is not None:
            runner.join(10)
    with Session(engine) as after, after.begin():
        hold_head(after)
        assert not resolution_running(after)  # and no longer once it ended


def test_hub_ingest_resolve_stores_the_file_but_does_not_resolve_beside_another_resolution(
    engine: Engine, database_url: str, hub: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    export = tmp_path / "person.jsonl"
    export.write_text('{"key": "t-1", "name": "王芳", "phone": "13912345678"}\n', encoding="utf-8")
    with exclusive(engine, "resolve", "another hub resolve"):
        code, out, err = hub(
            database_url, "ingest", str(export), "--source", "tax", "--kind", "person", "--resolve"
        )
    assert code == 2, err
    assert "new=1" in out and "another hub resolve (or hub load --resolve) is running" in err
    assert "then run hub resolve: the file is stored" in err

    def runs() -> int | None:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(ResolutionRun))

    assert runs() == 0
    code, _, err = hub(database_url, "resolve", "--kind", "person")
    assert code == 0, err
    assert runs() == 1


def test_a_batch_resolution_gives_up_in_one_line_when_a_writer_holds_on(engine: Engine) -> None:
    """A writer that does not end within the wait: BusyError, not the driver's traceback."""
    with engine.connect() as holder:
        if engine.dialect.name == "sqlite":
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's one writer, begun before the run looked
        else:
            live = Session(bind=holder)
            hold_head(live)
            assert not resolution_running(live)  # it holds the shared lock to its transaction's end
        began = time.monotonic()
        with (
            pytest.raises(BusyError, match="live writes kept the graph busy"),
            batch_resolution(engine, wait=1),
        ):
            pass
        assert time.monotonic() - began < 5
        holder.rollback()
    with batch_resolution(engine, wait=1):  # once it ended, the run goes in
        pass


def test_locks_hold_on_a_sqlite_database_named_as_a_uri(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///file:{tmp_path / 'hub.db'}?uri=true")
    try:
        with (
            exclusive(engine, "resolve", "another hub resolve"),
            pytest.raises(BusyError),
            exclusive(engine, "resolve", "another hub resolve"),
        ):
            pass
        assert (tmp_path / "hub.db.lock-resolve").exists()
    finally:
        engine.dispose()
