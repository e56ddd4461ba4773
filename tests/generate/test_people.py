from __future__ import annotations

import random
from collections import defaultdict

from hub.generate.housing import build_housing
from hub.generate.people import Person, Population
from hub.normalize.identifiers import parse_resident_id


def create_people(persons: int, seed: int = 1) -> tuple[Population, list[list[Person]]]:
    rng = random.Random(seed)
    population = Population(rng, build_housing(rng, persons * 2 // 5), persons)
    return population, [household.members for household in population]


def test_exactly_the_persons_asked_for_numbered_from_one() -> None:
    _, households = create_people(3000)
    numbers = [person.number for members in households for person in members]
    assert numbers == list(range(1, 3001))


def test_resident_ids_are_valid_unique_and_agree_with_sex_and_birth() -> None:
    _, households = create_people(3000)
    people = [person for members in households for person in members]
    assert len({person.id_number for person in people}) == len(people)
    for person in people:
        parsed = parse_resident_id(person.id_number)
        assert parsed.valid, person
        assert parsed.sex == ("M" if person.male else "F")
        assert parsed.birth_date is not None and parsed.birth_date.strftime("%Y%m%d") == person.birth


def test_a_household_shares_a_dwelling_and_a_registration() -> None:
    _, households = create_people(3000)
    for members in households:
        assert len({person.dwelling for person in members}) == 1
        registrations = {(person.registered, person.hometown) for person in members}
        assert len(registrations) <= 2  # two unrelated migrant workers may share a room


def test_migrants_are_registered_outside_the_city() -> None:
    _, households = create_people(3000)
    migrants = [person for members in households for person in members if person.migrant]
    assert 0.1 < len(migrants) / 3000 < 0.4
    assert all(person.registered == -1 and person.hometown for person in migrants)


def test_hard_cases_are_there() -> None:
    _, households = create_people(20_000, seed=5)
    twins = juniors = 0
    for members in households:
        births: defaultdict[str, int] = defaultdict(int)
        for person in members:
            births[person.birth] += 1
        twins += sum(1 for count in births.values() if count == 2)
        names = [person.name for person in members]
        juniors += len(names) - len(set(names))
    by_name_and_year: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for members in households:
        for person in members:
            by_name_and_year[person.name, person.birth[:4]].add(person.number)
    assert twins > 0
    assert juniors > 0
    assert sum(1 for numbers in by_name_and_year.values() if len(numbers) > 1) > 10
