"""The city's housing stock: towns, communities, roads, compounds and village hamlets, and every flat
or house in them, with the address forms each kind of clerk writes for one dwelling.

A dwelling is an index into parallel arrays (place, building, unit, room), so 400k dwellings cost a
few megabytes; address texts are rendered on demand, in the style of whoever writes them.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass

from hub.generate.noise import chinese_number, full_width
from hub.generate.pools import (
    COMPOUND_SUFFIXES,
    HAMLET_SUFFIXES,
    INDUSTRIAL_PARKS,
    LOCAL_SURNAMES,
    PLACE_WORDS_FIRST,
    PLACE_WORDS_SECOND,
    ROAD_SUFFIXES,
    ROAD_WORDS,
    TOWNS,
    Town,
)
from hub.generate.serials import scramble

__all__ = ["CITY_REGION_CODE", "Housing", "Place", "build_housing"]

CITY_REGION_CODE = "320581"
_PROVINCE_PREFIX = "江苏省苏州市常熟市"
_REGISTRY_PREFIX = "江苏省常熟市"
_COMPOUND_SHARE = {True: 0.9, False: 0.45}  # share of dwellings in compounds, urban vs rural towns
UNIT_SLIP_RATE = 0.05  # of rental registrations in buildings with units: the unit left out
# (floors, units per building, flats per floor and unit) choices per compound kind
_LAYOUTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {
    "新村": ((4, 5, 6, 6), (2, 3, 4), (2,)),
    "小区": ((6, 6, 7, 11, 11), (1, 2, 3), (2,)),
    "公寓": ((11, 18, 26, 33), (1,), (4, 6, 8)),
}
_DEFAULT_LAYOUT = ((6, 11, 15, 18, 18, 26), (1, 2), (2, 3))
_DOORPLATE_SALT = 320_581


@dataclass(frozen=True, slots=True)
class Place:
    """A compound (小区, 花园, 新村 ...) on a road, or a village hamlet (陆家宅) of a 村."""

    town: Town
    community: str
    road: str
    road_no: int
    name: str
    village: bool
    units: bool
    rental_friendly: bool
    grid_prefix: str
    grid_first: int


class Housing:
    """All dwellings of the city; dwelling `i` is place `place_of[i]`, building, unit and room."""

    def __init__(self, places: list[Place], roads: dict[str, list[str]]) -> None:
        self.places = places
        self.roads = roads
        self.place_of = array("I")
        self.building = array("H")
        self.unit = array("H")
        self.room = array("H")

    def __len__(self) -> int:
        return len(self.place_of)

    def add(self, place: int, building: int, unit: int, room: int) -> None:
        self.place_of.append(place)
        self.building.append(building)
        self.unit.append(unit)
        self.room.append(room)

    def place(self, dwelling: int) -> Place:
        return self.places[self.place_of[dwelling]]

    def _tail(self, dwelling: int, place: Place) -> str:
        if place.village:
            return f"{place.name}{self.room[dwelling]}号"
        if place.units:
            return f"{place.name}{self.building[dwelling]}幢{self.unit[dwelling]}单元{self.room[dwelling]}室"
        return f"{place.name}{self.building[dwelling]}幢{self.room[dwelling]}室"

    def full(self, dwelling: int) -> str:
        """The doorplate platform's canonical form, province down to room."""
        place = self.place(dwelling)
        if place.village:
            return f"{_PROVINCE_PREFIX}{place.town.name}{place.community}{self._tail(dwelling, place)}"
        road = f"{place.road}{place.road_no}号"
        return f"{_PROVINCE_PREFIX}{place.town.name}{road}{self._tail(dwelling, place)}"

    def registry(self, dwelling: int) -> str:
        """The household registry's form: community instead of road, no prefecture."""
        place = self.place(dwelling)
        return f"{_REGISTRY_PREFIX}{place.town.name}{place.community}{self._tail(dwelling, place)}"

    def short(self, dwelling: int) -> str:
        """The form most offices type: city, town, compound and flat."""
        place = self.place(dwelling)
        if place.village:
            return f"常熟市{place.town.name}{place.community}{self._tail(dwelling, place)}"
        return f"常熟市{place.town.name}{self._tail(dwelling, place)}"

    def abbreviated(self, dwelling: int, rng: random.Random) -> str:
        """A rental clerk's shorthand: "琴湖花园3-2-301", "虞山街道琴湖花园3幢2单元301室", "琴湖花园3栋2-301".

        A rental registration names the rented flat, unit included; in `UNIT_SLIP_RATE` of the records
        of buildings with units the clerk leaves the unit out ("琴湖花园3-301"), and such a record names
        every flat 301 of the building alike."""
        place = self.place(dwelling)
        building, unit, room = self.building[dwelling], self.unit[dwelling], self.room[dwelling]
        if place.village:
            return f"{place.community}{place.name}{room}号"
        style = rng.randrange(3)
        with_unit = place.units and rng.random() >= UNIT_SLIP_RATE
        if style == 1:
            unit_part = f"{unit}单元" if with_unit else ""
            return f"{place.town.name}{place.name}{building}幢{unit_part}{room}室"
        if not with_unit:
            return f"{place.name}{building}-{room}"
        if style == 0:
            return f"{place.name}{building}-{unit}-{room}"
        return f"{place.name}{building}栋{unit}-{room}"

    def spoken(self, dwelling: int, rng: random.Random) -> str:
        """A grid worker's colloquial form, one of many: "3-2-301", "三幢二单元301室", full-width digits,
        missing levels, noise words such as 附近 and 旁边."""
        place = self.place(dwelling)
        town = place.town.name
        building, unit, room = self.building[dwelling], self.unit[dwelling], self.room[dwelling]
        style = rng.randrange(7)
        if place.village:
            if style <= 1:
                return f"{place.community}{place.name}{room}号"
            if style == 2:
                return f"{town}{place.community}{place.name}{chinese_number(room)}号"
            if style == 3:
                return f"{town}{place.name}{room}号"
            if style == 4:
                return full_width(f"常熟{town}{place.community}{place.name}{room}号")
            if style == 5:
                return f"{place.community}{place.name}{room}号附近"
            return f"{place.community}{place.name}{room}号"
        unit_part = f"{unit}单元" if place.units else ""
        if style == 0:
            flat = f"{building}-{unit}-{room}" if place.units else f"{building}-{room}"
            return f"{town}{place.name}{flat}"
        if style == 1:
            return f"{place.name}{building}栋{unit_part}{room}"
        if style == 2:
            spoken_unit = f"{chinese_number(unit)}单元" if place.units else ""
            return f"{place.name}{chinese_number(building)}幢{spoken_unit}{room}室"
        if style == 3:
            return full_width(f"常熟市{town}{place.road}{place.road_no}号{self._tail(dwelling, place)}")
        if style == 4:
            flat = f"{building}-{unit}-{room}" if place.units else f"{building}-{room}"
            return f"{town}{place.name}（{place.road}旁边）{flat}"
        if style == 5:
            return f"{place.community}{place.name}{building}号楼{unit_part}{room}"
        return f"{place.name}{building}幢{unit_part}{room}室"

    def grid_code(self, dwelling: int) -> str:
        """The 15-digit grid of the community the dwelling belongs to."""
        place = self.place(dwelling)
        offset = (self.room[dwelling] - 1) // 40 if place.village else (self.building[dwelling] - 1) // 4
        return f"{place.grid_prefix}{place.grid_first + offset:03d}"

    def doorplate_code(self, dwelling: int) -> str:
        """The QR doorplate id: the city's region code, the town, and a scrambled serial."""
        serial = scramble(dwelling, 9, _DOORPLATE_SALT)
        return f"{CITY_REGION_CODE}{self.place(dwelling).town.code:03d}{serial:09d}"

    def street_address(self, rng: random.Random, town: Town) -> str:
        """A non-residential address for a company: a road number, a floor, an industrial park."""
        road = rng.choice(self.roads[town.name])
        number = rng.randrange(1, 400)
        style = rng.randrange(5)
        if style == 0:
            room = rng.randrange(1, 6) * 100 + rng.randrange(1, 9)
            return f"常熟市{town.name}{road}{number}号{rng.randrange(1, 12)}幢{room}室"
        if style == 1:
            return f"常熟市{rng.choice(INDUSTRIAL_PARKS)}{road}{number}号"
        if style == 2:
            return f"常熟市{town.name}{road}{number}号{rng.randrange(1, 9)}号楼"
        return f"常熟市{town.name}{road}{number}号"


class _Names:
    """Draws two-character place names that are unique across the city."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def draw(self, suffix: str, tries: int = 30) -> str:
        name = ""
        for _ in range(tries):
            second = self._rng.choice(PLACE_WORDS_SECOND)
            name = self._rng.choice(PLACE_WORDS_FIRST) + second + suffix
            if second != suffix[0] and name not in self._used:
                break
        self._used.add(name)  # after `tries` collisions a repeat is accepted: real cities have them
        return name


def _roads(rng: random.Random, count: int, used: set[str]) -> list[str]:
    roads: list[str] = []
    while len(roads) < count:
        word = rng.choice(ROAD_WORDS)
        suffix = rng.choice(ROAD_SUFFIXES)
        direction = rng.choice(("", "", "", "东", "西", "南", "北"))
        if suffix not in ("路", "大道") or word[-1] in "东西南北":
            direction = ""
        road = word + direction + suffix
        if road not in used or len(used) > 4 * len(ROAD_WORDS):
            used.add(road)
            roads.append(road)
    return roads


def build_housing(rng: random.Random, dwellings: int) -> Housing:
    """Build about `dwellings` flats and houses over the city's towns, weighted by town size."""
    total_weight = sum(town.weight for town in TOWNS)
    used_roads: set[str] = set()
    roads: dict[str, list[str]] = {}
    for town in TOWNS:
        count = max(3, min(30, dwellings * town.weight // total_weight // 1500 + 3))
        roads[town.name] = _roads(rng, count, used_roads)
    housing = Housing([], roads)
    communities = _Names(rng)
    compounds = _Names(rng)
    for town in TOWNS:
        target = max(1, round(dwellings * town.weight / total_weight))
        in_compounds = round(target * _COMPOUND_SHARE[town.urban])
        community_count = _build_compounds(rng, housing, town, in_compounds, communities, compounds)
        _build_villages(rng, housing, town, target - in_compounds, communities, community_count)
    return housing


def _build_compounds(
    rng: random.Random, housing: Housing, town: Town, target: int, communities: _Names, compounds: _Names
) -> int:
    built = 0
    community_index = 0
    community = ""
    left_in_community = 0
    grid = 1
    max_buildings = max(1, min(30, target // 500))
    while built < target:
        if left_in_community == 0:
            community_index += 1
            community = communities.draw("社区")
            left_in_community = rng.randint(1, 4)
            grid = 1
        left_in_community -= 1
        suffix = rng.choice(COMPOUND_SUFFIXES)
        floors, units, per_floor = _LAYOUTS.get(suffix, _DEFAULT_LAYOUT)
        floor_count, unit_count, flats = rng.choice(floors), rng.choice(units), rng.choice(per_floor)
        buildings = rng.randint(1, max_buildings)
        place = Place(
            town, community, rng.choice(housing.roads[town.name]), rng.randrange(1, 400),
            compounds.draw(suffix), False, unit_count > 1, suffix in ("新村", "小区"),
            f"{CITY_REGION_CODE}{town.code:03d}{community_index:03d}", grid,
        )  # fmt: skip
        grid += (buildings + 3) // 4
        housing.places.append(place)
        place_index = len(housing.places) - 1
        for building in range(1, buildings + 1):
            for unit in range(1, unit_count + 1):
                for floor in range(1, floor_count + 1):
                    for flat in range(1, flats + 1):
                        housing.add(place_index, building, unit, floor * 100 + flat)
                        built += 1
                        if built >= target:
                            return community_index
    return community_index


def _build_villages(
    rng: random.Random, housing: Housing, town: Town, target: int, communities: _Names, community_index: int
) -> None:
    built = 0
    while built < target:
        community_index += 1
        village = communities.draw("村")
        grid = 1
        hamlets: set[str] = set()
        for _ in range(rng.randint(2, 8)):
            hamlet = rng.choice(LOCAL_SURNAMES) + rng.choice(HAMLET_SUFFIXES)
            if hamlet in hamlets:
                continue
            hamlets.add(hamlet)
            houses = rng.randint(8, 60)
            place = Place(
                town, village, "", 0, hamlet, True, False, True,
                f"{CITY_REGION_CODE}{town.code:03d}{community_index:03d}", grid,
            )  # fmt: skip
            grid += (houses + 39) // 40
            housing.places.append(place)
            place_index = len(housing.places) - 1
            number = 0
            for _ in range(houses):
                number += 1 if rng.random() < 0.9 else 2  # numbers skip where a house was pulled down
                housing.add(place_index, 0, 0, number)
                built += 1
                if built >= target:
                    return
