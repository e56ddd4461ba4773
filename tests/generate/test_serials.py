from __future__ import annotations

import itertools

import pytest

from hub.generate.serials import scramble


@pytest.mark.parametrize(("digits", "salt"), [(3, 0), (4, 7), (5, 320_581)])
def test_scramble_is_a_permutation_of_its_range(digits: int, salt: int) -> None:
    serials = [scramble(number, digits, salt) for number in range(10**digits)]
    assert sorted(serials) == list(range(10**digits))


def test_consecutive_numbers_do_not_give_consecutive_serials() -> None:
    serials = [scramble(number, 10, 5) for number in range(4)]
    steps = {b - a for a, b in itertools.pairwise(serials)}
    assert len(steps) == 3  # no arithmetic progression a reader could undo
