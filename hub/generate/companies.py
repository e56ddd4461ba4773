"""The city's legal entities, with the hard negatives of an enterprise register built in: branches
with their own USCC, several companies of one brand sharing a representative and an address, and
renamed companies whose old name lingers in slower registries.

Companies are made before the people; their legal representatives are drawn from the adults as the
population streams by (`RepresentativeDraft`), and employees pick employers with `EmployerPicker`.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

from hub.generate.housing import CITY_REGION_CODE, Housing
from hub.generate.people import Person
from hub.generate.pools import (
    COMPANY_BRAND_FIRST,
    COMPANY_BRAND_SECOND,
    COMPANY_FORMS,
    COMPANY_INDUSTRIES,
    TOWNS,
    Town,
    expand,
)
from hub.normalize.identifiers import org_code_check_char, uscc_check_char

__all__ = ["ACTIVE_STATUSES", "Company", "EmployerPicker", "RepresentativeDraft", "build_companies"]

COMPANIES_PER_THOUSAND = 12  # the real city: ~12k enterprises for ~1M people
BRAND_GROUP_SHARE = 0.08  # of draws: 2-4 companies of one brand, one representative, one address
BRANCH_SHARE = 0.07  # of draws: a branch (分公司, 分店) with its own USCC
RENAMED_SHARE = 0.06  # of ordinary companies: renamed since registration
HOME_REGISTERED_SHARE = 0.12  # of companies: registered at the representative's home
SERIAL_FOUNDER_RATE = 0.04  # of representatives: also represent the next unrelated company
ACTIVE_STATUSES = ("存续", "在业")

_USCC_BODY_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Registrations per year grow with the economy: 1993 weighs 1, 2024 weighs 11.
_YEARS = tuple(year for year in range(1993, 2025) for _ in range(1 + (year - 1992) // 3))
_OLD_STATUSES = expand("存续:55 在业:15 注销:18 吊销:12")
_NEW_STATUSES = expand("存续:75 在业:15 注销:8 吊销:2")
_PREFIXES = expand("常熟市:40 常熟市@:8 常熟:15 苏州:12 江苏:8 （常熟）:7 :4")  # "@" = the old town name
_OUTSIDE_PREFIXES = expand("苏州:5 江苏:4 上海:3 无锡:2 浙江:1")
_LOCAL_BRANCH_SUFFIXES = expand("第一分店:3 第二分店:1 @分公司:4")  # "@" = the town's short name
_INDUSTRY_NAMES = tuple(dict.fromkeys(COMPANY_INDUSTRIES))  # each once, in a fixed order (sets have none)
_TOWN_WEIGHTS = tuple(town for town in TOWNS for _ in range(town.weight))


@dataclass(slots=True)
class Company:
    """One legal entity; `number` gives the true id L000001."""

    number: int
    prefix: str  # "常熟市", "苏州", ...; "（常熟）" puts the region in brackets after the trade name
    brand: str
    industry: str
    form: str  # 有限公司, 有限责任公司, 股份有限公司
    branch: str  # "" or the branch suffix: 常熟分公司, 第一分店
    old_name: str  # the name before a rename, "" when never renamed
    uscc: str
    established: str  # yyyymmdd
    status: str
    town: Town
    registered_address: str
    business_address: str
    phone: str  # "@" until the representative's mobile is known
    group: int  # companies of one group share one representative
    representative: Person | None = None

    @property
    def true_id(self) -> str:
        return f"L{self.number:06d}"

    @property
    def name(self) -> str:
        return compose_name(self.prefix, self.brand, self.industry, self.form) + self.branch

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def compose_name(prefix: str, brand: str, industry: str, form: str) -> str:
    """Put a company name together: "常熟市" "华盛" "服装" "有限公司", or "华盛服装（常熟）有限公司"."""
    if prefix.startswith(("（", "(")):
        return f"{brand}{industry}{prefix}{form}"
    return f"{prefix}{brand}{industry}{form}"


class _Factory:
    def __init__(self, rng: random.Random, housing: Housing) -> None:
        self.rng = rng
        self.housing = housing
        self.companies: list[Company] = []
        self._usccs: set[str] = set()
        self._names: set[str] = set()
        self._groups = itertools.count(1)
        self._heads: list[Company] = []  # companies in the city that could open a branch

    def uscc(self, year: int) -> str:
        """A valid USCC: old-style numeric organization codes before 2015, "MA..." after."""
        rng = self.rng
        while True:
            if year >= 2015:
                body = "MA" + "".join(rng.choice(_USCC_BODY_ALPHABET) for _ in range(6))
            else:
                body = f"{rng.randrange(10_000_000, 80_000_000):08d}"
            first17 = f"91{CITY_REGION_CODE}{body}{org_code_check_char(body)}"
            uscc = first17 + uscc_check_char(first17)
            if uscc not in self._usccs:
                self._usccs.add(uscc)
                return uscc

    def brand(self) -> str:
        return self.rng.choice(COMPANY_BRAND_FIRST) + self.rng.choice(COMPANY_BRAND_SECOND)

    def prefix(self, town: Town) -> str:
        prefix = self.rng.choice(_PREFIXES)
        if "@" in prefix:
            prefix = prefix.replace("@", town.old_name) if town.old_name else "常熟市"
        return prefix

    def add(
        self, prefix: str, brand: str, industry: str, form: str, town: Town, group: int,
        branch: str = "", year: int | None = None,
    ) -> Company | None:  # fmt: skip
        name = compose_name(prefix, brand, industry, form) + branch
        if name in self._names:
            return None
        self._names.add(name)
        rng = self.rng
        year = year or rng.choice(_YEARS)
        established = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        status = rng.choice(_OLD_STATUSES if year < 2010 else _NEW_STATUSES)
        registered = self.housing.street_address(rng, town)
        business = registered if rng.random() < 0.55 else self.housing.street_address(rng, rng.choice(TOWNS))
        roll = rng.random()
        phone = f"0512-5{rng.choice('1223')}{rng.randrange(10**6):06d}"
        if roll < 0.45:
            phone = "" if roll < 0.15 else "@"  # "@": the representative's own mobile, once there is one
        company = Company(
            len(self.companies) + 1, prefix, brand, industry, form, branch, "", self.uscc(year), established,
            status, town, registered, business, phone, group,
        )  # fmt: skip
        self.companies.append(company)
        if not branch and not prefix.startswith("（"):
            self._heads.append(company)
        return company

    def ordinary(self, renamed: bool) -> None:
        rng = self.rng
        town = rng.choice(_TOWN_WEIGHTS)
        prefix = self.prefix(town)
        form = "股份有限公司" if prefix == "江苏" and rng.random() < 0.5 else rng.choice(COMPANY_FORMS)
        brand = self.brand()
        year = rng.choice(_YEARS[: len(_YEARS) * 3 // 4]) if renamed else None
        industry = rng.choice(COMPANY_INDUSTRIES)
        company = self.add(prefix, brand, industry, form, town, next(self._groups), year=year)
        if company is None or not renamed:
            return
        roll = rng.random()
        if roll < 0.35 and town.old_name:
            company.old_name = compose_name(f"常熟市{town.old_name}", brand, company.industry, form)
        elif roll < 0.7:
            older = rng.choice([i for i in _INDUSTRY_NAMES if i != company.industry])
            company.old_name = compose_name(prefix, brand, older, form)
        else:
            industry = rng.choice(COMPANY_INDUSTRIES)
            company.old_name = compose_name(self.prefix(town), self.brand(), industry, form)

    def brand_group(self, size: int) -> None:
        """Companies of one brand: one representative, one registered address, often one phone."""
        rng = self.rng
        town = rng.choice(_TOWN_WEIGHTS)
        brand = self.brand()
        group = next(self._groups)
        industries = rng.sample(_INDUSTRY_NAMES, size)
        members: list[Company] = []
        for industry in industries:
            company = self.add(self.prefix(town), brand, industry, rng.choice(COMPANY_FORMS), town, group)
            if company is not None:
                members.append(company)
        for company in members[1:]:
            company.registered_address = members[0].registered_address
            if rng.random() < 0.7:
                company.business_address = members[0].business_address
            if rng.random() < 0.6:
                company.phone = members[0].phone

    def branch(self) -> None:
        """A branch: of a head office in the city (also registered here) or of one outside it."""
        rng = self.rng
        town = rng.choice(_TOWN_WEIGHTS)
        if self._heads and rng.random() < 0.5:
            head = rng.choice(self._heads)
            short_town = town.name.removesuffix("街道").removesuffix("镇")
            suffix = rng.choice(_LOCAL_BRANCH_SUFFIXES).replace("@", short_town)
            year = max(int(head.established[:4]), rng.choice(_YEARS))
            group = next(self._groups)
            self.add(head.prefix, head.brand, head.industry, head.form, town, group, suffix, year)
        else:
            prefix, form = rng.choice(_OUTSIDE_PREFIXES), rng.choice(COMPANY_FORMS)
            industry = rng.choice(COMPANY_INDUSTRIES)
            self.add(prefix, self.brand(), industry, form, town, next(self._groups), "常熟分公司")


def build_companies(rng: random.Random, persons: int, housing: Housing) -> list[Company]:
    """Register about 12 companies per 1000 persons; the first draws guarantee one of each hard case."""
    count = max(3, round(persons * COMPANIES_PER_THOUSAND / 1000))
    factory = _Factory(rng, housing)
    plan = ["group", "branch", "renamed"] if count >= 8 else []
    while len(factory.companies) < count:
        left = count - len(factory.companies)
        kind = plan.pop(0) if plan else ""
        roll = rng.random()
        if kind == "group" or (not kind and roll < BRAND_GROUP_SHARE and left >= 2):
            factory.brand_group(rng.randint(2, min(4, left)))
        elif kind == "branch" or (not kind and roll < BRAND_GROUP_SHARE + BRANCH_SHARE):
            factory.branch()
        else:
            factory.ordinary(kind == "renamed" or rng.random() < RENAMED_SHARE)
    return factory.companies


class EmployerPicker:
    """Draws an active company as an employer; a few large employers, a long tail of small ones."""

    def __init__(self, rng: random.Random, companies: list[Company]) -> None:
        self._rng = rng
        self._indexes = [i for i, company in enumerate(companies) if company.active and not company.branch]
        rng.shuffle(self._indexes)
        weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(self._indexes))]
        self._cumulative = list(itertools.accumulate(weights))

    def __bool__(self) -> bool:
        return bool(self._indexes)

    def pick(self) -> int:
        point = self._rng.random() * self._cumulative[-1]
        return self._indexes[min(bisect.bisect_left(self._cumulative, point), len(self._indexes) - 1)]


class RepresentativeDraft:
    """Seats adults of the streaming population as legal representatives, group by group, so that
    every company has one by the end without keeping the population in memory."""

    def __init__(self, rng: random.Random, companies: list[Company], housing: Housing, persons: int) -> None:
        self._rng = rng
        self._housing = housing
        self._persons = persons
        groups: dict[int, list[Company]] = {}
        for company in companies:
            groups.setdefault(company.group, []).append(company)
        self._pending = list(groups.values())
        rng.shuffle(self._pending)
        self._eligible_seen = 0
        self._reserve: list[Person] = []

    def offer(self, person: Person) -> None:
        """Consider one adult; called for every person in stream order."""
        if not self._pending or not 25 <= person.age <= 70:
            return
        self._eligible_seen += 1
        expected_left = (self._persons - person.number) * self._eligible_seen / person.number
        if self._rng.random() < 1.3 * len(self._pending) / max(1.0, expected_left):
            self._seat(person)
            if self._pending and self._rng.random() < SERIAL_FOUNDER_RATE:
                self._seat(person)
        elif len(self._reserve) < 256:
            self._reserve.append(person)
        else:
            self._reserve[self._rng.randrange(256)] = person

    def finish(self) -> None:
        """Seat whoever is left over from the reserve of adults seen last."""
        while self._pending and self._reserve:
            self._seat(self._rng.choice(self._reserve))

    def _seat(self, person: Person) -> None:
        group = self._pending.pop()
        home = self._rng.random() < HOME_REGISTERED_SHARE
        for company in group:
            company.representative = person
            if home and not company.branch:
                company.registered_address = self._housing.short(person.dwelling)
            if company.phone == "@":
                company.phone = person.mobile or person.home_phone
        if person.employer < 0 and person.age <= 60 and group[0].active and self._rng.random() < 0.5:
            person.employer = group[0].number - 1
