from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from hub.generate import CityManifest, generate_city
from hub.normalize.identifiers import parse_resident_id, parse_uscc

PERSONS = 2000
SEED = 7
CONTRACT_FIELDS = {
    "person": {
        "name", "id_number", "gender", "birth_date", "phone", "address", "registered_address",
        "employer_name", "employer_uscc",
    },
    "address": {"address", "doorplate_code", "grid_code", "house_type", "label"},
    "legal_entity": {
        "name", "uscc", "legal_representative", "legal_representative_id_number", "registered_address",
        "business_address", "established_on", "phone", "status",
    },
}  # fmt: skip
Record = dict[str, Any]


def create_city(out_dir: Path, persons: int = PERSONS, seed: int = SEED) -> CityManifest:
    return generate_city(persons, seed, out_dir)


def read_records(out_dir: Path, path: str, encoding: str) -> list[Record]:
    raw = (out_dir / path).read_bytes()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in raw.decode(encoding).splitlines()]
    text = raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def read_truth(out_dir: Path) -> dict[tuple[str, str, str], str]:
    with (out_dir / "truth.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    truth = {(row["source"], row["kind"], row["key"]): row["true_id"] for row in rows}
    assert len(truth) == len(rows), "a (source, kind, key) appears twice in truth.csv"
    return truth


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CityManifest]:
    out_dir = tmp_path_factory.mktemp("city")
    return out_dir, create_city(out_dir)


@pytest.fixture(scope="module")
def records(city: tuple[Path, CityManifest]) -> dict[tuple[str, str], list[Record]]:
    out_dir, manifest = city
    return {(f.source, f.kind): read_records(out_dir, f.path, f.encoding) for f in manifest.files}


def with_truth(city: tuple[Path, CityManifest], rows: list[Record], source: str, kind: str) -> list[Record]:
    truth = read_truth(city[0])
    return [{**row, "true_id": truth[source, kind, row["key"]]} for row in rows]


def test_same_seed_gives_identical_files(tmp_path: Path, city: tuple[Path, CityManifest]) -> None:
    out_dir, manifest = city
    again = create_city(tmp_path)
    assert again == manifest
    for name in [f.path for f in manifest.files] + ["truth.csv", "manifest.json"]:
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_files_do_not_depend_on_the_string_hash_seed(tmp_path: Path) -> None:
    """Iterating a set of strings would make the output differ between runs; each run hashes anew."""
    script = "import sys, pathlib, hub.generate as g; g.generate_city(300, 3, pathlib.Path(sys.argv[1]))"
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(tmp_path / hash_seed)], check=True, env=env)
    for path in (tmp_path / "1").iterdir():
        assert path.read_bytes() == (tmp_path / "2" / path.name).read_bytes(), path.name


def test_another_seed_gives_another_city(tmp_path: Path, city: tuple[Path, CityManifest]) -> None:
    create_city(tmp_path, seed=SEED + 1)
    for name in ("household_registry_person.jsonl", "doorplate_platform_address.jsonl", "truth.csv"):
        assert (tmp_path / name).read_bytes() != (city[0] / name).read_bytes()


def test_manifest_lists_every_file_with_its_record_count(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    out_dir, manifest = city
    assert json.loads((out_dir / "manifest.json").read_text()) == asdict(manifest)
    assert (manifest.persons, manifest.seed, manifest.truth_path) == (PERSONS, SEED, "truth.csv")
    assert manifest.relations_path == "relations.csv"
    written = {path.name for path in out_dir.iterdir()} - {"truth.csv", "relations.csv", "manifest.json"}
    assert written == {f.path for f in manifest.files}
    assert len(manifest.files) == 10
    for f in manifest.files:
        assert f.records == len(records[f.source, f.kind]) > 0, f.path


def test_truth_has_one_row_per_record(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    truth = read_truth(city[0])
    record_keys = {(source, kind, row["key"]) for (source, kind), rows in records.items() for row in rows}
    assert set(truth) == record_keys
    assert len(truth) == sum(len(rows) for rows in records.values())
    prefixes = {"person": "P", "address": "A", "legal_entity": "L"}
    assert all(true_id[0] == prefixes[kind] for (_, kind, _), true_id in truth.items())
    persons = {true_id for (_, kind, _), true_id in truth.items() if kind == "person"}
    assert len(persons) > 0.9 * PERSONS


def test_relations_name_true_things_of_the_right_kinds(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    truth = set(read_truth(city[0]).values())
    with (city[0] / "relations.csv").open(encoding="utf-8", newline="") as f:
        relations = {(r["relation"], r["from_id"], r["to_id"]) for r in csv.DictReader(f)}
    kinds = {
        "lives_at": "PA",
        "household_registered_at": "PA",
        "employed_by": "PL",
        "legal_representative": "PL",
    }
    assert {relation for relation, _, _ in relations} == set(kinds)
    for relation, subject, obj in relations:
        assert (subject[0], obj[0]) == tuple(kinds[relation]), relation
        assert subject in truth  # asserted by a record of that person
    residents = {p for relation, p, _ in relations if relation == "lives_at"}
    with_address = sum(
        1 for (_, kind), rows in records.items() if kind == "person" for r in rows if r.get("address")
    )
    assert 0 < len(residents) <= with_address


def test_records_hold_contract_fields_as_strings_and_at_most_two_extras(
    records: dict[tuple[str, str], list[Record]],
) -> None:
    for (source, kind), rows in records.items():
        extras: set[str] = set()
        for row in rows:
            assert all(isinstance(value, str) for value in row.values()), (source, row)
            extras |= set(row) - CONTRACT_FIELDS[kind] - {"key"}
        assert len(extras) <= 2, (source, kind, extras)


def test_the_enterprise_register_is_gb18030(city: tuple[Path, CityManifest]) -> None:
    out_dir, manifest = city
    market = next(f for f in manifest.files if f.source == "market_regulation")
    assert (market.path.endswith(".csv"), market.encoding) == (True, "gb18030")
    raw = (out_dir / market.path).read_bytes()
    assert "有限公司" in raw.decode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_the_rental_registry_is_utf8_csv_with_a_bom(city: tuple[Path, CityManifest]) -> None:
    out_dir, manifest = city
    for f in manifest.files:
        if f.source == "rental_registry":
            assert f.path.endswith(".csv")
            assert (out_dir / f.path).read_bytes().startswith(b"\xef\xbb\xbf" + b"key,")


def test_household_registry_ids_are_valid_but_for_a_few_malformed_ones(
    records: dict[tuple[str, str], list[Record]],
) -> None:
    rows = records["household_registry", "person"]
    invalid = [row for row in rows if not parse_resident_id(row["id_number"]).valid]
    assert len(invalid) / len(rows) < 0.01


def test_migrant_ids_are_mostly_valid_some_in_the_old_fifteen_digit_form(
    records: dict[tuple[str, str], list[Record]],
) -> None:
    rows = records["migrant_registry", "person"]
    parsed = [parse_resident_id(row["id_number"]) for row in rows]
    assert sum(p.valid for p in parsed) / len(rows) > 0.95
    assert any(p.converted_from_15 for p in parsed)


def test_usccs_are_valid_in_the_register_and_almost_always_in_tax(
    records: dict[tuple[str, str], list[Record]],
) -> None:
    market = records["market_regulation", "legal_entity"]
    assert all(parse_uscc(row["uscc"]).valid for row in market)
    tax = records["tax", "legal_entity"]
    assert sum(parse_uscc(row["uscc"]).valid for row in tax) / len(tax) > 0.85


def test_namesakes_born_the_same_year_are_different_people(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    rows = with_truth(city, records["household_registry", "person"], "household_registry", "person")
    people: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        people[row["name"], row["birth_date"][:4]].add(row["true_id"])
    assert any(len(true_ids) > 1 for true_ids in people.values())


def test_twins_share_a_birth_date_and_a_flat_and_a_character(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    rows = with_truth(city, records["household_registry", "person"], "household_registry", "person")
    together: defaultdict[tuple[str, str], list[Record]] = defaultdict(list)
    for row in rows:
        together[row["birth_date"], row["address"]].append(row)
    twins = [group for group in together.values() if len({row["true_id"] for row in group}) == 2]
    assert any(set(a["name"][1:]) & set(b["name"][1:]) for a, b in twins)


def test_some_children_and_elders_carry_a_relatives_id(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    rows = with_truth(city, records["household_registry", "person"], "household_registry", "person")
    owners: defaultdict[str, set[str]] = defaultdict(set)
    for row in rows:
        owners[row["id_number"]].add(row["true_id"])
    shared = [id_number for id_number, true_ids in owners.items() if len(true_ids) > 1]
    assert 0 < len(shared) < 0.02 * len(rows)


def test_branches_brand_groups_and_renamed_companies(records: dict[tuple[str, str], list[Record]]) -> None:
    market = records["market_regulation", "legal_entity"]
    assert any(row["name"].endswith(("分公司", "分店")) for row in market)
    representatives = Counter(row["legal_representative_id_number"] for row in market)
    assert representatives.most_common(1)[0][1] > 1
    tax_names = {row["name"] for row in records["tax", "legal_entity"]}
    assert tax_names - {row["name"] for row in market}, "tax should hold old names and name variants"


def test_grid_collection_is_noisy_and_has_duplicates(
    city: tuple[Path, CityManifest], records: dict[tuple[str, str], list[Record]]
) -> None:
    rows = with_truth(city, records["grid_collection", "person"], "grid_collection", "person")
    assert sum(1 for row in rows if not row["id_number"]) / len(rows) > 0.1
    assert len({row["true_id"] for row in rows}) < len(rows)
    addresses = records["grid_collection", "address"]
    assert {row["label"] for row in addresses} <= set("红橙黄蓝绿")


def test_progress_reports_persons_done(tmp_path: Path) -> None:
    reported: list[int] = []
    generate_city(3_000, 1, tmp_path, reported.append)
    assert reported == sorted(reported)
    assert len(reported) == 3
    assert 1_000 <= reported[0] < reported[1] < 3_000
    assert reported[-1] == 3_000
