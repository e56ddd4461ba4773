from __future__ import annotations

import random
from collections import Counter

from hub.generate.companies import Company, build_companies
from hub.generate.housing import build_housing
from hub.normalize.identifiers import parse_uscc


def create_companies(persons: int = 2000, seed: int = 1) -> list[Company]:
    rng = random.Random(seed)
    return build_companies(rng, persons, build_housing(rng, persons * 2 // 5))


def test_twelve_companies_per_thousand_persons() -> None:
    assert len(create_companies(2000)) == 24


def test_usccs_are_valid_and_unique() -> None:
    companies = create_companies(5000)
    usccs = [company.uscc for company in companies]
    assert len(set(usccs)) == len(usccs)
    assert all(parse_uscc(uscc).valid and uscc.startswith("91320581") for uscc in usccs)


def test_hard_negatives_exist_even_in_a_small_city() -> None:
    companies = create_companies(1000)
    assert any(company.branch for company in companies)
    assert any(company.old_name and company.old_name != company.name for company in companies)
    groups = Counter(company.group for company in companies)
    brand = next(company for company in companies if groups[company.group] > 1)
    siblings = [company for company in companies if company.group == brand.group]
    assert len({company.registered_address for company in siblings}) == 1
    assert len({company.brand for company in siblings}) == 1
    assert len({company.name for company in siblings}) == len(siblings)


def test_a_branch_names_its_head_office_or_the_city() -> None:
    for company in create_companies(8000):
        if company.branch:
            assert company.name.endswith(("分公司", "分店"))
            assert company.name.startswith(company.prefix)
