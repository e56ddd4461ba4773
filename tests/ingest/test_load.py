"""A load: several files through one pipeline (`ingest_files`, `hub load`), each as `ingest_file` would."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from source_files import jsonl, write
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import InputError, UnreadableFileError
from hub.generate import generate_city
from hub.ingest import LoadFile, ingest_file, ingest_files
from hub.ingest.manifest import read_manifest
from hub.normalize.records import normalize_record
from hub.store.models import IngestRun, Quarantine, RecordVersion, Source, SourceRecord


def stored(engine: Engine) -> dict[tuple[str, str, str], tuple[object, object, object, str]]:
    """Every stored version by (source, kind, key): its features, flags, match fields and payload."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                Source.name,
                SourceRecord.kind,
                SourceRecord.key,
                RecordVersion.features,
                RecordVersion.flags,
                RecordVersion.match,
                RecordVersion.payload,
            )
            .join(RecordVersion, RecordVersion.record_id == SourceRecord.id)
            .join(SourceRecord.source)
        )
        return {(s, str(k), key): (f, fl, m, p) for s, k, key, f, fl, m, p in rows}


def city_files(tmp_path: Path) -> list[LoadFile]:
    manifest = generate_city(120, 5, tmp_path / "city", profile="field-notes")
    return [LoadFile(tmp_path / "city" / f.path, f.source, Kind(f.kind), f.encoding) for f in manifest.files]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> list[LoadFile]:
    return city_files(tmp_path_factory.mktemp("load"))


def test_a_load_stores_what_one_command_per_file_stores(engine: Engine, city: list[LoadFile]) -> None:
    summaries = ingest_files(engine, city, batch_size=40, parallel=True, workers=1)
    assert [(s.source, s.kind, s.file) for s in summaries] == [(f.source, f.kind, f.path.name) for f in city]
    assert sum(s.new for s in summaries) > 300
    with Session(engine) as session:
        runs = session.execute(
            select(IngestRun.file_name, IngestRun.new, IngestRun.finished_at).order_by(IngestRun.id)
        ).all()
    assert [(name, new) for name, new, _ in runs] == [(s.file, s.new) for s in summaries]
    assert all(finished is not None for _, _, finished in runs)

    # the same files one command each, in this process, as sources of other names
    one_by_one = [
        ingest_file(engine, f.path, f"again_{f.source}", f.kind, encoding=f.encoding, batch_size=40)
        for f in city
    ]
    assert [(s.new, s.flagged, s.quarantined) for s in one_by_one] == [
        (s.new, s.flagged, s.quarantined) for s in summaries
    ]
    everything = stored(engine)
    loaded = {key: value for key, value in everything.items() if not key[0].startswith("again_")}
    again = {
        (s.removeprefix("again_"), k, key): v
        for (s, k, key), v in everything.items()
        if s.startswith("again_")
    }
    assert again == loaded


def test_a_load_again_finds_every_record_unchanged(engine: Engine, city: list[LoadFile]) -> None:
    first = ingest_files(engine, city, batch_size=50, parallel=True, workers=1)
    again = ingest_files(engine, city, batch_size=50, parallel=True, workers=1)
    assert [s.unchanged for s in again] == [s.new for s in first]
    assert sum(s.new + s.changed for s in again) == 0


def test_an_empty_file_within_a_load_gets_its_run_and_releases_fixed_rows(
    engine: Engine, tmp_path: Path
) -> None:
    people = write(tmp_path, "people.jsonl", jsonl({"key": "p1", "name": "王伟"}))
    homes = write(tmp_path, "homes.jsonl", "broken\n")
    companies = write(tmp_path, "companies.jsonl", jsonl({"key": "c1", "name": "常熟市华兴机械有限公司"}))
    files = [
        LoadFile(people, "household_registry", Kind.PERSON),
        LoadFile(homes, "doorplate_platform", Kind.ADDRESS),
        LoadFile(companies, "market_regulation", Kind.LEGAL_ENTITY),
    ]
    assert [s.quarantined for s in ingest_files(engine, files, parallel=True, workers=1)] == [0, 1, 0]
    homes.write_text("")  # the department fixed its export: nothing left to send
    summaries = ingest_files(engine, files, parallel=True, workers=1)
    assert [(s.file, s.read, s.released) for s in summaries] == [
        ("people.jsonl", 1, 0),
        ("homes.jsonl", 0, 1),
        ("companies.jsonl", 1, 0),
    ]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 6
        released = session.scalar(select(Quarantine.released_by_run_id))
    assert released == summaries[1].run_id


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (LoadFile(Path("missing.jsonl"), "tax", Kind.PERSON), UnreadableFileError, "missing.jsonl"),
        (LoadFile(Path("people.jsonl"), "Tax Bureau", Kind.PERSON), InputError, "source name"),
    ],
)
def test_a_load_checks_every_file_before_storing_anything(
    engine: Engine, tmp_path: Path, bad: LoadFile, error: type[Exception], match: str
) -> None:
    good = write(tmp_path, "people.jsonl", jsonl({"key": "p1", "name": "王伟"}))
    bad = LoadFile(tmp_path / bad.path, bad.source, bad.kind)
    with pytest.raises(error, match=match):
        ingest_files(engine, [LoadFile(good, "household_registry", Kind.PERSON), bad], parallel=True)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 0
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 0


def test_a_failure_in_a_later_file_keeps_the_files_before(engine: Engine, tmp_path: Path) -> None:
    first = write(tmp_path, "people.jsonl", jsonl(*({"key": f"p{i}", "name": "王伟"} for i in range(5))))
    # a JSON array whose text breaks off: the reader cannot go on past that point and says so
    second = write(tmp_path, "more.json", '[{"key": "q1", "name": "李娜"}, {"key": "q2", "name": ')
    files = [LoadFile(first, "household_registry", Kind.PERSON), LoadFile(second, "tax", Kind.PERSON)]
    summaries = ingest_files(engine, files, batch_size=2, parallel=True, workers=1)
    assert [s.new for s in summaries] == [5, 1]
    assert summaries[1].quarantined == 1


def test_the_manifest_hub_generate_writes_is_a_load(tmp_path: Path) -> None:
    manifest = generate_city(30, 3, tmp_path)
    files = read_manifest(tmp_path / "manifest.json")
    assert [(f.path, f.source, f.kind, f.encoding) for f in files] == [
        (tmp_path / f.path, f.source, Kind(f.kind), f.encoding) for f in manifest.files
    ]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "is not JSON"),
        ('{"files": []}', "non-empty list 'files'"),
        ('{"files": [{"path": "a.jsonl", "kind": "person"}]}', "file 1: source missing"),
        ('{"files": [{"path": "a.jsonl", "source": "tax", "kind": "building"}]}', "file 1: unknown kind"),
        (
            '{"files": [{"path": "gone.jsonl", "source": "tax", "kind": "person"}]}',
            "gone.jsonl does not exist",
        ),
        (
            '{"files": [{"path": "a.jsonl", "source": "tax", "kind": "person"},'
            ' {"path": "./a.jsonl", "source": "tax", "kind": "PERSON"}]}',
            "files 1 and 2 are the same file",
        ),
    ],
)
def test_a_bad_manifest_names_the_entry_and_the_problem(tmp_path: Path, content: str, match: str) -> None:
    write(tmp_path, "a.jsonl", jsonl({"key": "p1", "name": "王伟"}))
    path = write(tmp_path, "load.json", content)
    with pytest.raises(InputError, match=match):
        read_manifest(path)


def test_hub_load_ingests_a_manifest_and_reports_each_file(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "people.jsonl", jsonl({"key": "p1", "name": "王伟"}, {"key": "p2", "name": "李娜"}))
    write(tmp_path, "homes.csv", "key,address\nh1,苏州市姑苏区人民路100号\nh2\n")
    manifest = {
        "files": [
            {"path": "people.jsonl", "source": "household_registry", "kind": "person"},
            {"path": "homes.csv", "source": "doorplate_platform", "kind": "address", "encoding": "utf-8"},
        ]
    }
    load = write(tmp_path, "load.json", json.dumps(manifest))
    code, out, err = hub(database_url, "load", str(load))
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("files=2 runs=1,2 new=3 changed=0 unchanged=0 quarantined=1 seconds=")
    assert "homes.csv" in err and "doorplate_platform" in err

    code, out, err = hub(database_url, "load", str(load), "--max-bad-rows", "0.2")
    assert code == 1
    assert "1 of 2 rows of homes.csv (50%) were quarantined" in err
    assert "unchanged=3" in out.strip().splitlines()[-1]


def test_hub_load_says_how_it_read_each_file(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    """An operator sees each file's encoding, whether it was detected, and a separator other than the
    comma, on the file's row of the table."""
    write(tmp_path, "people.jsonl", jsonl({"key": "p1", "name": "王伟"}))
    (tmp_path / "tenants.csv").write_bytes("key\tname\nt1\t李娜\nt2\t张伟\n".encode("gb18030"))
    write(tmp_path, "homes.csv", "key,address\nh1,苏州市姑苏区人民路100号\n")
    manifest = {
        "files": [
            {"path": "people.jsonl", "source": "household_registry", "kind": "person"},
            {"path": "tenants.csv", "source": "rental_registry", "kind": "person"},
            {"path": "homes.csv", "source": "doorplate_platform", "kind": "address", "encoding": "utf-8"},
        ]
    }
    code, out, err = hub(database_url, "load", str(write(tmp_path, "load.json", json.dumps(manifest))))
    assert code == 0, err
    assert "new=4" in out.strip().splitlines()[-1]
    header = next(line for line in err.splitlines() if line.split()[:1] == ["file"])
    assert "read as" in header
    rows = {
        line.split()[0]: line for line in err.splitlines() if line.split()[:1] != ["file"] and line.strip()
    }
    assert "utf-8 (detected)" in rows["people.jsonl"]
    assert "gb18030 (detected), tab" in rows["tenants.csv"]
    assert "utf-8" in rows["homes.csv"] and "detected" not in rows["homes.csv"]


def test_an_empty_export_is_warned_of_by_ingest_and_load(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    """An export with only its header is most often a job that failed at the department."""
    write(tmp_path, "people.jsonl", jsonl({"key": "p1", "name": "王伟"}))
    empty = write(tmp_path, "homes.csv", "key,address\n")
    manifest = {
        "files": [
            {"path": "people.jsonl", "source": "household_registry", "kind": "person"},
            {"path": "homes.csv", "source": "doorplate_platform", "kind": "address"},
        ]
    }
    code, _, err = hub(database_url, "load", str(write(tmp_path, "load.json", json.dumps(manifest))))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: homes.csv holds no records")
    code, _, err = hub(
        database_url, "ingest", str(empty), "--source", "doorplate_platform", "--kind", "address"
    )
    assert code == 0, err
    assert "warning: homes.csv holds no records; an export that failed at the department" in " ".join(
        err.split()
    )


def test_hub_load_refuses_a_bad_manifest_with_a_message(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    load = write(
        tmp_path, "load.json", '{"files": [{"path": "gone.jsonl", "source": "tax", "kind": "person"}]}'
    )
    code, _, err = hub(database_url, "load", str(load))
    assert code == 2
    assert "file 1: " in err and "gone.jsonl does not exist" in err


def test_reading_goes_on_once_the_writer_is_done_with_a_batch_still_being_normalized() -> None:
    """An unchanged export: the writer releases each batch without its normalized records, and reading
    must not wait for a worker still finishing them (it would pace the load at the workers' speed)."""
    import threading
    from collections import deque
    from concurrent.futures import Future

    from hub.ingest.pipeline import _QUEUE_DEPTH, _wait_for_room
    from hub.ingest.prepare import PreparedBatch

    running = [PreparedBatch(normalizing=[Future()]) for _ in range(_QUEUE_DEPTH + 1)]
    for batch in running:
        assert batch.normalizing and batch.normalizing[0].set_running_or_notify_cancel()
    ahead = deque(running)
    waiter = threading.Thread(target=_wait_for_room, args=(ahead,), daemon=True)
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # every batch still wanted and being normalized: no room
    running[0].release()  # the writer is done with the oldest; its worker is not
    waiter.join(2.0)
    assert not waiter.is_alive()
    assert len(ahead) == _QUEUE_DEPTH


def test_normalized_values_are_stored_as_json_text_the_database_reads(
    engine: Engine, city: list[LoadFile]
) -> None:
    """The normalizers hand their JSON over as UTF-8 bytes: it must land as text, not as a blob."""
    ingest_files(engine, city[:1], batch_size=40, parallel=True, workers=1)
    sqlite = engine.dialect.name == "sqlite"
    name = "json_extract(v.match, '$.name')" if sqlite else "v.match->>'name'"
    types = "typeof(v.features) || typeof(v.flags) || typeof(v.match)" if sqlite else "'texttexttext'"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            f"SELECT {types}, {name}, v.payload FROM record_version v"
            " JOIN source_record r ON r.id = v.record_id WHERE r.kind = 'person'"
        ).all()
    assert rows and {kind for kind, _, _ in rows} == {"texttexttext"}
    named = [(found, payload) for _, found, payload in rows if found]
    assert len(named) > len(rows) / 2
    assert any(not found.isascii() for found, _ in named)  # Chinese names read back as text


def test_a_load_collects_cycles_less_often_and_puts_the_thresholds_back(
    engine: Engine, city: list[LoadFile]
) -> None:
    import gc

    from hub.ingest import pipeline

    seen: list[tuple[int, int, int]] = []
    before = gc.get_threshold()
    ingest_files(engine, city[:1], batch_size=40, done=lambda _summary: seen.append(gc.get_threshold()))
    assert seen == [pipeline._WORKER_GC_THRESHOLDS]
    assert gc.get_threshold() == before
    with pytest.raises(InputError), pipeline.paced_collector():
        with pipeline.paced_collector():
            pass
        assert gc.get_threshold() == pipeline._WORKER_GC_THRESHOLDS  # until the outer load ends
        raise InputError("a failed load")
    assert gc.get_threshold() == before
    # and a normalizing process runs with them from its start
    pool, _ = pipeline._pool(1)
    assert pool.submit(gc.get_threshold).result() == pipeline._WORKER_GC_THRESHOLDS


def test_while_new_workers_start_the_first_batch_is_normalized_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.ingest import pipeline

    monkeypatch.setattr(pipeline, "_pools", {})  # no workers started yet in this process
    path = write(tmp_path, "p.jsonl", jsonl(*({"key": f"p{i}", "name": "王伟"} for i in range(9))))
    files = [pipeline.FileToRead(path, "utf-8", Kind.PERSON)]
    try:
        first = [batch for _, batch in pipeline._read(files, 3, 1) if batch is not None]
        again = [batch for _, batch in pipeline._read(files, 3, 1) if batch is not None]
    finally:
        for pool in pipeline._pools.values():
            pool.shutdown()
    assert [b.normalizing is None for b in first] == [True, False, False]
    assert [b.normalizing is None for b in again] == [False, False, False]  # the workers are warm now
    for batch in first + again:
        assert [batch.normalized(Kind.PERSON, key)[0] for key in batch.items] == [
            orjson.dumps(normalize_record(Kind.PERSON, item.record).features) for item in batch.items.values()
        ]


def test_what_a_normalizing_process_sends_back_is_what_this_process_would_make() -> None:
    """Payloads cross to a worker packed and come back pickled without a memo: nothing may change on
    the way, neither a flagged record nor one whose text needs escaping, nor an empty batch."""
    import pickle

    from hub.ingest.prepare import normalize_packed, normalize_payloads, pack

    payloads = [
        orjson.dumps(record)
        for record in (
            {"key": "p1", "name": "欧阳娜娜", "phone": "138 0013 8000", "address": "人民路100号3幢401室"},
            {"key": "p2", "name": "王伟", "id_number": "not a number", "gender": "x"},  # flagged twice
            {"key": "p3", "name": "李\n雷", "employer_name": '某某"科技"有限公司'},
            {"key": "p4"},
        )
    ]
    here = normalize_payloads(Kind.PERSON, payloads)
    assert pickle.loads(normalize_packed(Kind.PERSON, pack(payloads))) == here
    assert [flagged for _, _, flagged, _, _ in here] == [False, True, False, False]
    assert pickle.loads(normalize_packed(Kind.PERSON, pack([]))) == []
