"""The city's people, household by household: registered residents and migrants, with the traps of
real civil-registry data built in (namesakes, twins, a son named after his father, families sharing a
flat and a phone, people living away from where they are registered).

Households are produced one at a time so a million persons never sit in memory together.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from hub.generate.housing import CITY_REGION_CODE, Housing
from hub.generate.noise import chinese_number
from hub.generate.pools import (
    COMMON_FULL_NAMES,
    ERAS,
    HOMETOWN_TOWNS,
    HOMETOWN_VILLAGES,
    LOCAL_SURNAMES,
    MIGRANT_REGIONS,
    MINORITY_NAMES,
    MOBILE_PREFIXES,
    NATIONAL_SURNAMES,
    RESIDENT_REGIONS,
    XINJIANG_REGION,
    Era,
    Region,
)
from hub.normalize.identifiers import resident_id_check_char

__all__ = ["SNAPSHOT_YEAR", "Household", "Person", "Population"]

SNAPSHOT_YEAR = 2024  # the records describe the city as of mid-2024; nobody is born after June
MIGRANT_SHARE = 0.30  # of households (migrant households are smaller: ~22% of persons)
TWIN_RATE = 0.02  # of families with children: the youngest child has a twin
JUNIOR_RATE = 0.006  # of sons living with their father: the son carries his father's exact name
NAMESAKE_RATE = 0.012  # of household heads: same name and birth year as an earlier head elsewhere
COMMON_NAME_RATE = 0.01  # of household heads: one of the city's most common full names
SPLIT_REGISTRATION_RATE = 0.12  # of resident households: registered at another dwelling (人户分离)
RESIDENT_RENTER_RATE = 0.06  # of resident households: rent instead of owning
SHARED_RENTAL_RATE = 0.06  # of migrant households: share a rented dwelling with another (群租)
HOME_PHONE_RATE = 0.35  # of resident households: a landline shared by the family
MINORITY_RATE = 0.01  # of migrant households: a single worker with a Uyghur name and a middle dot

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DAYS = tuple(f"{m:02d}{d:02d}" for m, days in enumerate(_MONTH_DAYS, 1) for d in range(1, days + 1))
_FIRST_HALF = sum(_MONTH_DAYS[:6])


@dataclass(slots=True)
class Person:
    """One real person; `number` gives the true id P0000001."""

    number: int
    name: str
    male: bool
    birth: str  # yyyymmdd
    id_number: str
    mobile: str
    home_phone: str
    dwelling: int
    registered: int  # dwelling of the household registration, -1 when registered outside the city
    hometown: str  # registration address outside the city, "" for residents
    migrant: bool
    employer: int = -1

    @property
    def true_id(self) -> str:
        return f"P{self.number:07d}"

    @property
    def age(self) -> int:
        return SNAPSHOT_YEAR - int(self.birth[:4])


@dataclass(slots=True)
class Household:
    """The people living at one dwelling and sharing one household book; `number` is its 户号."""

    number: int
    members: list[Person]
    dwelling: int
    migrant: bool
    rental: bool


class Population:
    """Streams households until `persons` people live in the city."""

    def __init__(self, rng: random.Random, housing: Housing, persons: int) -> None:
        self._rng = rng
        self._housing = housing
        self._target = persons
        self._made = 0
        self._households = 0
        self._id_sequences: dict[str, int] = {}
        self._recent_heads: list[tuple[str, bool, str]] = []
        self._recent_rentals: list[int] = []
        self.occupancy = bytearray(len(housing))  # 1 = owner lives there, 2 = rented out, 3 = both
        cheap: list[int] = []
        other: list[int] = []
        for dwelling in range(len(housing)):
            (cheap if housing.place(dwelling).rental_friendly else other).append(dwelling)
        rng.shuffle(cheap)
        rng.shuffle(other)
        self._cheap = cheap
        self._other = other

    def __iter__(self) -> Iterator[Household]:
        while self._made < self._target:
            if self._rng.random() < MIGRANT_SHARE:
                household = self._migrant_household()
            else:
                household = self._resident_household()
            overflow = self._made + len(household.members) - self._target
            if overflow > 0:
                del household.members[len(household.members) - overflow :]
            self._made += len(household.members)
            yield household

    # -- dwellings ----------------------------------------------------------------------------

    def _take_dwelling(self, prefer_cheap: bool) -> int:
        first, second = (self._cheap, self._other) if prefer_cheap else (self._other, self._cheap)
        if first:
            return first.pop()
        if second:
            return second.pop()
        return self._rng.randrange(len(self._housing))  # the stock ran out: people double up

    def _rental_dwelling(self) -> int:
        if self._recent_rentals and self._rng.random() < SHARED_RENTAL_RATE:
            dwelling = self._rng.choice(self._recent_rentals)
        else:
            dwelling = self._take_dwelling(self._rng.random() < 0.75)
            if len(self._recent_rentals) < 64:
                self._recent_rentals.append(dwelling)
            else:
                self._recent_rentals[self._rng.randrange(64)] = dwelling
        self.occupancy[dwelling] |= 2
        return dwelling

    # -- people -------------------------------------------------------------------------------

    def _birth(self, age: int) -> str:
        year = SNAPSHOT_YEAR - age
        day = self._rng.randrange(_FIRST_HALF) if age == 0 else self._rng.randrange(365)
        return f"{year}{_DAYS[day]}"

    def _id_number(self, region: str, birth: str, male: bool) -> str:
        key = region + birth + ("1" if male else "0")
        sequence = self._id_sequences.get(key)
        if sequence is None:
            sequence = self._rng.randrange(250) * 2 + (1 if male else 0)
        self._id_sequences[key] = (sequence + 2) % 1000
        first17 = f"{key[:14]}{sequence:03d}"
        return first17 + resident_id_check_char(first17)

    def _mobile(self, age: int) -> str:
        chance = 0.0 if age < 12 else 0.5 if age < 18 else 0.97 if age < 70 else 0.6 if age < 80 else 0.25
        if self._rng.random() >= chance:
            return ""
        return f"{self._rng.choice(MOBILE_PREFIXES)}{self._rng.randrange(100_000_000):08d}"

    def _given_name(self, era: Era, male: bool) -> str:
        rng = self._rng
        if rng.random() < era.single_share:
            return rng.choice(era.male_single if male else era.female_single)
        if rng.random() < 0.3:
            return rng.choice(era.male_fixed if male else era.female_fixed)
        if male:
            return rng.choice(era.male_first) + rng.choice(era.male_second)
        return rng.choice(era.female_first) + rng.choice(era.female_second)

    def _person(
        self, surname: str, male: bool, age: int, region: str, home: _Home,
        given: str | None = None, birth: str | None = None,
    ) -> Person:  # fmt: skip
        birth = birth or self._birth(age)
        name = surname + (given if given is not None else self._given_name(_era(int(birth[:4])), male))
        id_number = self._id_number(region, birth, male)
        return Person(0, name, male, birth, id_number, self._mobile(age), "", *home, bool(home.hometown))

    def _head(self, surnames: tuple[str, ...], male: bool, age: int, region: str, home: _Home) -> Person:
        """A household head; sometimes a namesake of an earlier head, or one of the commonest names."""
        rng = self._rng
        roll = rng.random()
        if roll < NAMESAKE_RATE and self._recent_heads:
            name, male, year = rng.choice(self._recent_heads)
            person = self._person("", male, max(18, SNAPSHOT_YEAR - int(year)), region, home, given=name)
        elif roll < NAMESAKE_RATE + COMMON_NAME_RATE:
            person = self._person("", male, age, region, home, given=rng.choice(COMMON_FULL_NAMES))
        else:
            person = self._person(rng.choice(surnames), male, age, region, home)
        entry = (person.name, person.male, person.birth[:4])
        if len(self._recent_heads) < 512:
            self._recent_heads.append(entry)
        else:
            self._recent_heads[rng.randrange(512)] = entry
        return person

    def _children(
        self, father: Person | None, mother: Person, surname: str, region: str | None, count: int, home: _Home
    ) -> list[Person]:
        """Children of a mother aged 22-38 at their birth; sometimes twins, sometimes a junior."""
        rng = self._rng
        oldest = mother.age - 22
        youngest = max(0, mother.age - 38)
        if oldest < youngest:
            return []
        children: list[Person] = []
        shared = rng.choice(_era(SNAPSHOT_YEAR - oldest).male_first) if rng.random() < 0.3 else None
        for _ in range(count):
            age = rng.randint(youngest, oldest)
            male = rng.random() < 0.52
            child_region = region or (CITY_REGION_CODE if age < 18 else rng.choice(RESIDENT_REGIONS))
            given = None
            if shared is not None:  # siblings sharing a generation character (字辈)
                era = _era(SNAPSHOT_YEAR - age)
                given = shared + rng.choice(era.male_second if male else era.female_second)
            child = self._person(surname, male, age, child_region, home, given)
            if father is not None and male and rng.random() < JUNIOR_RATE:
                child.name = father.name
            children.append(child)
        if children and rng.random() < TWIN_RATE:
            children.append(self._twin(children[-1], surname, home))
        return children

    def _twin(self, sibling: Person, surname: str, home: _Home) -> Person:
        """A twin: same birth date and flat; the two given names share a character (佳怡 / 佳琪)."""
        rng = self._rng
        era = _era(int(sibling.birth[:4]))
        male = rng.random() < 0.5
        second = era.male_second if male else era.female_second
        given = sibling.name[len(surname) :]
        if len(given) == 2:
            twin_given = given[0] + rng.choice([c for c in second if c != given[1]] or list(second))
        else:
            twin_given = given + rng.choice(second)
        region = sibling.id_number[:6]
        return self._person(surname, male, sibling.age, region, home, twin_given, sibling.birth)

    def _finish(self, members: list[Person], dwelling: int, migrant: bool, rental: bool) -> Household:
        self._households += 1
        home_phone = ""
        if self._rng.random() < (0.03 if migrant else HOME_PHONE_RATE):
            home_phone = f"0512-5{self._rng.choice('1223')}{self._rng.randrange(1_000_000):06d}"
        for offset, person in enumerate(members):
            person.number = self._made + offset + 1
            person.home_phone = home_phone
        return Household(self._households, members, dwelling, migrant, rental)

    def _resident_household(self) -> Household:
        rng = self._rng
        rental = rng.random() < RESIDENT_RENTER_RATE
        if rental:
            dwelling = self._rental_dwelling()
        else:
            dwelling = self._take_dwelling(rng.random() < 0.3)
            self.occupancy[dwelling] |= 1
        registered = dwelling
        if rental or rng.random() < SPLIT_REGISTRATION_RATE:
            registered = rng.randrange(len(self._housing))
        members = self._family(LOCAL_SURNAMES, None, _Home(dwelling, registered, ""))
        return self._finish(members, dwelling, False, rental)

    def _migrant_household(self) -> Household:
        rng = self._rng
        dwelling = self._rental_dwelling()
        region = rng.choice(MIGRANT_REGIONS)
        home = _Home(dwelling, -1, _hometown(rng, region))
        roll = rng.random()
        if roll < MINORITY_RATE:
            name, sex = rng.choice(MINORITY_NAMES)
            home = _Home(dwelling, -1, _hometown(rng, XINJIANG_REGION))
            person = self._person("", sex == "M", rng.randint(19, 45), XINJIANG_REGION.code, home, name)
            return self._finish([person], dwelling, True, True)
        if roll < 0.06:  # two unrelated workers sharing one rented room
            first = self._head(NATIONAL_SURNAMES, True, rng.randint(18, 50), region.code, home)
            other = rng.choice(MIGRANT_REGIONS)
            other_home = _Home(dwelling, -1, _hometown(rng, other))
            second = self._head(NATIONAL_SURNAMES, True, rng.randint(18, 50), other.code, other_home)
            return self._finish([first, second], dwelling, True, True)
        members = self._family(NATIONAL_SURNAMES, region, home)
        return self._finish(members, dwelling, True, True)

    def _family(self, surnames: tuple[str, ...], region: Region | None, home: _Home) -> list[Person]:
        """A family: a single person, a couple, parents with children, or three generations."""
        rng = self._rng
        migrant = region is not None
        home_region = region.code if region is not None else None

        def region_code() -> str:
            if region is not None:
                return region.code if rng.random() < 0.85 else rng.choice(MIGRANT_REGIONS).code
            return rng.choice(RESIDENT_REGIONS)

        roll = rng.random()
        if migrant:
            shape = "single" if roll < 0.45 else "couple" if roll < 0.7 else "nuclear"
        else:
            shape = (
                "single" if roll < 0.08 else "widow" if roll < 0.15 else "couple" if roll < 0.33
                else "nuclear" if roll < 0.73 else "three" if roll < 0.93 else "lone_parent"
            )  # fmt: skip
        if shape == "single":
            age = rng.randint(18, 45) if migrant else rng.randint(22, 38)
            return [self._head(surnames, rng.random() < 0.6, age, region_code(), home)]
        if shape == "widow":
            return [self._head(surnames, rng.random() < 0.3, rng.randint(65, 94), region_code(), home)]
        if shape == "lone_parent":
            mother = self._head(surnames, False, rng.randint(28, 50), region_code(), home)
            surname = rng.choice(surnames)
            return [mother, *self._children(None, mother, surname, home_region, rng.randint(1, 2), home)]
        if shape == "couple" and not migrant and rng.random() < 0.5:
            husband_age = rng.randint(55, 88)
        elif shape == "couple":
            husband_age = rng.randint(22, 40)
        else:
            husband_age = rng.randint(26, 60) if migrant else rng.randint(28, 62)
        husband = self._head(surnames, True, husband_age, region_code(), home)
        wife_age = max(20, min(husband.age - rng.randint(-2, 6), 95))
        wife = self._person(rng.choice(surnames), False, wife_age, region_code(), home)
        members = [husband, wife]
        surname = _surname_of(husband)
        if shape in ("nuclear", "three"):
            child_surname = surname if rng.random() < 0.95 else _surname_of(wife)
            count = 1 if rng.random() < 0.6 else 2
            members.extend(self._children(husband, wife, child_surname, home_region, count, home))
        if shape == "three":
            grandmother_age = min(96, husband.age + rng.randint(24, 32))
            if rng.random() < 0.6:
                grandfather_age = min(99, grandmother_age + rng.randint(0, 4))
                members.append(self._person(surname, True, grandfather_age, region_code(), home))
            members.append(self._person(rng.choice(surnames), False, grandmother_age, region_code(), home))
        return members


class _Home(NamedTuple):
    dwelling: int
    registered: int
    hometown: str


def _era(year: int) -> Era:
    for era in ERAS:
        if year <= era.until_year:
            return era
    return ERAS[-1]


def _surname_of(person: Person) -> str:
    two = person.name[:2]
    return two if two in _COMPOUND_SURNAMES else person.name[0]


_COMPOUND_SURNAMES = frozenset(name for name in NATIONAL_SURNAMES if len(name) == 2)


def _hometown(rng: random.Random, region: Region) -> str:
    """A registration address back home: "安徽省阜阳市临泉县城关镇王庄村三组12号"."""
    place = f"{region.name}{rng.choice(HOMETOWN_TOWNS)}{rng.choice(HOMETOWN_VILLAGES)}"
    return f"{place}{chinese_number(rng.randint(1, 12))}组{rng.randint(1, 99)}号"
