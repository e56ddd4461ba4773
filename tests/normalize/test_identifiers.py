"""Resident IDs (GB 11643), USCCs (GB 32100 with GB 11714 inside), phones and dates."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.normalize.identifiers import (
    org_code_check_char,
    parse_date,
    parse_phone,
    parse_resident_id,
    parse_uscc,
    resident_id_check_char,
    uscc_check_char,
)

TODAY = date(2026, 11, 27)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize(
    ("text", "value", "birth_date", "sex"),
    [
        ("11010519491231002X", "11010519491231002X", date(1949, 12, 31), "F"),  # the standard's example
        ("11010519491231002x", "11010519491231002X", date(1949, 12, 31), "F"),  # lower-case x
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", date(1949, 12, 31), "F"),  # full-width
        (" 110105 19491231 002X ", "11010519491231002X", date(1949, 12, 31), "F"),  # spaces
        ("110105-19491231-002X", "11010519491231002X", date(1949, 12, 31), "F"),
        ("110105491231002", "11010519491231002X", date(1949, 12, 31), "F"),  # old 15 digits
        ("320581198503021230", "320581198503021230", date(1985, 3, 2), "M"),
        ("810000199001011230", "810000199001011230", date(1990, 1, 1), "M"),  # Hong Kong residence permit
        ("932581198503021236", "932581198503021236", date(1985, 3, 2), "M"),  # foreign permanent resident
        ("320585193001011238", "320585193001011238", date(1930, 1, 1), "M"),  # region code newer than birth
    ],
)
def test_valid_resident_ids(text: str, value: str, birth_date: date, sex: str) -> None:
    parsed = parse_resident_id(text, today=TODAY)
    assert (parsed.valid, parsed.value, parsed.birth_date, parsed.sex) == (True, value, birth_date, sex)
    assert parsed.region == value[:6]
    assert parsed.original == text


def test_fifteen_digit_id_says_it_was_converted() -> None:
    assert parse_resident_id("110105491231002", today=TODAY).converted_from_15
    assert not parse_resident_id("11010519491231002X", today=TODAY).converted_from_15


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("11010519491231002", "length 17, expected 18 or 15"),
        ("1101051949123100211", "length 19, expected 18 or 15"),
        ("11010519491231002Y", "characters: 17 digits and a digit or X expected"),
        ("1101051949123100X2", "characters: 17 digits and a digit or X expected"),
        ("11010549123100A", "15-digit ID must be all digits"),
        ("110105194902300021", "the birth date part is not a real past date"),  # 30 February
        ("110105203001010021", "the birth date part is not a real past date"),  # future
        ("110105187001010021", "the birth date part is not a real past date"),  # before 1880
        ("110105194912310021", "check digit 1, expected X"),
    ],
)
def test_invalid_resident_ids_say_why_and_keep_the_text(text: str, reason: str) -> None:
    parsed = parse_resident_id(text, today=TODAY)
    assert not parsed.valid
    assert parsed.reason == reason
    assert parsed.original == text


def _ids() -> st.SearchStrategy[str]:
    regions = st.sampled_from(["320581", "110105", "341221", "511623", "932581"])
    born = st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)).map(
        lambda d: d.strftime("%Y%m%d")
    )
    serial = st.integers(0, 999).map(lambda n: f"{n:03d}")
    return st.builds(lambda r, b, s: r + b + s, regions, born, serial).map(
        lambda f: f + resident_id_check_char(f)
    )


@given(_ids())
def test_a_generated_valid_id_always_passes(number: str) -> None:
    parsed = parse_resident_id(number)
    assert parsed.valid
    assert parsed.sex == ("M" if int(number[16]) % 2 else "F")


@given(_ids(), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_fails_the_check(number: str, position: int, delta: int) -> None:
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    assert not parse_resident_id(changed).valid


@given(_ids().filter(lambda n: n[6:8] == "19" and n[:6] != "932581"))
def test_fifteen_to_eighteen_conversion_passes_its_own_check(number: str) -> None:
    old = number[:6] + number[8:17]
    parsed = parse_resident_id(old)
    assert parsed.valid
    assert parsed.value == number
    assert parse_resident_id(parsed.value or "") == parsed._replace(
        original=parsed.value, converted_from_15=False
    )


@pytest.mark.parametrize(
    ("text", "value", "org_code"),
    [
        ("91350100M000100Y43", "91350100M000100Y43", "M000100Y4"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43", "M000100Y4"),
        ("91350100m000100y43", "91350100M000100Y43", "M000100Y4"),
        (" 9135 0100 M000 100Y 43", "91350100M000100Y43", "M000100Y4"),
    ],
)
def test_valid_usccs(text: str, value: str, org_code: str) -> None:
    parsed = parse_uscc(text)
    assert (parsed.valid, parsed.value, parsed.org_code, parsed.region) == (True, value, org_code, "350100")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("91350100M000100Y4", "length 17, expected 18"),
        ("91350100M000100Y44", "check character 4, expected 3"),
        ("91350100I000100Y43", "characters not allowed: I"),
        ("9135O100M000100Y43", "characters not allowed: O"),
    ],
)
def test_invalid_usccs_say_why(text: str, reason: str) -> None:
    parsed = parse_uscc(text)
    assert not parsed.valid
    assert parsed.reason == reason


def test_uscc_with_a_bad_organization_code_fails() -> None:
    body = "91320581" + "MA1ABCDE" + "0"  # organization code with a wrong check character
    expected_org = org_code_check_char("MA1ABCDE")
    assert expected_org != "0"
    number = body + uscc_check_char(body)
    parsed = parse_uscc(number)
    assert not parsed.valid
    assert parsed.reason == f"organization code check 0, expected {expected_org}"


def _usccs() -> st.SearchStrategy[str]:
    org_alphabet = "0123456789ABCDEFGHJKLMNPQRTUWY"  # X excluded: it is the GB 11714 check for 10
    body = st.text(org_alphabet, min_size=8, max_size=8)

    def build(prefix: str, org: str) -> str:
        first17 = prefix + org + org_code_check_char(org)
        return first17 + uscc_check_char(first17)

    return st.builds(build, st.sampled_from(["91320581", "92320581", "12320500", "52320581"]), body)


@given(_usccs())
def test_a_generated_valid_uscc_always_passes(number: str) -> None:
    assert parse_uscc(number).valid


@given(_usccs(), st.integers(0, 17), st.integers(1, 30))
def test_any_single_character_change_fails_the_uscc_check(number: str, position: int, delta: int) -> None:
    replacement = USCC_ALPHABET[(USCC_ALPHABET.index(number[position]) + delta) % 31]
    assert not parse_uscc(number[:position] + replacement + number[position + 1 :]).valid


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("13912345678", "13912345678", "mobile"),
        ("139 1234 5678", "13912345678", "mobile"),
        ("139-1234-5678", "13912345678", "mobile"),
        ("+86 139 1234 5678", "13912345678", "mobile"),
        ("008613912345678", "13912345678", "mobile"),
        ("8613912345678", "13912345678", "mobile"),
        ("１３９１２３４５６７８", "13912345678", "mobile"),
        ("0512-52781234", "0512-52781234", "landline"),
        ("(0512)52781234", "0512-52781234", "landline"),
        ("051252781234", "0512-52781234", "landline"),
        ("52781234", "0512-52781234", "landline"),  # local number: this city's area code
        ("+86 512 5278 1234", "0512-52781234", "landline"),
        ("010-62781234", "010-62781234", "landline"),
    ],
)
def test_valid_phones(text: str, value: str, kind: str) -> None:
    parsed = parse_phone(text)
    assert (parsed.valid, parsed.value, parsed.kind) == (True, value, kind)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("12345", "5 digits is neither mobile nor landline"),
        ("12912345678", "11 digits is neither mobile nor landline"),
        ("139-1234-567a", "characters: digits expected"),
        ("0512-123", "landline: area code and 7-8 digits expected"),
    ],
)
def test_invalid_phones_say_why(text: str, reason: str) -> None:
    parsed = parse_phone(text)
    assert not parsed.valid
    assert parsed.reason == reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-03-02", date(1985, 3, 2)),
        ("19850302", date(1985, 3, 2)),
        ("1985/3/2", date(1985, 3, 2)),
        ("1985.3.2", date(1985, 3, 2)),
        ("1985年3月2日", date(1985, 3, 2)),
        ("1985年03月02日", date(1985, 3, 2)),
        ("１９８５－０３－０２", date(1985, 3, 2)),
        ("85.3.2", date(1985, 3, 2)),  # 2085 is in the future: unambiguous
        ("15.3.2", None),  # 1915 or 2015: ambiguous
        ("1985-02-30", None),
        ("1985-13-02", None),
        ("yesterday", None),
        ("", None),
        # a date column exported with its time of day, as databases and spreadsheets write it
        ("1949-12-31 00:00:00", date(1949, 12, 31)),
        ("1949-12-31T00:00:00.000", date(1949, 12, 31)),
        ("1985/3/2 0:00", date(1985, 3, 2)),
        ("1985年3月2日 00:00:00", date(1985, 3, 2)),
        ("19850302 08:30", date(1985, 3, 2)),
        ("1985-03-02T00:00:00+08:00", date(1985, 3, 2)),
        ("1985-03-01T16:00:00Z", date(1985, 3, 2)),  # Beijing midnight written in UTC
        ("1985-03-01T16:00:00.000+0000", date(1985, 3, 2)),
        ("1985-03-02T00:30:00+09:00", date(1985, 3, 1)),
        ("1985-03-02 00:00:00+08", date(1985, 3, 2)),  # PostgreSQL's own text of a timestamptz
        ("1985-03-02T00:00:00,000", date(1985, 3, 2)),
        ("19850302000000", date(1985, 3, 2)),  # yyyyMMddHHmmss, as many systems stamp a moment
        ("19850301160000", date(1985, 3, 1)),  # no zone: the date written
        ("1985-03-01 16:00:00 UTC", date(1985, 3, 2)),
        # China kept summer time (UTC+9) in 1986-91: that midnight is 15:00 UTC the day before
        ("1988-06-14T15:00:00.000+0000", date(1988, 6, 15)),
        ("1988-06-15T00:00:00+09:00", date(1988, 6, 15)),
        ("1988-12-14T16:00:00Z", date(1988, 12, 15)),  # and standard time in winter
        ("9999-12-31T16:00:00Z", None),  # past year 9999 in China: no date, not a crash
        ("0001-01-01T00:00:00+09:00", None),
        ("1985-03-02T00:00:00+99:99", None),
        ("1985-03-02T00:00:00-15:00", None),
        ("1985-03-02 24:00:00", None),
        ("1985-03-02 10:61", None),
        ("1985-03-02 10:00 11:00", None),
        ("1985-03-02 noon", None),
        # a time of day written in Chinese
        ("1985年03月02日 00时00分00秒", date(1985, 3, 2)),
        ("1985年3月2日0时0分", date(1985, 3, 2)),
        ("1985年3月2日 8点", date(1985, 3, 2)),
        ("1985-03-02 下午3:30", date(1985, 3, 2)),
        ("1985/3/2 上午 10:30:15", date(1985, 3, 2)),
        ("19850302 凌晨1时30分", date(1985, 3, 2)),
        ("１９８５年３月２日　１０时３０分", date(1985, 3, 2)),  # full-width digits and space
        ("1985年3月2日 25时", None),
        ("1985年3月2日 10时61分", None),
        ("1985-03-02 下午15点", None),  # a 12-hour clock after 下午
        ("1985年3月2日 下午", None),
        # Java's Date.toString(), its zone the server's
        ("Sat Mar 02 00:00:00 CST 1985", date(1985, 3, 2)),
        ("Fri Mar 01 16:00:00 GMT 1985", date(1985, 3, 2)),  # Beijing midnight on a server in GMT
        ("Sat Mar 02 00:00:00 GMT+08:00 1985", date(1985, 3, 2)),
        ("Tue Jun 14 15:00:00 UTC 1988", date(1988, 6, 15)),  # China's summer time that year
        ("Sat Feb 30 00:00:00 CST 1985", None),
        ("Sat Mar 02 00:00:00 PST 1985", None),  # a zone that names no offset here
    ],
)
def test_dates(text: str, expected: date | None) -> None:
    assert parse_date(text, today=TODAY) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_dates_round_trip_in_every_form(day: date) -> None:
    forms = [
        day.isoformat(),
        day.strftime("%Y%m%d"),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
    ]
    assert {parse_date(form, today=TODAY) for form in forms} == {day}


def test_an_old_tax_number_is_no_credit_code_but_carries_its_organization_code() -> None:
    uscc = "91320581670952449R"
    old = parse_uscc(uscc[2:17])  # region and organization code, as tax filed it before 2015
    assert not old.valid and old.reason is not None and "old 15-character tax number" in old.reason
    assert old.org_code == parse_uscc(uscc).org_code == "670952449"
    assert parse_uscc("320581670952440").org_code is None  # its organization code check fails
