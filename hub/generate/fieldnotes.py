"""The field-notes noise profile: departmental records as the stewards' field notes describe them.

A second way of writing the same city, made from what the data stewards report about their systems'
exports (docs/field-notes.md) and nothing else; it is frozen, so that the resolver is measured on
records it was not tuned to. The world (people, houses, companies) and which office holds which
record come from the generator as in the classic profile; this profile decides how each office writes
the values, starting from the true ones:

- addresses in every grammar of the notes: estates as 幢 / 栋 / 号楼 / # / dashes, Chinese and
  full-width numerals, the estate's short name, with or without the road and number, the community
  in place of the road after a re-survey; villages with the group or hamlet named, numbered or left
  out, 村委会 / 村民委员会, numbers in Chinese numerals; 之一 sub-numbers; the township's old names
  (an old name may stand for several current towns); every prefix from the province down to none;
  a name and phone pasted in, spaces, 号 dropped;
- residence is not registration: the household registry writes the residence for some people only,
  and a grid worker the residence alone, often without township, ID number or birth date;
- resident IDs in their 15-digit form, with a wrong check character, a wrong digit, two digits
  swapped, a lower-case x, spaces, full-width digits, or a relative's number;
- names by ear (dialect homophones such as 黄/王 and 吴/胡), characters of similar shape, traditional
  characters, a character dropped or doubled, `?` or `*` for one not known; birth dates and phones in
  every layout of the notes; a child with a parent's phone;
- doorplates re-surveyed under a second code; rentals with the doorplate code only sometimes;
  companies under 有限公司 / 有限责任公司, the region before, after in brackets or left out, former
  names, short names and old 15-character tax numbers.
"""

from __future__ import annotations

import random
from typing import Any

from hub.generate.companies import Company
from hub.generate.housing import Housing, Place
from hub.generate.noise import chinese_number, full_width, old_resident_id, traditional
from hub.generate.people import Household, Person
from hub.normalize.identifiers import resident_id_check_char

__all__ = ["PROFILES", "FieldNotes"]

PROFILES = ("classic", "field-notes")

# The towns' history as the notes give it: each current town or subdistrict, the old names registries
# still write for it. 虞山镇 became three subdistricts, so it stands for any of them.
OLD_TOWN_NAMES: dict[str, tuple[str, ...]] = {
    "沙家浜镇": ("唐市镇",),
    "古里镇": ("白茆镇", "淼泉镇"),
    "董浜镇": ("徐市镇",),
    "辛庄镇": ("张桥镇",),
    "尚湖镇": ("王庄镇", "冶塘镇", "练塘镇"),
    "海虞镇": ("福山镇", "王市镇"),
    "支塘镇": ("任阳镇",),
    "常福街道": ("谢桥镇", "虞山镇"),
    "虞山街道": ("虞山镇",),
    "琴川街道": ("虞山镇",),
    "东南街道": ("东南经济开发区",),
}
_PREFIXES = ("江苏省苏州市常熟市", "江苏省常熟市", "常熟市", "常熟", "")
_DIALECT = {"黄": "王", "王": "黄", "吴": "胡", "胡": "吴"}
_SHAPES = dict(
    zip(
        "王玉未末己已日曰土士人入大太天夭申由甲田拨拔",
        "玉王末未已己曰日士土入人太大夭天由申田甲拔拨",
        strict=True,
    )
)
_DIGIT_SHAPES = str.maketrans("0123456789", "〇一二三四五六七八九")

# Rates: shares of the records of an office (frozen with the profile).
REGISTRY_RESIDENCE_RATE = 0.45  # the household registry writes where someone lives for some only
REGISTRY_OLD_TOWN_RATE = 0.15
OTHERS_OLD_TOWN_RATE = 0.05
GRID_NO_TOWN_RATE = 0.7
GRID_NO_ID_RATE = 0.4
GRID_NO_BIRTH_RATE = 0.5
GRID_NAME_BY_EAR_RATE = 0.12
GRID_PASTED_RATE = 0.03
RENTAL_DOORPLATE_RATE = 0.3
DOORPLATE_RESURVEY_RATE = 0.04
SUB_NUMBER_RATE = 0.04  # of village houses: a 之一 house beside the one of the number before
ID_DAMAGE_RATE = {"household_registry": 0.01, "migrant_registry": 0.08, "rental_registry": 0.04, "tax": 0.01}
LEGACY_ID_RATE = 0.25  # of migrants born before 1985
RELATIVE_ID_RATE = 0.03  # of children and elders in the household registry
TAX_OLD_NUMBER_RATE = 0.1
TAX_FORMER_NAME_RATE = 0.6  # of renamed companies
TAX_SHORT_NAME_RATE = 0.15


class FieldNotes:
    """Rewrites each record's values as its office writes them, from the true values."""

    def __init__(self, housing: Housing, seed: int) -> None:
        self._housing = housing
        self._rng = random.Random(f"field-notes:{seed}")
        self._group: dict[int, int] = {}  # village place → its group number within the village
        counts: dict[tuple[str, str], int] = {}
        for index, place in enumerate(housing.places):
            if place.village:
                key = (place.town.name, place.community)
                counts[key] = counts.get(key, 0) + 1
                self._group[index] = counts[key]

    # -- values ---------------------------------------------------------------------------------

    def _town(self, place: Place, old_rate: float) -> str:
        old = OLD_TOWN_NAMES.get(place.town.name)
        if old and self._rng.random() < old_rate:
            return self._rng.choice(old)
        return place.town.name

    def _sub_house(self, dwelling: int) -> bool:
        """Whether the house is a 之一 house (the same houses in every office's records)."""
        place = self._housing.place(dwelling)
        chosen = (dwelling * 2654435761) % 1000 < SUB_NUMBER_RATE * 1000
        return place.village and self._housing.room[dwelling] > 1 and chosen

    def _house_number(self, dwelling: int, spoken: bool) -> str:
        number = self._housing.room[dwelling]
        if self._sub_house(dwelling):
            base = chinese_number(number - 1) if spoken else str(number - 1)
            return f"{base}号之一" if spoken or self._rng.random() < 0.5 else f"{base}-1号"
        return f"{chinese_number(number) if spoken else number}号"

    def _village(self, dwelling: int, place: Place) -> str:
        rng = self._rng
        village, hamlet, group = place.community, place.name, self._group[self._housing.place_of[dwelling]]
        style = rng.randrange(7)
        house = self._house_number(dwelling, spoken=style == 1)
        if style == 0:
            return f"{village}{hamlet}{house}"
        if style == 1:
            return f"{village}{house}"
        if style == 2:
            return f"{village}{rng.choice(('委会', '民委员会'))}{hamlet}{house}"
        if style == 3:
            return f"{village}{group if rng.random() < 0.5 else chinese_number(group)}组{house}"
        if style == 4:
            return f"{village.removesuffix('村')}{house}"
        if style == 5:
            return f"{village}{house}"
        return f"{village}委会{group}组{house}"

    def _estate(self, dwelling: int, place: Place) -> str:
        rng = self._rng
        housing = self._housing
        building, unit, room = housing.building[dwelling], housing.unit[dwelling], housing.room[dwelling]
        name, short = place.name, place.name[:2]
        units = place.units
        style = rng.randrange(7)
        if style == 0:
            flat = f"{building}幢{unit}单元{room}室" if units else f"{building}幢{room}室"
        elif style == 1:
            flat = f"{building}栋{unit}单元{room}" if units else f"{building}栋{room}"
        elif style == 2:
            flat = f"{building}号楼{unit}单元{room}室" if units else f"{building}号楼{room}室"
        elif style == 3:
            flat = f"{building}-{unit}-{room}" if units else f"{building}-{room}"
        elif style == 4:
            flat = f"{building}#{room}"
        elif style == 5:
            spoken_unit = f"{chinese_number(unit)}单元" if units else ""
            flat = f"{chinese_number(building)}幢{spoken_unit}{str(room).translate(_DIGIT_SHAPES)}"
        else:
            return f"{short}{building}-{unit}-{room}" if units else f"{short}{building}-{room}"
        before = rng.randrange(3)
        if before == 0:
            return f"{place.road}{place.road_no}号{name}{flat}"
        if before == 1:
            return f"{place.community}{name}{flat}"
        return f"{name}{flat}"

    def address(
        self, dwelling: int, *, formal: bool = False, standard: bool = False, town_rate: float = 1.0
    ) -> str:
        """One dwelling as an office writes it. `formal`: the registry's complete form, old town
        names included; `standard`: the doorplate platform's, the province down, current names."""
        rng = self._rng
        place = self._housing.place(dwelling)
        if formal or standard:
            prefix = _PREFIXES[0] if standard else rng.choice(_PREFIXES[:3])
            if place.village:
                village = (
                    place.community
                    if standard
                    else f"{place.community}{rng.choice(('', '委会', '民委员会'))}"
                )
                tail = f"{village}{place.name}{self._house_number(dwelling, spoken=False)}"
            else:
                housing = self._housing
                b, u, r = housing.building[dwelling], housing.unit[dwelling], housing.room[dwelling]
                flat = f"{b}幢{u}单元{r}室" if place.units else f"{b}幢{r}室"
                tail = f"{place.road}{place.road_no}号{place.name}{flat}"
            return f"{prefix}{self._town(place, 0.0 if standard else REGISTRY_OLD_TOWN_RATE)}{tail}"
        tail = self._village(dwelling, place) if place.village else self._estate(dwelling, place)
        town = self._town(place, OTHERS_OLD_TOWN_RATE) if rng.random() < town_rate else ""
        prefix = rng.choice(_PREFIXES) if town else rng.choice(("常熟市", "常熟", "", ""))
        text = f"{prefix}{town}{tail}"
        if rng.random() < 0.1:
            text = full_width(text)
        if rng.random() < 0.05:
            text = text.replace("号", "", 1) if "号楼" not in text else text
        if rng.random() < 0.05:
            cut = rng.randrange(1, len(text))
            text = f"{text[:cut]} {text[cut:]}"
        return text

    def id_number(self, id_number: str, rate: float, *, legacy: bool = False) -> str:
        rng = self._rng
        if not id_number:
            return id_number
        if legacy:
            return old_resident_id(id_number)
        if rng.random() >= rate:
            return id_number.lower() if rng.random() < 0.05 else id_number
        style = rng.randrange(6)
        if style == 0:  # a wrong check character
            right = resident_id_check_char(id_number[:17])
            return id_number[:17] + rng.choice([c for c in "0123456789X" if c != right])
        if style == 1:  # one digit wrong
            position = rng.randrange(6, 17)
            return id_number[:position] + str((int(id_number[position]) + 1) % 10) + id_number[position + 1 :]
        if style == 2:  # two digits swapped
            position = rng.randrange(6, 16)
            return (
                id_number[:position]
                + id_number[position + 1]
                + id_number[position]
                + id_number[position + 2 :]
            )
        if style == 3:
            return f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}"
        if style == 4:
            return full_width(id_number)
        return id_number.lower()

    def name(self, name: str) -> str:
        """A name as heard or read: a dialect homophone, a similar shape, traditional, a character
        dropped or doubled, or `?` / `*` for one not known."""
        rng = self._rng
        style = rng.randrange(6)
        positions = range(len(name))
        if style == 0:
            found = [i for i in positions if name[i] in _DIALECT]
            if found:
                i = rng.choice(found)
                return name[:i] + _DIALECT[name[i]] + name[i + 1 :]
            style = 2
        if style == 1:
            found = [i for i in positions if name[i] in _SHAPES]
            if found:
                i = rng.choice(found)
                return name[:i] + _SHAPES[name[i]] + name[i + 1 :]
            style = 2
        if style == 2:
            return traditional(name)
        if style == 3 and len(name) >= 3:
            i = rng.randrange(1, len(name))
            return name[:i] + name[i + 1 :]
        if style == 4:
            i = rng.randrange(1, len(name))
            return name[: i + 1] + name[i:]
        i = rng.randrange(1, len(name))
        return name[:i] + rng.choice("?*") + name[i + 1 :]

    def birth_date(self, birth: str) -> str:
        year, month, day = birth[:4], birth[4:6], birth[6:]
        style = self._rng.randrange(5)
        if style == 0:
            return f"{year}年{int(month)}月{int(day)}日"
        if style == 1:
            return f"{year}.{month}.{day}"
        if style == 2:
            return f"{year}/{int(month)}/{int(day)}"
        if style == 3:
            return birth
        return f"{year}-{month}-{day}"

    def phone(self, phone: str) -> str:
        if not phone or phone.startswith("0"):
            return phone
        style = self._rng.randrange(4)
        if style == 0:
            return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
        if style == 1:
            return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
        if style == 2:
            return f"86{phone}"
        return phone

    # -- records --------------------------------------------------------------------------------

    def person(
        self, source: str, record: dict[str, Any], person: Person, household: Household | None
    ) -> dict[str, Any]:
        """`record` as `source` writes it in this profile (same fields, rewritten values)."""
        rng = self._rng
        out = dict(record)
        if "name" in out:
            by_ear = GRID_NAME_BY_EAR_RATE if source == "grid_collection" else 0.02
            out["name"] = self.name(person.name) if rng.random() < by_ear else person.name
        if out.get("id_number"):
            legacy = source == "migrant_registry" and person.birth < "1985" and rng.random() < LEGACY_ID_RATE
            id_number = self.id_number(person.id_number, ID_DAMAGE_RATE.get(source, 0.03), legacy=legacy)
            minor_or_elder = not 16 <= person.age < 75
            if (
                household
                and source == "household_registry"
                and minor_or_elder
                and rng.random() < RELATIVE_ID_RATE
            ):
                relatives = [m for m in household.members if m is not person and 25 <= m.age < 75]
                id_number = rng.choice(relatives).id_number if relatives else id_number
            out["id_number"] = id_number
        if out.get("birth_date"):
            out["birth_date"] = self.birth_date(person.birth)
        if out.get("phone"):
            phone = person.mobile
            if not phone and household is not None:  # a child's record with a parent's phone
                phone = next((m.mobile for m in household.members if m.mobile), person.home_phone)
            out["phone"] = self.phone(phone)
        if source == "household_registry" and person.registered >= 0:
            out["registered_address"] = self.address(person.registered, formal=True)
            if rng.random() < REGISTRY_RESIDENCE_RATE:
                out["address"] = self.address(person.dwelling, formal=True)
            else:
                out.pop("address", None)
        elif source == "grid_collection":
            out["address"] = self.address(person.dwelling, town_rate=1 - GRID_NO_TOWN_RATE)
            if rng.random() < GRID_NO_ID_RATE:
                out["id_number"] = ""
            if rng.random() < GRID_NO_BIRTH_RATE:
                out["birth_date"] = ""
            if rng.random() < GRID_PASTED_RATE:
                out["address"] += f" {person.name}{person.mobile or ''}"
            if "registered_address" in out and person.registered >= 0:
                out["registered_address"] = self.address(person.registered, town_rate=0.5)
        elif "address" in out:
            out["address"] = self.address(person.dwelling)
        return out

    def dwelling(self, source: str, record: dict[str, Any], dwelling: int) -> dict[str, Any]:
        out = dict(record)
        out["address"] = self.address(dwelling, standard=source == "doorplate_platform")
        if source == "rental_registry":
            code = self._housing.doorplate_code(dwelling)
            out["doorplate_code"] = code if self._rng.random() < RENTAL_DOORPLATE_RATE else ""
        return out

    def resurvey(self, record: dict[str, Any], dwelling: int) -> dict[str, Any] | None:
        """A doorplate re-survey's second record of the dwelling, with a new code; None when none."""
        if self._rng.random() >= DOORPLATE_RESURVEY_RATE:
            return None
        code = str(record["doorplate_code"])
        serial = (int(code[-9:]) * 7 + 500_000_001) % 1_000_000_000
        return {**record, "address": self.address(dwelling), "doorplate_code": f"{code[:-9]}{serial:09d}"}

    def company(self, source: str, record: dict[str, Any], company: Company) -> dict[str, Any]:
        rng = self._rng
        out = dict(record)
        if source == "tax":
            if company.old_name and rng.random() < TAX_FORMER_NAME_RATE:
                out["name"] = company.old_name
            elif rng.random() < TAX_SHORT_NAME_RATE:
                out["name"] = f"{company.brand}{company.industry}"
            else:
                out["name"] = self.company_name(company)
            if rng.random() < TAX_OLD_NUMBER_RATE:
                out["uscc"] = company.uscc[2:17]  # the old tax number: region and organization code
        for field in ("registered_address", "business_address"):
            if out.get(field):
                out[field] = self._street(str(out[field]))
        return out

    def company_name(self, company: Company) -> str:
        """The name with 有限公司 / 有限责任公司 swapped and the region moved, bracketed or left out."""
        rng = self._rng
        form = company.form
        if form in ("有限公司", "有限责任公司") and rng.random() < 0.3:
            form = "有限责任公司" if form == "有限公司" else "有限公司"
        region = "常熟" if "常熟" in company.prefix else company.prefix.strip("（）()")
        style = rng.randrange(4)
        body = f"{company.brand}{company.industry}"
        if style == 0:
            name = f"{region}{body}{form}"
        elif style == 1:
            name = f"{body}（{region}）{form}"
        elif style == 2:
            name = f"{body}({region}){form}"
        else:
            name = f"{body}{form}"
        return name + company.branch

    def _street(self, text: str) -> str:
        rng = self._rng
        if text.startswith("常熟市") and rng.random() < 0.5:
            text = rng.choice(_PREFIXES) + text.removeprefix("常熟市")
        for town, old in OLD_TOWN_NAMES.items():
            if town in text and rng.random() < OTHERS_OLD_TOWN_RATE:
                text = text.replace(town, rng.choice(old), 1)
        if rng.random() < 0.05:
            text = text.replace("号", "", 1)
        return text
