"""The home city: the county whose addresses the hub parses most, configured rather than built in.

Departmental records of a county often leave the county out ("董浜镇东盾村5组") and write its towns
by old or short names. The parser needs to know which county is home and its towns and subdistricts
with every name they are written by; that is a TOML file (`hub/normalize/data/changshu.toml` is the
default and shows the format), chosen with `HUB_HOME_CITY`. It is read once per process, when the
first address is parsed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hub.errors import InputError

__all__ = ["DEFAULT_HOME_CITY", "HOME_CITY_VARIABLE", "HomeCity", "home_city", "load_home_city"]

HOME_CITY_VARIABLE = "HUB_HOME_CITY"
DEFAULT_HOME_CITY = Path(__file__).with_name("data") / "changshu.toml"
_CODE = re.compile(r"\d{6}")


@dataclass(frozen=True, slots=True)
class HomeCity:
    """The home county and its towns: `units` maps each written name, current, other or former, to the
    current units it may stand for (one, except for an old name that several units share)."""

    district: str
    code: str
    units: dict[str, frozenset[str]]

    @property
    def short(self) -> str:
        """The county's name without 市 / 县 / 区, as people write it: 常熟."""
        return self.district[:-1]

    def unit_named(self, written: str) -> str | None:
        """The one current unit `written` stands for; None when unknown or when it may stand for several."""
        units = self.units.get(written)
        return next(iter(units)) if units is not None and len(units) == 1 else None


def load_home_city(path: Path) -> HomeCity:
    """Read a home-city file; an InputError names the file and what is wrong in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"home city file {path}: {exc.strerror or exc}; set {HOME_CITY_VARIABLE}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"home city file {path}: not valid TOML ({exc})") from exc
    district, code = data.get("district"), data.get("code")
    if not isinstance(district, str) or not district.endswith(("市", "县", "区", "旗")) or len(district) < 2:
        raise InputError(f"home city file {path}: `district` must name a county-level division, like 常熟市")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InputError(f"home city file {path}: `code` must be the six-digit division code, like 320581")
    units: defaultdict[str, set[str]] = defaultdict(set)
    for number, unit in enumerate(data.get("unit", []), start=1):
        name = unit.get("name") if isinstance(unit, dict) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"home city file {path}: [[unit]] number {number} has no `name`")
        units[name].add(name)
        for key in ("also", "formerly"):
            for written in _names(unit.get(key, []), path, name, key):
                units[written].add(name)
    if not units:
        raise InputError(f"home city file {path}: list the towns and subdistricts as [[unit]] tables")
    return HomeCity(district, code, {written: frozenset(names) for written, names in units.items()})


def _names(value: Any, path: Path, unit: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"home city file {path}: `{key}` of {unit} must be a list of names")
    return value


def home_city() -> HomeCity:
    """The configured home city (`HUB_HOME_CITY`, else the default file), read once per file."""
    return _read(os.environ.get(HOME_CITY_VARIABLE) or str(DEFAULT_HOME_CITY))


@cache
def _read(path: str) -> HomeCity:
    return load_home_city(Path(path))
