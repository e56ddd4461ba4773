"""The departmental source files of the demo city, each rendered with the noise its office really has.

household_registry (person) is the cleanest person source, doorplate_platform (address) the cleanest
address source and market_regulation (legal_entity, GB18030 CSV) the enterprise register; the others
are noisier views of the same world: migrant_registry, grid_collection (person and address),
rental_registry (person and address, UTF-8 CSV with a BOM) and tax (legal_entity and person).
The noise rates below are shares of records and can be tuned freely.
"""

from __future__ import annotations

import random
from datetime import date
from functools import lru_cache
from pathlib import Path

from hub.generate.companies import Company, compose_name
from hub.generate.fieldnotes import FieldNotes
from hub.generate.housing import Housing
from hub.generate.noise import (
    format_date,
    full_width,
    malform_resident_id,
    malform_uscc,
    misheard,
    old_resident_id,
    scatter_phone,
    traditional,
)
from hub.generate.people import Household, Person
from hub.generate.pools import LOCAL_SURNAMES, MOBILE_PREFIXES, TOWNS, expand
from hub.generate.serials import scramble
from hub.generate.writers import FileFormat, RelationWriter, SourceWriter, TruthWriter

__all__ = ["SourceSet"]

# -- household_registry: registered residents, clean; some children and elders under a relative's ID
HOUSEHOLD_COVERAGE = 0.995
HOUSEHOLD_PHONE_RATE = 0.35
HOUSEHOLD_RELATIVE_ID_RATE = 0.02  # of children under 16 and elders over 75 living with an adult
HOUSEHOLD_MALFORMED_ID_RATE = 0.003
# -- migrant_registry: migrants, old 15-digit IDs, re-registrations
MIGRANT_COVERAGE = 0.88
MIGRANT_OLD_ID_RATE = 0.1  # of those born before 1985
MIGRANT_MALFORMED_ID_RATE = 0.01
MIGRANT_MISSING_BIRTH_RATE = 0.03
MIGRANT_MISHEARD_RATE = 0.005
MIGRANT_DUPLICATE_RATE = 0.02
# -- grid_collection: door-to-door, everything spelled as heard
GRID_PERSON_COVERAGE = 0.55
GRID_PERSON_DUPLICATE_RATE = 0.03
GRID_MISHEARD_RATE = 0.04
GRID_TRADITIONAL_RATE = 0.03
GRID_SPACED_NAME_RATE = 0.01
GRID_MISSING_ID_RATE = 0.2
GRID_MALFORMED_ID_RATE = 0.015
GRID_SCATTERED_ID_RATE = 0.08  # full-width digits or spaces inside the number
GRID_MISSING_BIRTH_RATE = 0.3
GRID_MISSING_GENDER_RATE = 0.1
GRID_SCATTERED_PHONE_RATE = 0.4
GRID_FAMILY_PHONE_RATE = 0.6  # of persons without a mobile: a relative's mobile or the home phone
GRID_REGISTERED_ADDRESS_RATE = 0.25
GRID_EMPLOYER_RATE = 0.3
GRID_ADDRESS_COVERAGE = 0.6  # of occupied dwellings; half that for empty ones
GRID_ADDRESS_DUPLICATE_RATE = 0.02
# -- doorplate_platform: one QR plate per dwelling door
DOORPLATE_COVERAGE = 0.99
# -- rental_registry: rented dwellings and their tenants, in shorthand
RENTAL_ADDRESS_COVERAGE = 0.85
RENTAL_PERSON_COVERAGE = 0.7
RENTAL_MISSING_ID_RATE = 0.05
RENTAL_MALFORMED_ID_RATE = 0.01
RENTAL_MISHEARD_RATE = 0.02
RENTAL_DUPLICATE_RATE = 0.01
# -- market_regulation: the enterprise register
MARKET_REP_MALFORMED_ID_RATE = 0.005
# -- tax: taxpayers (old names, name variants, USCC typos) and withheld employees
TAX_ACTIVE_COVERAGE = 0.95
TAX_CLOSED_COVERAGE = 0.4
TAX_OLD_NAME_RATE = 0.7  # of renamed companies: tax still has the old name
TAX_NAME_VARIANT_RATE = 0.3
TAX_USCC_TYPO_RATE = 0.015
TAX_EMPLOYEE_COVERAGE = 0.85
TAX_MALFORMED_ID_RATE = 0.005
TAX_PHONE_RATE = 0.7
# -- every source
PHONE_TYPO_RATE = 0.01

_GENDER = {True: "男", False: "女"}
_CLOCK = tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(8, 18) for m in range(60) for s in (0, 30))
_LABELS = expand("绿:70 蓝:15 黄:10 橙:3 红:2")
_RENTAL_LABELS = expand("蓝:50 黄:20 绿:30")
_TAX_STATUS = {"存续": "正常", "在业": "正常", "注销": "注销", "吊销": "非正常"}
_FILES: tuple[tuple[str, str, FileFormat, str, tuple[str, ...]], ...] = (
    ("household_registry", "person", "jsonl", "HJ", ()),
    ("migrant_registry", "person", "jsonl", "LD", ()),
    ("grid_collection", "person", "jsonl", "WGR", ()),
    ("grid_collection", "address", "jsonl", "WGF", ()),
    ("doorplate_platform", "address", "jsonl", "MP", ()),
    ("rental_registry", "person", "csv-bom", "ZH",
     ("name", "id_number", "gender", "birth_date", "phone", "address", "move_in_date")),
    ("rental_registry", "address", "csv-bom", "CZ", ("address", "house_type", "grid_code", "landlord")),
    ("market_regulation", "legal_entity", "csv-gb18030", "ZC",
     ("name", "uscc", "legal_representative", "legal_representative_id_number", "registered_address",
      "business_address", "established_on", "phone", "status", "registration_authority")),
    ("tax", "legal_entity", "jsonl", "NSR", ()),
    ("tax", "person", "jsonl", "GS", ()),
)  # fmt: skip


@lru_cache(maxsize=16)
def _calendar(first_year: int, years: int) -> tuple[str, ...]:
    first = date(first_year, 1, 1).toordinal()
    last = date(first_year + years, 1, 1).toordinal()
    return tuple(date.fromordinal(day).isoformat() for day in range(first, last))


def _day(rng: random.Random, first_year: int, years: int) -> str:
    """A day in `years` years from 1 January of `first_year`: "2021-07-14"."""
    days = _calendar(first_year, years)
    return days[int(rng.random() * len(days))]


def _address_id(dwelling: int) -> str:
    """A dwelling's true id, as the address sources' truth rows name it."""
    return f"A{dwelling + 1:07d}"


class SourceSet:
    """All source files of one city, open while the population streams through `add_household`."""

    def __init__(
        self,
        out_dir: Path,
        rng: random.Random,
        housing: Housing,
        companies: list[Company],
        notes: FieldNotes | None = None,
    ) -> None:
        self._rng = rng
        self._housing = housing
        self._companies = companies
        # The field-notes profile rewrites each record's values as the notes describe; None: classic.
        self._notes = notes
        self.truth = TruthWriter(out_dir / "truth.csv")
        self.relations = RelationWriter(out_dir / "relations.csv")
        files = _FILES
        if notes is not None:  # its rental clerks write the doorplate code now and then
            files = tuple(
                (s, k, f, p, (*c, "doorplate_code") if (s, k) == ("rental_registry", "address") else c)
                for s, k, f, p, c in _FILES
            )
        self.writers = {
            (source, kind): SourceWriter(out_dir, source, kind, fmt, columns, prefix, self.truth, salt)
            for salt, (source, kind, fmt, prefix, columns) in enumerate(files, start=rng.randrange(10**6))
        }
        self._grid_workers = {
            town.name: [rng.choice(LOCAL_SURNAMES) + rng.choice("敏静丽军华芳英红") for _ in range(4)]
            for town in TOWNS
        }
        self._tax_names = [self._tax_name(company) for company in companies]
        self._tax_usccs = [
            malform_uscc(company.uscc, rng) if rng.random() < TAX_USCC_TYPO_RATE else company.uscc
            for company in companies
        ]

    def _person(
        self, source: str, record: dict[str, str], person: Person, household: Household | None
    ) -> None:
        if self._notes is not None:
            record = self._notes.person(source, record, person, household)
        self.writers[source, "person"].write(record, person.true_id)
        if record.get("address"):
            self.relations.add("lives_at", person.true_id, _address_id(person.dwelling))
        if record.get("registered_address") and person.registered >= 0:
            self.relations.add("household_registered_at", person.true_id, _address_id(person.registered))
        if person.employer >= 0 and (record.get("employer_name") or record.get("employer_uscc")):
            self.relations.add("employed_by", person.true_id, self._companies[person.employer].true_id)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.truth.close()
        self.relations.close()

    # -- persons --------------------------------------------------------------------------------

    def add_household(self, household: Household) -> None:
        """Write every person record the departments hold about the members of one household."""
        rng = self._rng
        for person in household.members:
            if person.migrant:
                if rng.random() < MIGRANT_COVERAGE:
                    self._migrant(person)
            elif rng.random() < HOUSEHOLD_COVERAGE:
                self._registry(person, household)
            if rng.random() < GRID_PERSON_COVERAGE:
                self._grid_person(person, household)
                if rng.random() < GRID_PERSON_DUPLICATE_RATE:
                    self._grid_person(person, household)
            if household.rental and rng.random() < RENTAL_PERSON_COVERAGE:
                self._rental_person(person)
                if rng.random() < RENTAL_DUPLICATE_RATE:
                    self._rental_person(person)
            if person.employer >= 0 and rng.random() < TAX_EMPLOYEE_COVERAGE:
                self._tax_person(person)

    def _phone(self, phone: str) -> str:
        if phone and self._rng.random() < PHONE_TYPO_RATE:
            position = self._rng.randrange(len(phone) - 4, len(phone))
            return phone[:position] + str((int(phone[position]) + 1) % 10) + phone[position + 1 :]
        return phone

    def _registry(self, person: Person, household: Household) -> None:
        rng = self._rng
        id_number = person.id_number
        roll = rng.random()
        if roll < HOUSEHOLD_MALFORMED_ID_RATE:
            id_number = malform_resident_id(id_number, rng)
        elif roll < HOUSEHOLD_MALFORMED_ID_RATE + HOUSEHOLD_RELATIVE_ID_RATE and not 16 <= person.age < 75:
            relatives = [m for m in household.members if m is not person and 25 <= m.age < 75]
            if relatives:  # the known trap: a child or an elder recorded under a relative's number
                id_number = rng.choice(relatives).id_number
        phone = self._phone(person.mobile or person.home_phone) if rng.random() < HOUSEHOLD_PHONE_RATE else ""
        record = {
            "name": person.name,
            "id_number": id_number,
            "gender": _GENDER[person.male],
            "birth_date": format_date(person.birth, "iso"),
            "registered_address": self._housing.registry(person.registered),
            "address": self._housing.registry(person.dwelling),
            "phone": phone,
            "household_number": f"{scramble(household.number, 9, 3205):09d}",
            "update_time": f"{_day(rng, 2018, 6)} {_CLOCK[int(rng.random() * len(_CLOCK))]}",
        }
        self._person("household_registry", record, person, household)

    def _migrant(self, person: Person) -> None:
        rng = self._rng
        for copy in range(2):
            id_number = person.id_number
            roll = rng.random()
            if roll < MIGRANT_MALFORMED_ID_RATE:
                id_number = malform_resident_id(id_number, rng)
            elif roll < MIGRANT_MALFORMED_ID_RATE + MIGRANT_OLD_ID_RATE and person.birth < "1985":
                id_number = old_resident_id(id_number)
            phone = person.mobile or person.home_phone
            if copy and rng.random() < 0.5:  # re-registered with a new phone
                phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"
            record = {
                "name": misheard(person.name, rng) if rng.random() < MIGRANT_MISHEARD_RATE else person.name,
                "id_number": id_number,
                "gender": _GENDER[person.male],
                "birth_date": "" if rng.random() < MIGRANT_MISSING_BIRTH_RATE else person.birth,
                "phone": self._phone(phone),
                "address": self._housing.short(person.dwelling),
                "registered_address": person.hometown,
                "registered_on": _day(rng, 2012, 12),
            }
            self._person("migrant_registry", record, person, None)
            if rng.random() >= MIGRANT_DUPLICATE_RATE:
                return

    def _grid_person(self, person: Person, household: Household) -> None:
        rng = self._rng
        name = person.name
        roll = rng.random()
        if roll < GRID_MISHEARD_RATE:
            name = misheard(name, rng)
        elif roll < GRID_MISHEARD_RATE + GRID_TRADITIONAL_RATE:
            name = traditional(name)
        elif roll < GRID_MISHEARD_RATE + GRID_TRADITIONAL_RATE + GRID_SPACED_NAME_RATE and len(name) == 2:
            name = f"{name[0]} {name[1]}"
        id_number = person.id_number
        roll = rng.random()
        if roll < GRID_MISSING_ID_RATE:
            id_number = ""
        elif roll < GRID_MISSING_ID_RATE + GRID_MALFORMED_ID_RATE:
            id_number = malform_resident_id(id_number, rng)
        elif roll < GRID_MISSING_ID_RATE + GRID_MALFORMED_ID_RATE + GRID_SCATTERED_ID_RATE:
            spaced = f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}".lower()
            id_number = full_width(id_number) if rng.random() < 0.5 else spaced
        phone = person.mobile
        if not phone and rng.random() < GRID_FAMILY_PHONE_RATE:
            others = [m.mobile for m in household.members if m.mobile]
            phone = rng.choice(others) if others else person.home_phone
        if phone and rng.random() < GRID_SCATTERED_PHONE_RATE:
            phone = scatter_phone(phone, rng)
        birth_date = format_date(person.birth, "slash")
        if id_number and rng.random() < GRID_MISSING_BIRTH_RATE:
            birth_date = ""
        record = {
            "name": name,
            "id_number": id_number,
            "gender": "" if rng.random() < GRID_MISSING_GENDER_RATE else _GENDER[person.male],
            "birth_date": birth_date,
            "phone": self._phone(phone),
            "address": self._housing.spoken(person.dwelling, rng),
        }
        if rng.random() < GRID_REGISTERED_ADDRESS_RATE:
            if person.migrant:
                county_end = person.hometown.find("县") + 1 or person.hometown.find("市") + 1
                record["registered_address"] = person.hometown[:county_end]  # "安徽省阜阳市临泉县"
            else:
                record["registered_address"] = self._housing.spoken(person.registered, rng)
        if person.employer >= 0 and rng.random() < GRID_EMPLOYER_RATE:
            company = self._companies[person.employer]
            record["employer_name"] = company.brand + company.industry
        place = self._housing.place(person.dwelling)
        record["collected_by"] = rng.choice(self._grid_workers[place.town.name])
        record["collected_at"] = _day(rng, 2022, 3)
        self._person("grid_collection", record, person, household)

    def _rental_person(self, person: Person) -> None:
        rng = self._rng
        roll = rng.random()
        id_number = person.id_number
        if roll < RENTAL_MISSING_ID_RATE:
            id_number = ""
        elif roll < RENTAL_MISSING_ID_RATE + RENTAL_MALFORMED_ID_RATE:
            id_number = malform_resident_id(id_number, rng)
        record = {
            "name": misheard(person.name, rng) if rng.random() < RENTAL_MISHEARD_RATE else person.name,
            "id_number": id_number,
            "gender": _GENDER[person.male],
            "birth_date": format_date(person.birth, "chinese"),
            "phone": self._phone(person.mobile),
            "address": self._housing.abbreviated(person.dwelling, rng),
            "move_in_date": _day(rng, 2016, 9),
        }
        self._person("rental_registry", record, person, None)

    def _tax_person(self, person: Person) -> None:
        rng = self._rng
        id_number = person.id_number
        if rng.random() < TAX_MALFORMED_ID_RATE:
            id_number = malform_resident_id(id_number, rng)
        record = {
            "name": person.name,
            "id_number": id_number,
            "phone": self._phone(person.mobile) if rng.random() < TAX_PHONE_RATE else "",
            "employer_name": self._tax_names[person.employer],
            "employer_uscc": self._tax_usccs[person.employer],
            "period": "2024-05",
        }
        self._person("tax", record, person, None)

    # -- addresses ------------------------------------------------------------------------------

    def add_addresses(self, occupancy: bytearray) -> None:
        """Write the address sources, dwelling by dwelling: doorplates, grid visits, rentals."""
        rng = self._rng
        housing = self._housing
        doorplates = self.writers["doorplate_platform", "address"]
        grid = self.writers["grid_collection", "address"]
        rentals = self.writers["rental_registry", "address"]
        for dwelling in range(len(housing)):
            true_id = _address_id(dwelling)
            village = housing.place(dwelling).village
            if rng.random() < DOORPLATE_COVERAGE:
                record = {
                    "address": housing.full(dwelling),
                    "doorplate_code": housing.doorplate_code(dwelling),
                    "grid_code": housing.grid_code(dwelling),
                    "house_type": "农村住房" if village else "住宅",
                    "installed_on": _day(rng, 2019, 5),
                }
                if self._notes is not None:
                    resurveyed = self._notes.resurvey(record, dwelling)
                    record = self._notes.dwelling("doorplate_platform", record, dwelling)
                    if resurveyed is not None:
                        doorplates.write(resurveyed, true_id)
                doorplates.write(record, true_id)
            occupied = occupancy[dwelling]
            rented = bool(occupied & 2)
            coverage = GRID_ADDRESS_COVERAGE if occupied else GRID_ADDRESS_COVERAGE / 2
            if rng.random() < coverage:
                house_type = "出租房" if rented else "自住房" if occupied else "空置房"
                for _ in range(2 if rng.random() < GRID_ADDRESS_DUPLICATE_RATE else 1):
                    record = {
                        "address": housing.spoken(dwelling, rng),
                        "grid_code": housing.grid_code(dwelling),
                        "label": rng.choice(_RENTAL_LABELS if rented else _LABELS),
                        "house_type": house_type,
                        "collected_by": rng.choice(self._grid_workers[housing.place(dwelling).town.name]),
                    }
                    if self._notes is not None:
                        record = self._notes.dwelling("grid_collection", record, dwelling)
                    grid.write(record, true_id)
            if rented and rng.random() < RENTAL_ADDRESS_COVERAGE:
                record = {
                    "address": housing.abbreviated(dwelling, rng),
                    "house_type": "出租屋",
                    "grid_code": housing.grid_code(dwelling) if rng.random() < 0.5 else "",
                    "landlord": rng.choice(LOCAL_SURNAMES) + rng.choice("建国华明芳英军伟"),
                }
                if self._notes is not None:
                    record = self._notes.dwelling("rental_registry", record, dwelling)
                rentals.write(record, true_id)

    # -- legal entities -------------------------------------------------------------------------

    def _representative(self, record: dict[str, str], company: Company) -> None:
        if record.get("legal_representative") and company.representative is not None:
            self.relations.add("legal_representative", company.representative.true_id, company.true_id)

    def _tax_name(self, company: Company) -> str:
        """The name tax has on file: the old name of a renamed company, or a variant of the name."""
        rng = self._rng
        if company.old_name and rng.random() < TAX_OLD_NAME_RATE:
            return company.old_name
        if rng.random() >= TAX_NAME_VARIANT_RATE:
            return company.name
        variant = rng.randrange(4)
        prefix, brand, industry, form = company.prefix, company.brand, company.industry, company.form
        if variant == 0 and prefix in ("常熟市", "常熟") and not company.branch:
            return compose_name("（常熟）", brand, industry, form)
        if variant == 0 and prefix.startswith("（"):
            return compose_name("(常熟)", brand, industry, form)
        if variant == 1:
            return compose_name(prefix, brand, industry, "") + company.branch
        if variant == 2 and form != "股份有限公司":
            other = "有限责任公司" if form == "有限公司" else "有限公司"
            return compose_name(prefix, brand, industry, other) + company.branch
        if prefix.startswith("（"):
            return company.name
        return compose_name("", brand, industry, form) + company.branch

    def add_companies(self) -> None:
        """Write the enterprise register and the tax register."""
        rng = self._rng
        market = self.writers["market_regulation", "legal_entity"]
        tax = self.writers["tax", "legal_entity"]
        for index, company in enumerate(self._companies):
            representative = company.representative
            rep_name = representative.name if representative else ""
            rep_id = representative.id_number if representative else ""
            if rep_id and rng.random() < MARKET_REP_MALFORMED_ID_RATE:
                rep_id = malform_resident_id(rep_id, rng)
            phone = "" if company.phone == "@" else company.phone
            record = {
                "name": company.name,
                "uscc": company.uscc,
                "legal_representative": rep_name,
                "legal_representative_id_number": rep_id,
                "registered_address": company.registered_address,
                "business_address": company.business_address,
                "established_on": format_date(company.established, "iso"),
                "phone": phone,
                "status": company.status,
                "registration_authority": "常熟市市场监督管理局",
            }
            if self._notes is not None:
                record = self._notes.company("market_regulation", record, company)
            market.write(record, company.true_id)
            self._representative(record, company)
            if rng.random() < (TAX_ACTIVE_COVERAGE if company.active else TAX_CLOSED_COVERAGE):
                record = {
                    "name": self._tax_names[index],
                    "uscc": self._tax_usccs[index],
                    "legal_representative": rep_name,
                    "business_address": company.business_address,
                    "established_on": company.established,
                    "phone": phone,
                    "status": _TAX_STATUS[company.status],
                    "taxpayer_type": "一般纳税人" if rng.random() < 0.3 else "小规模纳税人",
                }
                if rng.random() < 0.6:
                    record["registered_address"] = company.registered_address
                if self._notes is not None:
                    record = self._notes.company("tax", record, company)
                tax.write(record, company.true_id)
                self._representative(record, company)
