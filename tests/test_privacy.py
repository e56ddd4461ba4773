"""Personal values are masked in a fixed, readable form."""

from __future__ import annotations

import pytest

from hub.privacy import mask_birth_date, mask_features, mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("32058119850302123X", "320581********123X"),
        ("110105491231002", "110105*****1002"),
        ("12345", "*****"),
    ],
)
def test_id_numbers_keep_region_and_last_four(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13912345678", "139****5678"), ("0512-52781234", "051*****1234"), ("12345", "*****")],
)
def test_phones_keep_first_three_and_last_four(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_birth_dates_keep_the_year() -> None:
    assert mask_birth_date("1985-03-02") == "1985-**-**"


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
