from __future__ import annotations

import random

import pytest

from hub.generate.noise import (
    chinese_number,
    format_date,
    full_width,
    malform_resident_id,
    malform_uscc,
    misheard,
    old_resident_id,
    scatter_phone,
    traditional,
)
from hub.normalize.identifiers import parse_phone, parse_resident_id, parse_uscc

VALID_ID = "320581198503021230"
VALID_USCC = "91320581MA1MABCD6L"


@pytest.mark.parametrize(
    ("number", "spoken"),
    [(0, "零"), (3, "三"), (10, "十"), (12, "十二"), (20, "二十"), (21, "二十一"), (128, "128")],
)
def test_chinese_number(number: int, spoken: str) -> None:
    assert chinese_number(number) == spoken


@pytest.mark.parametrize(
    ("style", "text"),
    [("iso", "1985-03-02"), ("compact", "19850302"), ("slash", "1985/3/2"), ("chinese", "1985年3月2日")],
)
def test_format_date(style: str, text: str) -> None:
    assert format_date("19850302", style) == text


def test_full_width() -> None:
    assert full_width("3-2-301(东)") == "３－２－３０１（东）"


def test_traditional() -> None:
    assert traditional("华盛服装") == "華盛服裝"


def test_misheard_changes_one_character_to_a_homophone() -> None:
    rng = random.Random(1)
    heard = {misheard("王伟", rng) for _ in range(50)}
    assert heard <= {"王玮", "王炜", "王苇", "汪伟"}
    assert len(heard) > 1
    assert misheard("阿", rng) == "阿"


def test_old_resident_id_converts_back_to_the_same_number() -> None:
    assert old_resident_id(VALID_ID) == "320581850302123"
    assert parse_resident_id(old_resident_id(VALID_ID)).value == VALID_ID


def test_the_valid_examples_are_valid() -> None:
    assert parse_resident_id(VALID_ID).valid
    assert parse_uscc(VALID_USCC).valid


def test_malformed_identifiers_never_pass_the_check() -> None:
    rng = random.Random(2)
    for _ in range(300):
        assert not parse_resident_id(malform_resident_id(VALID_ID, rng)).valid
        assert not parse_uscc(malform_uscc(VALID_USCC, rng)).valid


@pytest.mark.parametrize(
    ("phone", "canonical"), [("13912345678", "13912345678"), ("0512-52781234", "0512-52781234")]
)
def test_scattered_phones_parse_back_to_the_same_number(phone: str, canonical: str) -> None:
    rng = random.Random(3)
    for _ in range(40):
        assert parse_phone(scatter_phone(phone, rng)).value == canonical
