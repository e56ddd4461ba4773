"""Survivorship: which source value becomes the golden one, on hand-countable claims."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.domain import Kind
from hub.golden import Claim, claims_of, survive, trust_of

EARLY = datetime(2024, 1, 1, tzinfo=UTC)
LATE = datetime(2024, 6, 1, tzinfo=UTC)


def claim(value: str, record: int, *, trust: int = 0, at: datetime = EARLY, valid: bool = True) -> Claim:
    return Claim("name", value, record, f"source{record}", f"k{record}", 1, at, trust, valid)


def test_the_most_trusted_source_wins_over_a_more_recent_one() -> None:
    golden = survive([claim("王伟", 1, trust=90, at=EARLY), claim("王玮", 2, trust=10, at=LATE)])["name"]
    assert golden.value == "王伟" and golden.chosen.record_id == 1
    assert [c.value for c in golden.claims] == ["王伟", "王玮"]  # every value kept, the chosen first


def test_among_equally_trusted_sources_the_most_recent_wins() -> None:
    assert survive([claim("王伟", 1, at=EARLY), claim("王玮", 2, at=LATE)])["name"].value == "王玮"


def test_then_the_value_most_records_agree_on_then_the_earliest_record() -> None:
    same_time = [claim("甲", 3), claim("乙", 1), claim("甲", 2)]
    assert survive(same_time)["name"].value == "甲"
    assert survive([claim("甲", 3), claim("乙", 1)])["name"].chosen.record_id == 1


def test_a_value_that_failed_its_check_loses_to_a_valid_one_whatever_its_trust() -> None:
    golden = survive([claim("bad", 1, trust=99, at=LATE, valid=False), claim("good", 2)])["name"]
    assert golden.value == "good"


def test_trust_per_attribute_then_star_then_zero() -> None:
    trust = {"name": 90, "*": 40}
    assert (trust_of(trust, "name"), trust_of(trust, "phone"), trust_of(None, "name")) == (90, 40, 0)


def test_claims_are_read_from_features_with_their_checks() -> None:
    features = {
        "name": "王伟",
        "id_number": "110105194912310021",
        "id_number_valid": False,
        "id_birth_date": "1949-12-31",
        "sex": "M",
        "address": {"canonical": "常熟市虞山街道1号"},
    }
    claims = {
        c.attribute: c
        for c in claims_of(
            Kind.PERSON, features, record_id=7, source="s", key="k", version=2, received_at=EARLY
        )
    }
    assert claims["id_number"].valid is False and claims["name"].valid is True
    assert claims["birth_date"].value == "1949-12-31" and claims["gender"].value == "男"
    assert claims["address"].value == "常熟市虞山街道1号" and "phone" not in claims
