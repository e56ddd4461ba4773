"""Personal values are masked in a fixed, readable form, chosen by what a field means (its name), never by
the type of its value, and never keeping more than the mask says."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.contract import KIND_FIELDS
from hub.domain import Kind
from hub.golden import ATTRIBUTES
from hub.privacy import (
    BIRTH_DATE,
    ID_NUMBER,
    NAME_VARIANTS,
    PERSONAL_FIELDS,
    PHONE,
    field_meaning,
    mask_as,
    mask_attribute,
    mask_birth_date,
    mask_features,
    mask_id_number,
    mask_phone,
)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("32058119850302123X", "320581********123X"),
        ("110105491231002", "110105*****1002"),
        ("3205 8119 8503 0212 3X", "320581********123X"),
        ("320581-19850302-123x", "320581********123x"),
        ("３２０５８１１９８５０３０２１２３Ｘ", "320581********123X"),  # full-width digits
        ("身份证：32058119850302123X", "320581********123X"),
        ("12345", "*****"),
        ("E12345678", "*********"),  # too short to keep anything: masked whole
        ("32058119850302", "**************"),
    ],
)
def test_id_numbers_keep_region_and_last_four(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13912345678", "139****5678"),
        ("0512-52781234", "051*****1234"),
        ("+86 139 1234 5678", "139****5678"),
        ("0086-139-1234-5678", "139****5678"),
        ("139 1234 5678", "139****5678"),
        ("１３９１２３４５６７８", "139****5678"),
        ("0512 5278 1234", "051*****1234"),
        ("52781234", "********"),  # a local number: keeping 3 + 4 of 8 digits would show nearly all
        ("5278-1234", "********"),
        ("12345", "*****"),
        ("无", "*"),
    ],
)
def test_phones_keep_first_three_and_last_four(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("1985-03-02", "1985-**-**"),
        ("3/7/1991", "1991-**-**"),
        ("07.03.1991", "1991-**-**"),
        ("1991年3月7日", "1991-**-**"),
        ("19910307", "1991-**-**"),
        ("07031991", "1991-**-**"),
        ("1991-03-07T00:00:00+08:00", "1991-**-**"),
        ("91.3.7", "******"),  # no four-digit year: masked whole
        ("0307", "****"),
        ("", ""),
    ],
)
def test_birth_dates_keep_only_a_year_found_by_parsing(value: str, masked: str) -> None:
    assert mask_birth_date(value) == masked


@pytest.mark.parametrize("value", ["32058119850302123X", "+86 139 1234 5678", "3/7/1991", "12345"])
def test_masking_a_masked_value_changes_nothing(value: str) -> None:
    for mask in (mask_id_number, mask_phone, mask_birth_date):
        once = mask(value)
        assert mask(once) == once


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("id_number", ID_NUMBER),
        ("idNumber", ID_NUMBER),
        ("ID_NUMBER", ID_NUMBER),
        ("IDNumber", ID_NUMBER),
        ("id-card-no", ID_NUMBER),
        ("legal_rep_id_number", ID_NUMBER),
        ("legal_representative_id_number", ID_NUMBER),
        ("法定代表人身份证号", ID_NUMBER),
        ("phone", PHONE),
        ("Mobile", PHONE),
        ("tel", PHONE),
        ("contactPhone", PHONE),
        ("phone2", PHONE),
        ("phones", PHONE),
        ("phone_raw", PHONE),
        ("mobile_home", PHONE),
        ("id_number_original", ID_NUMBER),
        ("联系电话", PHONE),
        ("birthday", BIRTH_DATE),
        ("dob", BIRTH_DATE),
        ("DateOfBirth", BIRTH_DATE),
        ("id_birth_date", BIRTH_DATE),
        ("出生日期", BIRTH_DATE),
        ("name", None),
        ("hotel", None),
        ("id_number_valid", None),
        ("phone_type", None),
        ("established_on", None),
        ("household_number", None),
        ("key", None),
        ("value", None),
        ("phone_valid", None),
    ],
)
def test_a_field_is_personal_by_its_name_in_any_common_spelling(name: str, meaning: str | None) -> None:
    assert field_meaning(name) == meaning


def test_each_kinds_personal_fields_are_exactly_the_contract_and_golden_fields_named_so() -> None:
    for kind, contract_fields in KIND_FIELDS.items():
        names = set(contract_fields) | set(ATTRIBUTES[kind])
        by_name = {name: field_meaning(name) for name in names if field_meaning(name) is not None}
        assert by_name == PERSONAL_FIELDS[kind], kind
    assert PERSONAL_FIELDS[Kind.LEGAL_ENTITY] == {"phone": PHONE, "legal_representative_id_number": ID_NUMBER}
    assert set(NAME_VARIANTS) == {ID_NUMBER, PHONE, BIRTH_DATE}


def test_golden_values_are_masked_by_kind_and_field() -> None:
    assert mask_attribute(Kind.LEGAL_ENTITY, "phone", "13912345678") == "139****5678"
    assert mask_attribute(Kind.PERSON, "birth_date", "1985-03-02") == "1985-**-**"
    assert mask_attribute(Kind.LEGAL_ENTITY, "name", "苏州市某某有限公司") == "苏州市某某有限公司"
    assert mask_attribute(Kind.ADDRESS, "text", "常熟市1号") == "常熟市1号"


def test_features_are_masked_at_any_depth_and_nothing_else_changes() -> None:
    features = {
        "name": "王伟",
        "id_number": "32058119850302123X",
        "id_number_valid": True,
        "birth_date": "1985-03-02",
        "phone": None,
        "legal_representative": {"name": "李娜", "id_number": "11010519491231002X"},
    }
    assert mask_features(features) == {
        "name": "王伟",
        "id_number": "320581********123X",
        "id_number_valid": True,
        "birth_date": "1985-**-**",
        "phone": None,
        "legal_representative": {"name": "李娜", "id_number": "110105********002X"},
    }


def test_id_numbers_and_mobiles_under_any_other_name_are_masked_where_they_stand() -> None:
    """Departments put personal values under names of their own (`gmsfhm`, `备注`, an extra field):
    what reads as an ID number or a mobile phone is masked wherever it stands; codes that are not
    (a record's key, a credit code, a grid code, a landline without its name) stay."""
    payload = {
        "gmsfhm": "320581199106171811",
        "remark": "联系电话13912345678，身份证320581199106171811",
        "备注": "+86 139-1234-5678",
        "contact": {"no": 32058119910617181},  # 17 digits: not an ID number
        "n": 13912345678,
        "key": "HJ3403806333",
        "uscc": "91320581MA1MXXXX8K",
        "grid": "320581001001",
        "fax": "0512-5278 1234",
    }
    assert mask_features(payload) == {
        "gmsfhm": "320581********1811",
        "remark": "联系电话139****5678，身份证320581********1811",
        "备注": "139****5678",
        "contact": {"no": 32058119910617181},
        "n": "139****5678",
        "key": "HJ3403806333",
        "uscc": "91320581MA1MXXXX8K",
        "grid": "320581001001",
        "fax": "051*****1234",
    }


def test_values_are_masked_whatever_their_json_type() -> None:
    payload = {
        "key": "G1",
        "ID_NUMBER": 320581198503021234,
        "phone": 13912345678,
        "mobile": ["13912345678", 13812345678, None, True],
        "tel": 13912345678.0,
        "contacts": {"legal_rep_id_number": {"value": "32058119850302123X", "checked": True}},
        "dob": {"y": 1985, "md": "03-02"},
        "birthday": [[19850302]],
    }
    assert mask_features(payload) == {
        "key": "G1",
        "ID_NUMBER": "320581********1234",
        "phone": "139****5678",
        "mobile": ["139****5678", "138****5678", None, True],
        "tel": "139****5678",
        "contacts": {"legal_rep_id_number": {"value": "320581********123X", "checked": True}},
        "dob": {"y": "1985-**-**", "md": "*****"},
        "birthday": [["1985-**-**"]],
    }


def test_keys_of_an_object_under_a_personal_name_are_masked_too() -> None:
    masked = mask_features({"phone": {"13912345678": "home", "13812345678": "work"}})
    assert masked == {"phone": {"139****5678": "****", "138****5678": "****"}}
    collide = mask_features({"phone": {"13912345678": "x", "13922225678": "y"}})
    assert len(collide["phone"]) == 2  # nothing lost when two keys mask alike
    assert all("1234" not in k and "2222" not in k for k in collide["phone"])


def test_mask_as_masks_one_value_by_meaning() -> None:
    assert mask_as(PHONE, 13912345678) == "139****5678"
    assert mask_as(ID_NUMBER, None) is None
    assert mask_as(BIRTH_DATE, False) is False


# What each mask deliberately keeps: digits in all, and the prefix a longer run may fill (an ID's region).
_BUDGET = {ID_NUMBER: (10, 6), PHONE: (7, 4), BIRTH_DATE: (4, 4)}
_NAMES = st.sampled_from([name for names in NAME_VARIANTS.values() for name in names if name.isascii()])
_DIGITS = st.text(alphabet="0123456789０１２３４５６７８９ -+/.年月日Xx", max_size=40)
_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**9, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    _DIGITS,
    st.text(max_size=30),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.one_of(_DIGITS, st.text()), inner, max_size=4)


_JSON = st.recursive(_LEAF, _containers, max_leaves=12)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *_strings(item))]
    assert value is None or isinstance(value, bool), f"{value!r} came back unmasked"
    return []


@settings(max_examples=400, deadline=None)
@given(name=_NAMES, value=_JSON)
def test_no_personal_value_keeps_more_digits_than_its_mask_says(name: str, value: Any) -> None:
    meaning = field_meaning(name)
    assert meaning is not None
    total, first_run = _BUDGET[meaning]
    masked = mask_features({"records": [{"other": 1, name: value}]})["records"][0][name]
    for text in _strings(masked):
        digits = [c for c in text if unicodedata.numeric(c, None) is not None]
        assert len(digits) <= total, (name, value, text)
        for run in re.finditer(r"\d+", text):
            assert len(run.group()) <= 4 or run.end() <= first_run, (
                name,
                value,
                text,
            )
