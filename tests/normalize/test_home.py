"""The home city is configuration: the default file, another county, and clear errors on bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.errors import InputError
from hub.normalize.home import DEFAULT_HOME_CITY, HOME_CITY_VARIABLE, load_home_city

KUNSHAN = """
district = "昆山市"
code = "320583"

[[unit]]
name = "玉山镇"
formerly = ["城北镇"]

[[unit]]
name = "周市镇"

[[unit]]
name = "巴城镇"
formerly = ["正仪镇"]

[[unit]]
name = "亭林街道"
formerly = ["正仪镇"]
"""


def test_the_default_home_city_knows_its_towns_by_every_name() -> None:
    home = load_home_city(DEFAULT_HOME_CITY)
    assert (home.district, home.code, home.short) == ("常熟市", "320581", "常熟")
    assert home.unit_named("唐市镇") == "沙家浜镇"  # merged into it
    assert home.units["虞山镇"] == {"虞山街道", "琴川街道", "常福街道"}  # split three ways
    assert home.unit_named("虞山镇") is None
    assert home.unit_named("虞山街道办事处") == "虞山街道"  # another way of writing it
    assert home.unit_named("常熟高新区") == "常熟高新技术产业开发区"
    assert home.unit_named("玉山镇") is None


def test_an_old_name_shared_by_several_units_stands_for_none_of_them(tmp_path: Path) -> None:
    path = tmp_path / "kunshan.toml"
    path.write_text(KUNSHAN, encoding="utf-8")
    home = load_home_city(path)
    assert home.units["正仪镇"] == {"巴城镇", "亭林街道"}
    assert home.unit_named("正仪镇") is None
    assert home.unit_named("城北镇") == "玉山镇"


PARSE = """
import json, sys
from hub.normalize.address import parse_address
print(json.dumps([parse_address(text)._asdict() for text in sys.argv[1:]], ensure_ascii=False))
"""


def _parsed(home: Path | None, *texts: str) -> list[dict[str, str | None]]:
    env = {k: v for k, v in os.environ.items() if k != HOME_CITY_VARIABLE}
    if home is not None:
        env[HOME_CITY_VARIABLE] = str(home)
    done = subprocess.run(
        [sys.executable, "-c", PARSE, *texts], capture_output=True, text=True, env=env, check=True
    )
    parsed: list[dict[str, str | None]] = json.loads(done.stdout)
    return parsed


def test_another_county_is_configured_by_a_file(tmp_path: Path) -> None:
    path = tmp_path / "kunshan.toml"
    path.write_text(KUNSHAN, encoding="utf-8")
    texts = ("昆山玉山镇人民路88号", "城北镇人民路88号", "常熟董浜东盾村5组12号")
    kunshan = _parsed(path, *texts)
    assert [(p["district"], p["street"]) for p in kunshan] == [
        ("昆山市", "玉山镇"),
        (None, "玉山镇"),  # the old name, now the town it merged into
        (None, None),  # Changshu's town is not known by its short name in Kunshan
    ]
    changshu = _parsed(None, *texts)
    assert (changshu[2]["district"], changshu[2]["street"]) == ("常熟市", "董浜镇")
    assert changshu[1]["street"] is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('district = "昆山市"\n[[unit]]\nname = "玉山镇"\n', "six-digit division code"),
        ('district = "昆山"\ncode = "320583"\n', "county-level division"),
        ('district = "昆山市"\ncode = "320583"\n', r"\[\[unit\]\] tables"),
        (
            'district = "昆山市"\ncode = "320583"\n[[unit]]\nname = "玉山镇"\nformerly = "城北镇"\n',
            "list of names",
        ),
        ("district = ", "not valid TOML"),
    ],
)
def test_a_bad_home_city_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "home.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_home_city(path)


def test_a_missing_home_city_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=HOME_CITY_VARIABLE):
        load_home_city(tmp_path / "nowhere.toml")
