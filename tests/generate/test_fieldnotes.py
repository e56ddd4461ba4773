"""The field-notes profile writes the same world as the classic one, in the patterns of
docs/field-notes.md, the same way for the same seed."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from hub.generate import generate_city

PERSONS = 8000


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for profile in ("classic", "field-notes"):
        directory = tmp_path_factory.mktemp(profile)
        generate_city(PERSONS, 5, directory, profile=profile)
        out[profile] = directory
    return out


def records(directory: Path, name: str) -> list[dict[str, str]]:
    path = directory / name
    if path.suffix == ".csv":
        encoding = "gb18030" if name.startswith("market_regulation") else "utf-8-sig"
        with path.open(encoding=encoding, newline="") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def truth(directory: Path) -> dict[str, str]:
    with (directory / "truth.csv").open(encoding="utf-8", newline="") as f:
        return {row["key"]: row["true_id"] for row in csv.DictReader(f)}


def texts(directory: Path, name: str, field: str) -> list[str]:
    return [r[field] for r in records(directory, name) if r.get(field)]


def test_the_world_is_the_classic_one(cities: dict[str, Path]) -> None:
    classic, notes = (json.loads((cities[p] / "manifest.json").read_text()) for p in cities)
    assert notes["profile"] == "field-notes" and classic["profile"] == "classic"
    counts = {f["path"]: f["records"] for f in classic["files"]}
    for f in notes["files"]:
        if f["path"] != "doorplate_platform_address.jsonl":  # re-surveys add records there only
            assert f["records"] == counts[f["path"]], f["path"]
    classic_truth, notes_truth = truth(cities["classic"]), truth(cities["field-notes"])
    plates = {k: v for k, v in classic_truth.items() if k.startswith("MP")}
    assert {k: v for k, v in notes_truth.items() if not k.startswith("MP")} == {
        k: v for k, v in classic_truth.items() if not k.startswith("MP")
    }
    resurveyed = Counter(v for k, v in notes_truth.items() if k.startswith("MP")) - Counter(plates.values())
    assert 0 < resurveyed.total() < 0.1 * len(plates)


def test_the_same_seed_writes_the_same_files(cities: dict[str, Path], tmp_path: Path) -> None:
    generate_city(PERSONS, 5, tmp_path, profile="field-notes")
    for path in cities["field-notes"].iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_residence_is_written_for_some_registered_people_only(cities: dict[str, Path]) -> None:
    registry = records(cities["field-notes"], "household_registry_person.jsonl")
    with_residence = sum("address" in r for r in registry) / len(registry)
    assert 0.3 < with_residence < 0.6
    assert all(r["registered_address"] for r in registry)
    grid = records(cities["field-notes"], "grid_collection_person.jsonl")
    assert 0.3 < sum(not r["id_number"] for r in grid) / len(grid) < 0.6


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (r"\d+#\d+", "16#702"),
        (r"[一二三四五六七八九十]+幢", "Chinese numerals for the building"),
        (r"[〇一二三四五六七八九]{3,4}$", "the room digit by digit in Chinese numerals"),
        (r"\d+号楼", "号楼"),
        (r"\d+栋", "栋"),
        (r"村(委会|民委员会)", "村委会 after the village"),
        (r"村[一二三四五六七八九十\d]+组\d+号", "a numbered group"),
        (r"号之一|\d+-1号", "a sub-number"),
        (
            r"唐市镇|白茆镇|淼泉镇|徐市镇|张桥镇|王庄镇|冶塘镇|练塘镇|福山镇|王市镇|任阳镇|谢桥镇|虞山镇",
            "an old town",
        ),
        (r"[０-９]", "full-width digits"),
        (r"社区[^\d]+\d", "the community before the estate"),
    ],
)
def test_every_address_form_of_the_notes_occurs(cities: dict[str, Path], pattern: str, what: str) -> None:
    written = [
        *texts(cities["field-notes"], "grid_collection_person.jsonl", "address"),
        *texts(cities["field-notes"], "grid_collection_address.jsonl", "address"),
        *texts(cities["field-notes"], "household_registry_person.jsonl", "registered_address"),
        *texts(cities["field-notes"], "rental_registry_address.csv", "address"),
    ]
    assert any(re.search(pattern, text) for text in written), what


def test_identifiers_dates_and_phones_take_every_layout_of_the_notes(cities: dict[str, Path]) -> None:
    people = [
        r
        for name in (
            "household_registry_person.jsonl",
            "migrant_registry_person.jsonl",
            "grid_collection_person.jsonl",
        )
        for r in records(cities["field-notes"], name)
    ]
    ids = [r["id_number"] for r in people if r["id_number"]]
    births = [r["birth_date"] for r in people if r.get("birth_date")]
    phones = [r["phone"] for r in people if r.get("phone")]
    assert any(len(i) == 15 and i.isdigit() for i in ids)
    assert any(" " in i for i in ids) and any(re.search("[０-９]", i) for i in ids)
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", b) for b in births)
    assert any(re.fullmatch(r"\d{4}\.\d\d\.\d\d", b) for b in births)
    assert any(re.fullmatch(r"\d{8}", b) for b in births)
    assert any(p.startswith("+86 ") for p in phones) and any(re.fullmatch(r"86\d{11}", p) for p in phones)
    assert any(re.search(r"[?*]", r["name"]) for r in people)


def test_doorplates_are_resurveyed_under_a_second_code(cities: dict[str, Path]) -> None:
    keys = truth(cities["field-notes"])
    plates = records(cities["field-notes"], "doorplate_platform_address.jsonl")
    codes: dict[str, set[str]] = {}
    for plate in plates:
        codes.setdefault(keys[plate["key"]], set()).add(plate["doorplate_code"])
    assert any(len(c) == 2 for c in codes.values())
    rentals = records(cities["field-notes"], "rental_registry_address.csv")
    assert 0.1 < sum(bool(r["doorplate_code"]) for r in rentals) / len(rentals) < 0.5


def test_tax_writes_old_numbers_and_former_and_short_names(cities: dict[str, Path]) -> None:
    tax = records(cities["field-notes"], "tax_legal_entity.jsonl")
    market = {r["uscc"] for r in records(cities["field-notes"], "market_regulation_legal_entity.csv")}
    old = [r["uscc"] for r in tax if len(r["uscc"]) == 15]
    assert old and all(any(u[2:17] == number for u in market) for number in old)
    assert any("有限责任公司" in r["name"] for r in tax) and any("公司" not in r["name"] for r in tax)


def test_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="classic, field-notes"):
        generate_city(10, 1, tmp_path, profile="messy")
