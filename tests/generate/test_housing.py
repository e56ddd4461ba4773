from __future__ import annotations

import random

from hub.generate.housing import Housing, build_housing


def create_housing(dwellings: int = 600, seed: int = 1) -> Housing:
    return build_housing(random.Random(seed), dwellings)


def test_the_stock_has_about_the_dwellings_asked_for() -> None:
    housing = create_housing(600)
    assert 600 <= len(housing) <= 620  # each town rounds its share up to at least one dwelling


def test_every_dwelling_has_a_canonical_address_and_a_unique_doorplate() -> None:
    housing = create_housing()
    addresses = [housing.full(dwelling) for dwelling in range(len(housing))]
    doorplates = [housing.doorplate_code(dwelling) for dwelling in range(len(housing))]
    assert all(address.startswith("江苏省苏州市常熟市") for address in addresses)
    assert len(set(addresses)) == len(addresses)
    assert len(set(doorplates)) == len(doorplates)
    assert all(len(code) == 18 and code.isdigit() and code.startswith("320581") for code in doorplates)


def test_grid_codes_are_fifteen_digits_of_the_city() -> None:
    housing = create_housing()
    codes = {housing.grid_code(dwelling) for dwelling in range(len(housing))}
    assert all(len(code) == 15 and code.startswith("320581") for code in codes)


def test_compounds_and_village_houses_both_exist() -> None:
    housing = create_housing()
    villages = [d for d in range(len(housing)) if housing.place(d).village]
    flats = [d for d in range(len(housing)) if not housing.place(d).village]
    assert villages and flats
    assert housing.full(villages[0]).endswith("号")
    assert housing.full(flats[0]).endswith("室")


def test_other_forms_name_the_same_compound_and_flat() -> None:
    housing = create_housing()
    rng = random.Random(4)
    flat = next(d for d in range(len(housing)) if not housing.place(d).village)
    place = housing.place(flat)
    for text in (housing.registry(flat), housing.short(flat), housing.abbreviated(flat, rng)):
        assert place.name in text
        assert str(housing.room[flat]) in text
    assert any(place.name in housing.spoken(flat, rng) for _ in range(10))
