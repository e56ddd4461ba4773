"""Ingestion edge cases, each with its exact outcome: counts, quarantine reasons and versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from source_files import jsonl, write
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import InputError, UnreadableFileError
from hub.ingest import IngestSummary, ingest_file, ingest_records
from hub.normalize.records import NormalizedRecord, normalize_record
from hub.store.bulk import BulkWriter
from hub.store.models import Entity, Membership, Quarantine, RecordVersion, Source, SourceRecord

ALICE = {"key": "p1", "name": "王伟", "id_number": "11010519491231002X", "phone": "13912345678"}
BOB = {"key": "p2", "name": "李娜", "birth_date": "1985-03-02"}


def run(engine: Engine, path: Path, kind: Kind = Kind.PERSON, **kwargs: object) -> IngestSummary:
    return ingest_file(engine, path, "household_registry", kind, **kwargs)  # type: ignore[arg-type]


def counts(summary: IngestSummary) -> tuple[int, int, int, int]:
    return summary.new, summary.changed, summary.unchanged, summary.quarantined


def quarantined(engine: Engine) -> list[tuple[int | None, str]]:
    with Session(engine) as session:
        rows = session.execute(select(Quarantine.line, Quarantine.reason).order_by(Quarantine.id))
        return [(line, reason) for line, reason in rows]


def versions(engine: Engine, key: str) -> list[tuple[int, dict[str, object]]]:
    with Session(engine) as session:
        rows = session.execute(
            select(RecordVersion.version, RecordVersion.payload)
            .join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == key)
            .order_by(RecordVersion.version)
        )
        return [(version, payload) for version, payload in rows]


def test_empty_file_ingests_nothing(engine: Engine, tmp_path: Path) -> None:
    assert counts(run(engine, write(tmp_path, "empty.jsonl", ""))) == (0, 0, 0, 0)
    assert counts(run(engine, write(tmp_path, "empty.csv", ""))) == (0, 0, 0, 0)
    assert counts(run(engine, write(tmp_path, "blank.jsonl", "\n  \n"))) == (0, 0, 0, 0)


def test_new_records_are_stored_raw_with_one_entity_each(engine: Engine, tmp_path: Path) -> None:
    extra = {**BOB, "collected_by": "网格员07"}
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(ALICE, extra)))
    assert counts(summary) == (2, 0, 0, 0)
    assert versions(engine, "p2") == [(1, extra)]  # unknown extra fields kept verbatim
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Entity)) == 2
        entity_ids = session.scalars(select(Membership.entity_id)).all()
    assert len(set(entity_ids)) == 2
    assert all(e.startswith("per_") for e in entity_ids)


def test_utf8_bom_is_skipped_in_jsonl_and_csv(engine: Engine, tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    summary = run(engine, write(tmp_path, "bom.jsonl", bom + jsonl(ALICE).encode()))
    assert counts(summary) == (1, 0, 0, 0)
    csv_text = "key,name,birth_date\r\np2,李娜,1985-03-02\r\n"
    summary = run(engine, write(tmp_path, "bom.csv", bom + csv_text.encode()))
    assert counts(summary) == (1, 0, 0, 0)
    assert versions(engine, "p2") == [(1, {"key": "p2", "name": "李娜", "birth_date": "1985-03-02"})]


def test_gb18030_csv_is_read_when_asked(engine: Engine, tmp_path: Path) -> None:
    content = "key,name,uscc\n91,常熟市华盛服装有限公司,91350100M000100Y43\n".encode("gb18030")
    path = write(tmp_path, "market.csv", content)
    summary = run(engine, path, Kind.LEGAL_ENTITY, encoding="gb18030")
    assert counts(summary) == (1, 0, 0, 0)
    assert versions(engine, "91")[0][1]["name"] == "常熟市华盛服装有限公司"


def test_gb18030_read_as_utf8_names_the_problem(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "market.csv", "key,name\n91,华盛服装\n".encode("gb18030"))
    with pytest.raises(UnreadableFileError, match="reads as GB18030, not UTF-8; pass --encoding gb18030"):
        run(engine, path, Kind.LEGAL_ENTITY, encoding="utf-8")
    assert quarantined(engine) == []


def test_gb18030_without_an_encoding_is_detected(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "market.csv", "key,name\n91,华盛服装\n".encode("gb18030"))
    summary = run(engine, path, Kind.LEGAL_ENTITY)
    assert counts(summary) == (1, 0, 0, 0)
    assert (summary.encoding, summary.encoding_detected) == ("gb18030", True)
    assert versions(engine, "91")[0][1]["name"] == "华盛服装"


def test_gb18030_jsonl(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", jsonl(ALICE).encode("gb18030"))
    assert counts(run(engine, path, encoding="gb18030")) == (1, 0, 0, 0)
    assert versions(engine, "p1")[0][1]["name"] == "王伟"


def test_broken_json_line_is_quarantined_and_the_rest_goes_in(engine: Engine, tmp_path: Path) -> None:
    content = jsonl(ALICE) + '{"key": "p9", "name": "缺括号"\n' + jsonl(BOB)
    summary = run(engine, write(tmp_path, "p.jsonl", content))
    assert counts(summary) == (2, 0, 0, 1)
    [(line, reason)] = quarantined(engine)
    assert line == 2
    assert reason.startswith("broken JSON:")
    with Session(engine) as session:
        assert session.scalar(select(Quarantine.raw_text)) == '{"key": "p9", "name": "缺括号"'


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"name": "无键"}, "missing key"),
        ({"key": "", "name": "空键"}, "missing key"),
        ({"key": "   ", "name": "空白键"}, "missing key"),
        ({"key": None, "name": "空键"}, "missing key"),
        ({"key": ["a"], "name": "数组键"}, "missing key"),
        (["not", "an", "object"], "not an object: got a JSON array"),
        ("just text", "not an object: got a JSON string"),
        ({"key": "k" * 257, "name": "长键"}, "key too long: 257 characters, the limit is 256"),
    ],
)
def test_unusable_records_are_quarantined_with_reason(
    engine: Engine, tmp_path: Path, record: object, reason: str
) -> None:
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(ALICE, record)))
    assert counts(summary) == (1, 0, 0, 1)
    [(line, stored_reason)] = quarantined(engine)
    assert line == 2
    assert stored_reason.startswith(reason)


def test_numeric_key_is_read_as_text(engine: Engine, tmp_path: Path) -> None:
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl({"key": 4711, "name": "张敏"})))
    assert counts(summary) == (1, 0, 0, 0)
    assert versions(engine, "4711")[0][0] == 1


def test_duplicate_key_within_a_file_keeps_the_first(engine: Engine, tmp_path: Path) -> None:
    changed = {**ALICE, "name": "王 伟"}
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(ALICE, BOB, changed, ALICE)))
    assert counts(summary) == (2, 0, 0, 2)
    assert summary.reasons == {"duplicate key": 2}
    reasons = quarantined(engine)
    assert reasons[0] == (
        3,
        "duplicate key: 'p1' occurs again in this file (first at line 1), "
        "different content; the first was kept",
    )
    assert reasons[1][0] == 4
    assert reasons[1][1].endswith("identical content")
    assert versions(engine, "p1") == [(1, ALICE)]


def test_duplicate_key_across_batches_is_caught_too(engine: Engine, tmp_path: Path) -> None:
    records = [ALICE, BOB, {"key": "p3", "name": "赵六"}, {**ALICE, "name": "王小伟"}]
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(*records)), batch_size=2)
    assert counts(summary) == (3, 0, 0, 1)
    [(line, reason)] = quarantined(engine)
    assert line == 4
    assert reason.startswith("duplicate key: 'p1' occurs again in this file")
    assert versions(engine, "p1") == [(1, ALICE)]


def test_huge_field_within_the_limit_is_kept_whole(engine: Engine, tmp_path: Path) -> None:
    note = "备注" * 200_000  # 400k characters, 1.2 MB in UTF-8 ... over the limit
    small_note = "备" * 100_000  # 300 kB
    content = jsonl({**ALICE, "note": small_note}, {**BOB, "note": note})
    summary = run(engine, write(tmp_path, "p.jsonl", content))
    assert counts(summary) == (1, 0, 0, 1)
    assert versions(engine, "p1")[0][1]["note"] == small_note
    [(line, reason)] = quarantined(engine)
    assert line == 2
    assert reason.startswith("too large: the record is 1200")
    with Session(engine) as session:
        assert note in (session.scalar(select(Quarantine.raw_text)) or "")


def test_huge_csv_field(engine: Engine, tmp_path: Path) -> None:
    big = "路" * 200_000  # bigger than the csv module's default field limit
    path = write(tmp_path, "p.csv", f"key,name,address\np1,王伟,{big}\n")
    summary = run(engine, path)
    assert counts(summary) == (1, 0, 0, 0)
    assert versions(engine, "p1")[0][1]["address"] == big


def test_wrong_kind_is_quarantined(engine: Engine, tmp_path: Path) -> None:
    company = {"key": "c1", "uscc": "91350100M000100Y43", "legal_representative": "王伟"}
    stated = {"key": "c2", "kind": "legal_entity", "name": "华盛服装"}
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(ALICE, company, stated)))
    assert counts(summary) == (1, 0, 0, 2)
    reasons = [reason for _, reason in quarantined(engine)]
    assert reasons == [
        "wrong kind: fields legal_representative, uscc belong to another kind and none of person's "
        "fields is present",
        "wrong kind: the record says 'legal_entity', the file is ingested as person",
    ]


def test_reingesting_the_same_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", jsonl(ALICE, BOB, {"name": "无键"}))
    assert counts(run(engine, path)) == (2, 0, 0, 1)
    with Session(engine) as session:
        before = session.execute(select(Membership.record_id, Membership.entity_id)).all()
    assert counts(run(engine, path)) == (0, 0, 2, 1)
    with Session(engine) as session:
        assert session.execute(select(Membership.record_id, Membership.entity_id)).all() == before
        assert session.scalar(select(func.count()).select_from(RecordVersion)) == 2
        assert session.scalar(select(func.count()).select_from(Quarantine)) == 1  # no second copy
        assert session.scalar(select(func.count()).select_from(Entity)) == 2


def test_empty_values_and_key_order_do_not_make_a_new_version(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, "a.jsonl", jsonl(BOB)))
    reordered = {"birth_date": "1985-03-02", "phone": "", "name": "李娜", "key": "p2"}
    assert counts(run(engine, write(tmp_path, "b.jsonl", jsonl(reordered)))) == (0, 0, 1, 0)


def test_changed_record_becomes_a_new_version_and_keeps_the_old(engine: Engine, tmp_path: Path) -> None:
    run(engine, write(tmp_path, "v1.jsonl", jsonl(ALICE, BOB)))
    moved = {**ALICE, "address": "虞山街道海虞北路18号"}
    summary = run(engine, write(tmp_path, "v2.jsonl", jsonl(moved, BOB)))
    assert counts(summary) == (0, 1, 1, 0)
    assert versions(engine, "p1") == [(1, ALICE), (2, moved)]
    with Session(engine) as session:
        record = session.scalars(select(SourceRecord).where(SourceRecord.key == "p1")).one()
        assert record.version == 2
        assert session.scalar(select(func.count()).select_from(Membership)) == 2  # same entity
    assert counts(run(engine, write(tmp_path, "v3.jsonl", jsonl(ALICE)))) == (0, 1, 0, 0)
    assert [v for v, _ in versions(engine, "p1")] == [1, 2, 3]


def test_a_record_the_normalizers_fail_on_is_kept_flagged_and_the_file_goes_in(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault of the hub's on one record (injected here: none is known) costs that record its
    features, not the night's file."""
    from hub.ingest import prepare

    def fails_on_one(kind: Kind, record: dict[str, object]) -> NormalizedRecord:
        if record.get("name") == "王伟":
            raise OverflowError("date value out of range")
        return normalize_record(kind, record)

    monkeypatch.setattr(prepare, "normalize_record", fails_on_one)
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(ALICE, BOB)))
    assert counts(summary) == (2, 0, 0, 0) and summary.flagged == 1
    with Session(engine) as session:
        stored = {
            key: (flags, features)
            for key, flags, features in session.execute(
                select(SourceRecord.key, RecordVersion.flags, RecordVersion.features).join(
                    RecordVersion, RecordVersion.record_id == SourceRecord.id
                )
            )
        }
    assert stored["p1"][0] == {
        "record": "the hub could not normalize it (OverflowError); kept as sent, it matches nothing"
    }
    assert stored["p2"][0] == {} and stored["p2"][1]["birth_date"] == "1985-03-02"
    assert versions(engine, "p1")[0][1] == ALICE  # the record as sent
    assert "could not be normalized: OverflowError" in caplog.text and "王伟" not in caplog.text


def test_malformed_identifiers_are_kept_and_flagged(engine: Engine, tmp_path: Path) -> None:
    bad_check = {"key": "p1", "name": "王伟", "id_number": "110105194912310021", "phone": "12345"}
    old_id = {"key": "p2", "name": "李娜", "id_number": "110105491231002"}
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(bad_check, old_id)))
    assert counts(summary) == (2, 0, 0, 0)
    assert summary.flagged == 1
    with Session(engine) as session:
        rows: dict[str, dict[str, str]] = dict(
            session.execute(
                select(SourceRecord.key, RecordVersion.flags).join(
                    RecordVersion, RecordVersion.record_id == SourceRecord.id
                )
            ).all()
        )
        features = session.scalar(
            select(RecordVersion.features)
            .join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == "p2")
        )
    assert rows["p1"] == {
        "id_number": "check digit 1, expected X",
        "phone": "5 digits is neither mobile nor landline",
    }
    assert rows["p2"] == {}
    assert features == {
        "name": "李娜",
        "name_pinyin": "li na",
        "name_key": "li na",
        "name_sound_key": "li la",
        "surname": "李",
        "id_number": "11010519491231002X",
        "id_number_valid": True,
        "id_birth_date": "1949-12-31",
        "id_sex": "F",
        "sex": "F",
        "birth_date": "1949-12-31",
    }
    assert versions(engine, "p1")[0][1]["id_number"] == "110105194912310021"  # raw evidence kept


def test_json_array_file(engine: Engine, tmp_path: Path) -> None:
    content = json.dumps([ALICE, BOB, 7, {"name": "无键"}], ensure_ascii=False)
    summary = run(engine, write(tmp_path, "p.json", content))
    assert counts(summary) == (2, 0, 0, 2)
    assert [line for line, _ in quarantined(engine)] == [3, 4]


def test_broken_json_array_keeps_what_parsed_and_quarantines_the_rest(engine: Engine, tmp_path: Path) -> None:
    content = json.dumps([ALICE, BOB], ensure_ascii=False)[:-1] + ', {"key": "p3", "na'
    summary = run(engine, write(tmp_path, "p.json", content))
    assert counts(summary) == (2, 0, 0, 1)
    [(line, reason)] = quarantined(engine)
    assert line == 3
    assert reason.startswith("file not read to its end: the file ends inside element 3")


def test_csv_row_with_wrong_field_count(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", 'key,name\np1,王伟\np2,李娜,多余\n"p3","多行\n姓名"\n')
    summary = run(engine, path)
    assert counts(summary) == (2, 0, 0, 1)
    assert quarantined(engine) == [(3, "wrong field count: 3 fields, the header has 2")]
    assert versions(engine, "p3")[0][1]["name"] == "多行\n姓名"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.pdf", "x", r"unknown format '\.pdf'; use \.jsonl, \.ndjson, \.json, \.csv \(\.tsv, \.txt\)"),
        ("p.json", '{"key": "p1"}', "must hold one JSON array"),
        ("p.csv", "key,key\n1,2\n", "empty or repeated names"),
    ],
)
def test_file_that_cannot_be_read_as_a_whole_raises(
    engine: Engine, tmp_path: Path, name: str, content: str, message: str
) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        run(engine, write(tmp_path, name, content))


def test_missing_file_raises(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="cannot open"):
        run(engine, tmp_path / "nope.jsonl")


def test_bad_source_name_is_refused(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(InputError, match="source name 'Public Security'"):
        ingest_records(session, "Public Security", Kind.PERSON, [ALICE])


def test_the_hubs_own_source_name_is_refused_for_a_file(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", jsonl({"key": "a1", "address": "虞山街道金色家园1幢101室"}))
    with pytest.raises(InputError, match="'hub' is the hub's own"):
        ingest_file(engine, path, "hub", Kind.ADDRESS, workers=0)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 0


@pytest.mark.parametrize(
    ("commit_every", "commit_seconds", "crash_in_batch", "kept"),
    [
        (1, 3600, 2, ["p0", "p1"]),  # a commit after every batch of two
        (4, 3600, 3, ["p0", "p1", "p2", "p3"]),  # a commit after every four records: batches 1 and 2
        (4, 3600, 2, []),  # the crash comes before the first commit
        (1000, 0, 2, ["p0", "p1"]),  # few records, but the time since the last commit is up
    ],
)
def test_crash_mid_batch_leaves_the_last_committed_state(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    commit_every: int,
    commit_seconds: float,
    crash_in_batch: int,
    kept: list[str],
) -> None:
    records = [{"key": f"p{i}", "name": "王伟"} for i in range(7)]
    path = write(tmp_path, "p.jsonl", jsonl(*records))
    real_insert = BulkWriter.insert
    version_writes = 0

    def crash_in_a_version_write(self: BulkWriter, table: str, *args: object, **kwargs: object) -> None:
        nonlocal version_writes
        if table == "record_version":
            version_writes += 1
            if version_writes == crash_in_batch:  # the batch's records, entities and memberships are written
                raise MemoryError("simulated crash in the middle of a batch")
        real_insert(self, table, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BulkWriter, "insert", crash_in_a_version_write)
    with pytest.raises(MemoryError):
        run(engine, path, batch_size=2, commit_every=commit_every, commit_seconds=commit_seconds)
    with Session(engine) as session:
        assert session.scalars(select(SourceRecord.key).order_by(SourceRecord.key)).all() == kept
        assert session.scalar(select(func.count()).select_from(Entity)) == len(kept)
        assert session.scalar(select(func.count()).select_from(RecordVersion)) == len(kept)
    monkeypatch.undo()
    again = run(engine, path, batch_size=2, commit_every=commit_every)
    assert counts(again) == (7 - len(kept), 0, len(kept), 0)


def test_a_reader_thread_reads_large_files_with_the_same_outcome(engine: Engine, tmp_path: Path) -> None:
    records = [{"key": f"p{i}", "name": "王伟", "id_number": "110105194912310021"} for i in range(7)]
    content = jsonl(*records) + "broken\n" + jsonl(records[0])
    path = write(tmp_path, "p.jsonl", content)
    summary = run(engine, path, batch_size=3, parallel=True)
    assert counts(summary) == (7, 0, 0, 2)
    assert summary.flagged == 7
    assert sorted(reason.split(":")[0] for _, reason in quarantined(engine)) == [
        "broken JSON",
        "duplicate key",
    ]
    assert counts(run(engine, path, batch_size=3, parallel=True)) == (0, 0, 7, 2)


def test_a_reader_thread_reports_an_unreadable_file(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "key,key\n1,2\n")
    with pytest.raises(UnreadableFileError, match="empty or repeated names"):
        run(engine, path, parallel=True)


def features_by_key(engine: Engine, source: str) -> dict[str, tuple[object, object, object]]:
    with Session(engine) as session:
        rows = session.execute(
            select(SourceRecord.key, RecordVersion.features, RecordVersion.flags, RecordVersion.match)
            .join(RecordVersion, RecordVersion.record_id == SourceRecord.id)
            .join(SourceRecord.source)
            .where(Source.name == source)
        )
        return {key: (features, flags, match) for key, features, flags, match in rows}


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_normalizing_processes_store_what_this_process_would(
    engine: Engine, tmp_path: Path, suffix: str
) -> None:
    records = [
        ALICE,
        BOB,
        {"key": "p3", "name": "歐陽 娜娜", "gender": "女", "address": "苏州市姑苏区人民路100号3幢2单元401室"},
        {"key": "p4", "name": "张三", "id_number": "320581198501011234", "phone": "12345"},
        {"key": "p5", "name": "李四", "birth_date": "1985-13-45", "registered_address": "上海市浦东新区"},
        *({"key": f"q{i}", "name": f"赵{i}", "phone": f"1391234{i:04d}"} for i in range(40)),
    ]
    if suffix == "jsonl":
        content = jsonl(*records)
    else:
        header = [
            "key",
            "name",
            "gender",
            "id_number",
            "phone",
            "birth_date",
            "address",
            "registered_address",
        ]
        rows = [",".join(str(r.get(name, "")) for name in header) for r in records]
        content = "\n".join([",".join(header), *rows]) + "\n"
    path = write(tmp_path, f"p.{suffix}", content)
    here = ingest_file(engine, path, "here", Kind.PERSON, batch_size=7, parallel=True, workers=0)
    ahead = ingest_file(engine, path, "ahead", Kind.PERSON, batch_size=7, parallel=True, workers=2)
    assert (ahead.new, ahead.flagged) == (here.new, here.flagged) == (len(records), 2)
    assert features_by_key(engine, "ahead") == features_by_key(engine, "here")
    assert features_by_key(engine, "here")["p3"][0]["address"]["road"] == "人民路"  # type: ignore[index]
    assert features_by_key(engine, "here")["p3"][2] == {  # the flat fields resolution reads
        "name": "欧阳娜娜",
        "name_key": "ou yang na na",
        "name_sound_key": "ou yan la la",
        "sex": "F",
        "home": "人民路100号|3|2|401",
        "home_room": "人民路100号|3|401",
        "home_building": "人民路100号|3",
        "place": "人民路100号|3|2|401",  # the residence, there being one
        "place_room": "人民路100号|3|401",
        "place_building": "人民路100号|3",
        "place_dwelling": "人民路100号|3|2|401",  # the flat, else the village house
    }


def test_python_api_flushes_and_leaves_the_commit_to_the_caller(engine: Engine) -> None:
    with Session(engine) as session:
        summary = ingest_records(session, "grid_collection", Kind.PERSON, [ALICE, BOB])
        assert counts(summary) == (2, 0, 0, 0)
        session.rollback()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 0
