"""Whole records normalized per kind, the `hub normalize` command, and the purity of the core."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hub.domain import Kind
from hub.normalize.records import OUTPUT_FIELDS, normalize_record


def run_normalize(kind: str, *records: dict[str, str], flags: bool = False) -> list[dict[str, object]]:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    command = [sys.executable, "-m", "hub", "normalize", "--kind", kind, *(["--flags"] if flags else [])]
    done = subprocess.run(command, input=lines.encode(), capture_output=True, check=True)
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_person_output_names_are_fixed_and_filled() -> None:
    [out] = run_normalize(
        "person",
        {
            "key": "1",
            "name": "曾 偉",
            "id_number": "110105491231002",
            "phone": "+86 139-1234-5678",
            "gender": "女",
        },
    )
    assert list(out)[:7] == list(OUTPUT_FIELDS[Kind.PERSON])
    assert {name: out[name] for name in OUTPUT_FIELDS[Kind.PERSON]} == {
        "name": "曾伟",
        "name_pinyin": "zeng wei",
        "id_number": "11010519491231002X",
        "id_number_valid": True,
        "birth_date": "1949-12-31",
        "sex": "F",
        "phone": "13912345678",
    }


def test_a_number_whose_birth_date_is_anothers_is_taken_for_a_family_members() -> None:
    from hub.normalize.fields import match_fields

    child = normalize_record(
        Kind.PERSON, {"name": "姚子雯", "id_number": "320581198510120421", "birth_date": "2023/8/26"}
    )
    assert child.features["id_number_borrowed"] is True
    assert "family member" in child.flags["id_number"]
    assert "id" not in match_fields(Kind.PERSON, child.features)  # joins nobody by it
    assert child.features["birth_date"] == "2023-08-26"  # the record's own date stands
    typo = normalize_record(
        Kind.PERSON, {"name": "姚丽", "id_number": "320581198510120421", "birth_date": "1985-10-21"}
    )
    assert "id_number_borrowed" not in typo.features  # two digits swapped: a typo, the number is hers
    assert typo.flags["birth_date"] == "differs from the birth date in the ID number"
    assert match_fields(Kind.PERSON, typo.features)["id"] == "320581198510120421"


def test_absent_components_are_null_and_numbers_arabic() -> None:
    [out] = run_normalize("address", {"key": "a", "address": "常熟市虞山街道金色家园三幢二单元301室"})
    assert {name: out[name] for name in OUTPUT_FIELDS[Kind.ADDRESS]} == {
        "province": "江苏省",
        "city": "苏州市",
        "district": "常熟市",
        "street": "虞山街道",
        "community": None,
        "road": None,
        "number": None,
        "compound": "金色家园",
        "building": "3",
        "unit": "2",
        "room": "301",
        "canonical": "江苏省苏州市常熟市虞山街道金色家园3幢2单元301室",
    }


def test_grid_codes_keep_their_digits_and_other_text_is_flagged() -> None:
    assert normalize_record(Kind.ADDRESS, {"grid_code": " ３２０５８１-001 024003"}).features == {
        "grid_code": "320581001024003"
    }
    odd = normalize_record(Kind.ADDRESS, {"grid_code": "第三网格"})
    assert "grid_code" not in odd.features
    assert odd.flags == {"grid_code": "not a grid code: digits expected"}


def test_legal_entity_output_and_flags() -> None:
    [branch, bad] = run_normalize(
        "legal_entity",
        {"key": "1", "name": "苏州华盛服装有限公司常熟分公司", "uscc": "91350100M000100Y43"},
        {"key": "2", "name": "常熟市华盛服装有限公司", "uscc": "91350100M000100Y44"},
        flags=True,
    )
    assert {name: branch[name] for name in OUTPUT_FIELDS[Kind.LEGAL_ENTITY]} == {
        "name_core": "华盛服装",
        "uscc": "91350100M000100Y43",
        "uscc_valid": True,
        "is_branch": True,
    }
    assert (bad["name_core"], bad["uscc_valid"], bad["is_branch"]) == ("华盛服装", False, False)
    assert bad["flags"] == {"uscc": "check character 4, expected 3"}


def test_broken_lines_are_reported_and_skipped() -> None:
    command = [sys.executable, "-m", "hub", "normalize", "--kind", "person"]
    done = subprocess.run(
        command, input='{"name": "王伟"}\nnot json\n[1]\n'.encode(), capture_output=True, check=True
    )
    assert len(done.stdout.decode().splitlines()) == 1
    assert "line 2: broken JSON" in done.stderr.decode()
    assert "line 3: not a JSON object" in done.stderr.decode()


@pytest.mark.parametrize("kind", list(Kind))
def test_normalizing_is_total_on_odd_input(kind: Kind) -> None:
    odd = {
        "key": "x",
        "name": "🙂" * 50,
        "address": "？？",
        "uscc": "x",
        "id_number": "",
        "phone": "+",
        "gender": "?",
    }
    normalized = normalize_record(kind, odd)
    assert set(OUTPUT_FIELDS[kind]) <= set(normalized.output())


def test_the_pure_core_imports_no_database_or_web_code() -> None:
    code = (
        "import sys, hub.normalize.records, hub.normalize.address, hub.normalize.names, "
        "hub.normalize.companies, hub.normalize.identifiers; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'starlette', 'strawberry', 'uvicorn', 'psycopg', 'alembic'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert done.stdout.strip() == "[]"
