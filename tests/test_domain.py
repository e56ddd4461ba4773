"""The domain vocabulary: kinds as users write them, verdicts as stewards say them, entity ids."""

from __future__ import annotations

import re

import pytest

from hub.domain import Decision, Kind, new_entity_id, parse_kind
from hub.errors import InputError, UnknownKindError


@pytest.mark.parametrize("text", ["legal_entity", "LEGAL_ENTITY", "legal-entity", " Legal-Entity "])
def test_a_kind_is_read_however_it_is_written(text: str) -> None:
    assert parse_kind(text) is Kind.LEGAL_ENTITY


def test_an_unknown_kind_names_the_choices() -> None:
    with pytest.raises(UnknownKindError, match="person, address, legal_entity"):
        parse_kind("company")


def test_verdicts_and_stored_decisions_name_each_other() -> None:
    assert [d.verdict for d in Decision] == ["MATCH", "NOT_MATCH", "UNSURE"]
    assert all(Decision.from_verdict(d.verdict) is d for d in Decision)
    with pytest.raises(InputError, match="choose MATCH, NOT_MATCH, UNSURE"):
        Decision.from_verdict("positive")


def test_an_entity_id_carries_its_kind_and_is_unique_per_record() -> None:
    made = {new_entity_id(kind, 1_765_000_000_000, record) for kind in Kind for record in (1, 2)}
    assert len(made) == 6
    assert all(re.fullmatch(r"(per|adr|leg)_[0-9a-f]{24}", entity) for entity in made)
    assert new_entity_id(Kind.ADDRESS, 1, 255).endswith("0000000000ff")
