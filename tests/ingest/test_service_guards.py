"""Guards around ingestion: one ingest of a source and kind at a time, a file known by its name within
its source and kind, and a quarantined row kept under its own file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest import ingest_file
from hub.ingest.quarantine import quarantined_rows
from hub.ingest.service import ingest_lock
from hub.store.database import make_engine
from hub.store.models import IngestRun, SourceRecord

Hub = Callable[..., tuple[int, str, str]]

PEOPLE = "key,name,phone\nP1,张三,13800000001\nP2,李四,13800000002\n"
BAD_ROW = ",无编号,139"  # no key: quarantined


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ingest(hub: Hub, database_url: str, path: Path, source: str = "grid_collection") -> tuple[int, str, str]:
    return hub(
        database_url, "ingest", str(path), "--source", source, "--kind", "person", "--max-bad-rows", "1"
    )


def counts(database_url: str) -> tuple[int, int]:
    """(ingest runs, source records) stored."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            runs = session.scalar(select(func.count()).select_from(IngestRun)) or 0
            records = session.scalar(select(func.count()).select_from(SourceRecord)) or 0
            return runs, records
    finally:
        engine.dispose()


@contextmanager
def held(database_url: str, source: str, kind: Kind) -> Iterator[None]:
    """Hold the ingest lock of (source, kind) as another run would (on a connection, or a file
    descriptor, of its own)."""
    engine = make_engine(database_url)
    try:
        with ingest_lock(engine, source, kind):
            yield
    finally:
        engine.dispose()


def test_a_second_ingest_of_a_source_and_kind_is_refused_while_one_holds_it(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "person.csv", PEOPLE)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps({"files": [{"path": "person.csv", "source": "grid_collection", "kind": "person"}]})
    )
    with held(database_url, "grid_collection", Kind.PERSON):
        code, _out, err = ingest(hub, database_url, path)
        assert code == 2, err
        assert err.startswith("error: another ingest of grid_collection/person")
        assert "is running on this database; wait for it" in err and len(err.strip().splitlines()) == 1
        code, _out, err = hub(database_url, "load", str(manifest))
        assert code == 2 and "another ingest of grid_collection/person" in err
        assert counts(database_url) == (0, 0)
        # another source (or kind) is not held up
        code, _out, err = ingest(hub, database_url, path, source="rental_registry")
        assert code == 0, err
        assert counts(database_url) == (1, 2)
    code, _out, err = ingest(hub, database_url, path)
    assert code == 0, err
    assert counts(database_url) == (2, 4)


def test_the_refusal_names_the_unfinished_run(hub: Hub, database_url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "person.csv", PEOPLE)
    engine = make_engine(database_url)
    try:
        ingest_file(engine, path, "grid_collection", Kind.PERSON)
        with Session(engine) as session:
            run = session.scalars(select(IngestRun)).one()
            run.finished_at = None  # as while it runs
            session.commit()
            run_id = run.id
    finally:
        engine.dispose()
    with held(database_url, "grid_collection", Kind.PERSON):
        code, _out, err = ingest(hub, database_url, path)
    assert code == 2
    assert f"another ingest of grid_collection/person (run {run_id}, since " in err


def test_the_lock_dies_with_a_killed_process(hub: Hub, database_url: str, tmp_path: Path) -> None:
    """A run killed while it holds the lock does not keep the next one out."""
    path = write(tmp_path / "person.csv", PEOPLE)
    script = (
        "import sys, time\n"
        "from hub.domain import Kind\n"
        "from hub.ingest.service import ingest_lock\n"
        "from hub.store.database import make_engine\n"
        "with ingest_lock(make_engine(sys.argv[1]), 'grid_collection', Kind.PERSON):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    command = [sys.executable, "-c", script, database_url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            code, _out, err = ingest(hub, database_url, path)
            assert code == 2 and "another ingest of grid_collection/person" in err
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    code, _out, err = ingest(hub, database_url, path)
    assert code == 0, err


def test_a_load_of_two_files_of_one_name_source_and_kind_is_refused(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    write(tmp_path / "district_a" / "person.csv", PEOPLE)
    write(tmp_path / "district_b" / "person.csv", PEOPLE.replace("P", "Q"))
    manifest = tmp_path / "manifest.json"
    entries = [
        {"path": f"{district}/person.csv", "source": "grid_collection", "kind": "person"}
        for district in ("district_a", "district_b")
    ]
    manifest.write_text(json.dumps({"files": entries}))
    code, _out, err = hub(database_url, "load", str(manifest))
    assert code == 2
    assert "are both person.csv of grid_collection/person" in err and "rename one" in err
    assert len(err.strip().splitlines()) == 1
    assert counts(database_url) == (0, 0)
    # under another source or kind, the same name is another file
    entries[1]["source"] = "rental_registry"
    manifest.write_text(json.dumps({"files": entries}))
    code, _out, err = hub(database_url, "load", str(manifest))
    assert code == 0, err


def open_rows(database_url: str, file: str) -> list[tuple[str, bool]]:
    """The quarantined rows listed under `file`, open or released: (raw text, released)."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            found = quarantined_rows(session, file=file, released=True)
            return [(row.raw_text, row.released_at is not None) for row in found]
    finally:
        engine.dispose()


def test_the_same_bad_row_in_two_files_is_kept_under_each(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    x1 = write(tmp_path / "x1.csv", f"key,name,phone\nA1,张三,138\n{BAD_ROW}\n")
    x2 = write(tmp_path / "x2.csv", f"key,name,phone\nB1,李四,137\n{BAD_ROW}\n")
    assert ingest(hub, database_url, x1)[0] == 0
    assert ingest(hub, database_url, x2)[0] == 0
    assert open_rows(database_url, "x1.csv") == [(BAD_ROW, False)]
    assert open_rows(database_url, "x2.csv") == [(BAD_ROW, False)]
    # x2 again adds no copy
    assert ingest(hub, database_url, x2)[0] == 0
    assert open_rows(database_url, "x2.csv") == [(BAD_ROW, False)]
    # fixing x1 releases x1's row alone: x2 still holds it
    write(tmp_path / "x1.csv", "key,name,phone\nA1,张三,138\n")
    assert ingest(hub, database_url, x1)[0] == 0
    assert open_rows(database_url, "x1.csv") == [(BAD_ROW, True)]
    assert open_rows(database_url, "x2.csv") == [(BAD_ROW, False)]
