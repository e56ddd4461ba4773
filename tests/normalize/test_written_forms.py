"""Address forms of docs/field-notes.md: the township history (an old name becomes the town it merged
into; one that several current units share leaves the town unknown, never different), 之一 houses,
and estates written by a short name before their flat."""

from __future__ import annotations

import pytest

from hub.normalize.address import address_keys, parse_address

# The towns merged around 2003, as the home-city file records them.
MERGED = {
    "唐市镇": "沙家浜镇",
    "白茆镇": "古里镇",
    "淼泉镇": "古里镇",
    "徐市镇": "董浜镇",
    "张桥镇": "辛庄镇",
    "王庄镇": "尚湖镇",
    "冶塘镇": "尚湖镇",
    "练塘镇": "尚湖镇",
    "福山镇": "海虞镇",
    "王市镇": "海虞镇",
    "任阳镇": "支塘镇",
    "谢桥镇": "常福街道",
    "东南经济开发区": "东南街道",
}


@pytest.mark.parametrize(("old", "current"), MERGED.items())
def test_an_old_town_name_is_read_as_the_town_it_became(old: str, current: str) -> None:
    then = parse_address(f"常熟市{old}杨山村北港组3号")
    now = parse_address(f"常熟市{current}杨山村北港组3号")
    assert then.street == current
    assert then.canonical == now.canonical and address_keys(then) == address_keys(now)


@pytest.mark.parametrize("current", ["虞山街道", "琴川街道", "常福街道"])
def test_the_old_name_three_subdistricts_share_leaves_the_town_unknown(current: str) -> None:
    old = parse_address("常熟市虞山镇金色家园3幢2单元301室")
    new = parse_address(f"常熟市{current}金色家园3幢2单元301室")
    assert old.street is None  # unknown: compatible with each of the three, a veto for none
    assert new.street == current
    assert address_keys(old)["key_flat"] == address_keys(new)["key_flat"] == "金色家园|3|2|301"


@pytest.mark.parametrize("written", ["杨山村12号之一", "杨山村12-1号", "杨山村十二号之一"])
def test_a_sub_number_is_one_house_however_written(written: str) -> None:
    parsed = parse_address(written)
    assert parsed.number == "12-1"
    assert parsed.canonical == "杨山村12-1号"
    assert parse_address("杨山村12号").number == "12"  # the house beside it is another


@pytest.mark.parametrize(
    ("written", "compound", "flat"),
    [
        ("泉辛16-1-702", "泉辛", "泉辛|16|1|702"),  # the estate by its short name, the flat by dashes
        ("泉辛16#702", "泉辛", "泉辛|16||702"),
        ("常熟虞山街道金色3-301", "金色", "金色|3||301"),
    ],
)
def test_a_name_before_a_flat_is_its_estate_not_a_hamlet(written: str, compound: str, flat: str) -> None:
    parsed = parse_address(written)
    assert (parsed.road, parsed.compound) == (None, compound)
    assert address_keys(parsed)["key_flat"] == flat


def test_a_name_before_a_house_number_is_still_a_hamlet_or_village_short_name() -> None:
    assert parse_address("陆家宅12号").road == "陆家宅"
    assert parse_address("杨山村陆家宅12-1").number == "12-1"  # a 之一 house, not building 12 room 1


def test_an_estates_short_name_and_its_full_name_share_the_flats_core_key() -> None:
    short, full = (address_keys(parse_address(t)) for t in ("泉辛16-1-702", "泉辛新村16幢1单元702室"))
    assert short["key_flat"] != full["key_flat"]
    assert short["key_flat_core"] == full["key_flat_core"] == "泉辛|16|1|702"
