"""Hostile input: text a database cannot store, wrongly typed fields, repeated bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_files import jsonl, write
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest import IngestSummary, ingest_file, ingest_records
from hub.store.models import Quarantine, RecordVersion, SourceRecord


def run(engine: Engine, path: Path, **kwargs: object) -> IngestSummary:
    return ingest_file(engine, path, "grid_collection", Kind.PERSON, **kwargs)  # type: ignore[arg-type]


def counts(summary: IngestSummary) -> tuple[int, int, int, int]:
    return summary.new, summary.changed, summary.unchanged, summary.quarantined


def quarantine_rows(engine: Engine) -> list[tuple[int | None, str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Quarantine.line, Quarantine.reason, Quarantine.raw_text).order_by(Quarantine.line)
        )
        return [(line, reason, text) for line, reason, text in rows]


def stored_keys(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(select(SourceRecord.key)))


GOOD = [{"key": f"p{i}", "name": "王伟", "phone": f"1391234{i:04d}"} for i in range(20)]


@pytest.mark.parametrize("parallel", [False, True])
def test_nul_escape_in_jsonl_quarantines_the_row_and_the_rest_goes_in(
    engine: Engine, tmp_path: Path, parallel: bool
) -> None:
    bad = '{"key": "x1", "name": "王\\u0000伟"}\n'
    path = write(tmp_path, "p.jsonl", jsonl(*GOOD[:10]) + bad + jsonl(*GOOD[10:]))
    summary = run(engine, path, batch_size=7, parallel=parallel, workers=0)
    assert counts(summary) == (20, 0, 0, 1)
    [(line, reason, text)] = quarantine_rows(engine)
    assert line == 11
    assert "contains a NUL character" in reason
    assert "'name'" in reason
    assert text == bad.rstrip("\n")  # the source's own escape: text that can be stored
    assert stored_keys(engine) == sorted(r["key"] for r in GOOD)
    assert counts(run(engine, path, batch_size=7, parallel=parallel, workers=0)) == (0, 0, 20, 1)


def test_raw_nul_byte_in_jsonl_names_the_field_and_is_stored_replaced(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", jsonl(GOOD[0]) + '{"key": "x1", "phone": "139\x00"}\n' + jsonl(GOOD[1]))
    summary = run(engine, path)
    assert counts(summary) == (2, 0, 0, 1)
    [(line, reason, text)] = quarantine_rows(engine)
    assert line == 2
    assert "contains a NUL character" in reason and "'phone'" in reason
    assert text == '{"key": "x1", "phone": "139\ufffd"}'  # NUL stored as U+FFFD, said so in the reason
    assert "U+FFFD" in reason


def test_nul_in_a_field_name_and_a_nested_value(engine: Engine, tmp_path: Path) -> None:
    rows = [GOOD[0], {"key": "x1", "na\x00me": "王伟"}, {"key": "x2", "name": "李娜", "tags": ["a", "b\x00"]}]
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(*rows)))
    assert counts(summary) == (1, 0, 0, 2)
    reasons = [reason for _, reason, _ in quarantine_rows(engine)]
    assert "field name 'na\\x00me' contains a NUL character" in reasons[0]
    assert "'tags[1]'" in reasons[1]


def test_nul_in_csv_quarantines_the_row(engine: Engine, tmp_path: Path) -> None:
    content = "key,name,phone\np1,王伟,13912340001\np2,李\x00娜,13912340002\np3,张敏,13912340003\n"
    summary = run(engine, write(tmp_path, "p.csv", content))
    assert counts(summary) == (2, 0, 0, 1)
    [(line, reason, text)] = quarantine_rows(engine)
    assert line == 3
    assert "contains a NUL character" in reason and "'name'" in reason
    assert text == "p2,李\ufffd娜,13912340002"
    assert stored_keys(engine) == ["p1", "p3"]


def test_nul_in_a_json_array(engine: Engine, tmp_path: Path) -> None:
    content = '[{"key": "p1", "name": "王伟"}, {"key": "x1", "name": "\\u0000"}]'
    summary = run(engine, write(tmp_path, "p.json", content))
    assert counts(summary) == (1, 0, 0, 1)
    assert "contains a NUL character" in quarantine_rows(engine)[0][1]


def test_lone_surrogate_in_jsonl_is_quarantined_with_a_clear_reason(engine: Engine, tmp_path: Path) -> None:
    bad = '{"key": "x1", "name": "王\\ud800伟"}'
    summary = run(engine, write(tmp_path, "p.jsonl", jsonl(GOOD[0]) + bad + "\n" + jsonl(GOOD[1])))
    assert counts(summary) == (2, 0, 0, 1)
    [(line, reason, text)] = quarantine_rows(engine)
    assert (line, text) == (2, bad)
    assert "surrogate" in reason


def test_lone_surrogate_in_a_json_array_is_quarantined_not_stored_garbled(
    engine: Engine, tmp_path: Path
) -> None:
    # A pair of surrogate escapes is one character and goes in; a lone one is quarantined.
    content = (
        '[{"key": "p1", "name": "王伟\\ud83d\\ude00"}, {"key": "x1", "name": "王\\ud800伟"},'
        ' {"key": "p2", "name": "李娜"}]'
    )
    summary = run(engine, write(tmp_path, "p.json", content))
    assert counts(summary) == (2, 0, 0, 1)
    [(_, reason, _)] = quarantine_rows(engine)
    assert "surrogate" in reason and "'name'" in reason
    assert stored_keys(engine) == ["p1", "p2"]


def test_python_api_quarantines_unstorable_text(engine: Engine) -> None:
    records = [GOOD[0], {"key": "x1", "name": "王\ud800伟"}, {"key": "x2", "name": "\x00"}, GOOD[1]]
    with Session(engine) as session:
        summary = ingest_records(session, "grid_collection", Kind.PERSON, records)
        session.commit()
    assert counts(summary) == (2, 0, 0, 2)
    reasons = [reason for _, reason, _ in quarantine_rows(engine)]
    assert "half of a UTF-16 surrogate pair" in reasons[0] and "'name'" in reasons[0]
    assert "contains a NUL character" in reasons[1]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(RecordVersion)) == 2


def flags_and_payload(engine: Engine, key: str) -> tuple[dict[str, object], dict[str, object]]:
    with Session(engine) as session:
        flags, payload = session.execute(
            select(RecordVersion.flags, RecordVersion.payload)
            .join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == key)
        ).one()
        return flags, payload


TYPED = {
    "key": "p1",
    "name": "王伟",
    "id_number": 320581198503021234,
    "phone": ["13912345678"],
    "gender": True,
    "address": {"road": "海虞北路", "number": "18号"},
    "note": 7,  # not a contract field: anything goes, no flag
}


@pytest.mark.parametrize("workers", [0, 2])
def test_contract_fields_of_another_type_are_kept_and_flagged(
    engine: Engine, tmp_path: Path, workers: int
) -> None:
    path = write(tmp_path, "p.jsonl", jsonl(TYPED, GOOD[0]))
    summary = run(engine, path, parallel=True, workers=workers)
    assert counts(summary) == (2, 0, 0, 0)
    assert summary.flagged == 1
    flags, payload = flags_and_payload(engine, "p1")
    assert payload == TYPED  # verbatim: the number stays a number
    assert flags["id_number"] == "expected text, got a number; check digit 4, expected 0"
    assert str(flags["phone"]).startswith("expected text, got an array")
    assert str(flags["gender"]).startswith("expected text, got a boolean")
    assert flags["address"] == "expected text, got an object"
    assert "note" not in flags


def test_type_flags_survive_renormalize(engine: Engine) -> None:
    from hub.ingest.renormalize import renormalize

    with Session(engine) as session, session.begin():
        ingest_records(session, "grid_collection", Kind.PERSON, [TYPED])
    before = flags_and_payload(engine, "p1")[0]
    assert str(before["id_number"]).startswith("expected text, got a number")
    assert renormalize(engine).updated == 0
    assert flags_and_payload(engine, "p1")[0] == before


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5000])
def test_every_bad_row_is_counted_and_kept_once(engine: Engine, tmp_path: Path, batch_size: int) -> None:
    broken = '{"key": "x"\n'
    twin = jsonl({"key": "p1", "name": "王伟"})
    content = twin + broken + twin + broken + twin + jsonl(GOOD[0]) + broken + twin
    path = write(tmp_path, "p.jsonl", content)
    summary = run(engine, path, batch_size=batch_size)
    assert counts(summary) == (2, 0, 0, 6)
    assert summary.reasons == {"broken JSON": 3, "duplicate key": 3}
    rows = quarantine_rows(engine)
    assert [line for line, _, _ in rows] == [2, 3, 4, 5, 7, 8]  # each bad line, once
    assert len(rows) == summary.quarantined
    again = run(engine, path, batch_size=batch_size)
    assert counts(again) == (0, 0, 2, 6)
    assert quarantine_rows(engine) == rows  # re-ingesting the file adds no copies
