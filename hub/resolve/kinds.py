"""The hub's match settings per kind, and the flat fields they read from stored features.

`flatten(kind, features)` turns one record's normalized features (nested for addresses) into the flat
fields below; `SETTINGS[kind]` compares them. Settings are data: `hub resolve --settings FILE` runs
with a user's JSON instead, and every run stores what it used.

Persons meet by ID number, phone, name with birth date, name or birth date with the flat; they are
compared on ID (typos tolerated), name (exact, homophone, sound-alike, close), birth date, sex, phone
and the two addresses. A valid ID number joins, unless name and birth date both say otherwise (a
child recorded under a parent's number); two valid numbers never join; a different name never joins
by the model alone, however much flat and phone agree (family members share those).

Addresses meet by flat, by room without the unit, by road number and doorplate code; different
districts, towns, villages, buildings, units, rooms or doorplate codes never join (hamlet names such
as 袁家宅 repeat from village to village). Legal entities meet by USCC, core name,
representative at the same place, phone; a branch never joins its head office, nor another branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.resolve.settings import BlockingRule, Comparison, Constraint, Level, MatchSettings

__all__ = ["SEARCH_FIELDS", "SETTINGS", "flatten", "match_fields", "place_keys", "search_terms"]


def _address(features: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(features) if isinstance(features, Mapping) else {}


def place_keys(address: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(flat, room, building) keys of a parsed address: the dwelling, the dwelling with the unit left
    out, and the building (or the road number of a house without rooms)."""
    flat = address.get("key_flat") or address.get("key_road_number")
    room = address.get("key_room") or address.get("key_road_number")
    building = address.get("key_building") or address.get("key_road_number") or address.get("key_compound")
    return flat, room, building


def _person(f: Mapping[str, Any]) -> dict[str, Any]:
    home = _address(f.get("address"))
    registered = _address(f.get("registered_address"))
    home_flat, home_room, home_building = place_keys(home)
    reg_flat, reg_room, reg_building = place_keys(registered)
    birth = f.get("birth_date")
    return {
        "id": f.get("id_number") if f.get("id_number_valid") else None,
        "id_any": f.get("id_number"),
        "name": f.get("name"),
        "name_key": f.get("name_key"),
        "name_sound_key": f.get("name_sound_key"),
        "birth_date": birth,
        "birth_year": birth[:4] if birth else None,
        "sex": f.get("sex"),
        "phone": f.get("phone"),
        "home": home_flat,
        "home_room": home_room,
        "home_building": home_building,
        "registered": reg_flat,
        "registered_room": reg_room,
        "registered_building": reg_building,
    }


def _address_record(f: Mapping[str, Any]) -> dict[str, Any]:
    flat, room, building = place_keys(f)
    return {
        "flat": flat,
        "room_key": room,
        "building_key": building,
        "district": f.get("district"),
        "street": f.get("street"),
        "community": f.get("community"),
        "compound": f.get("compound"),
        "road_number": f.get("key_road_number"),
        "building": f.get("building"),
        "unit": f.get("unit"),
        "room": f.get("room"),
        "doorplate": f.get("doorplate_code"),
        "grid": f.get("grid_code"),
        "canonical": f.get("canonical"),
    }


def _legal_entity(f: Mapping[str, Any]) -> dict[str, Any]:
    registered = _address(f.get("registered_address"))
    business = _address(f.get("business_address"))
    place = place_keys(registered)[0] or place_keys(business)[0]
    return {
        "uscc": f.get("uscc") if f.get("uscc_valid") else None,
        "uscc_any": f.get("uscc"),
        "name": f.get("name"),
        "name_core": f.get("name_core"),
        "legal_form": f.get("legal_form"),
        "branch": f.get("branch"),
        "representative": f.get("legal_representative_name"),
        "representative_key": f.get("legal_representative_name_key"),
        "place": place,
        "phone": f.get("phone"),
        "established_on": f.get("established_on"),
    }


_FLATTEN: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "person": _person,
    "address": _address_record,
    "legal_entity": _legal_entity,
}


def flatten(kind: str, features: Mapping[str, Any]) -> dict[str, Any]:
    """The flat match fields of one record of `kind` from its stored features."""
    return _FLATTEN[kind](features)


def match_fields(kind: str, features: Mapping[str, Any]) -> dict[str, Any]:
    """The flat fields of one record that have a value: what ingestion stores for resolution to read."""
    return {name: value for name, value in flatten(kind, features).items() if value is not None}


# The match fields the API looks records up by, most telling first: an ID number, a phone, the name's
# homophone key with the birth date, the name key alone; a doorplate code, a flat, the flat with the
# unit left out; a credit code, a company's core name.
SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "person": ("id_any", "phone", "name_birth", "name_key"),
    "address": ("doorplate", "flat", "room_key"),
    "legal_entity": ("uscc_any", "name_core"),
}
MAX_TERM_LENGTH = 200


def search_terms(kind: str, match: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(field, term) pairs under which a record with these match fields can be found."""
    if kind == "person" and match.get("name_key") and match.get("birth_date"):
        match = {**match, "name_birth": f"{match['name_key']}|{match['birth_date']}"}
    return tuple(
        (name, value[:MAX_TERM_LENGTH])
        for name in SEARCH_FIELDS[kind]
        if isinstance(value := match.get(name), str) and value
    )


def _exact(name: str, field: str | None = None, *, tf: bool = False) -> Comparison:
    return Comparison(name, field or name, (Level("same", "exact", tf=tf), Level("different", "else")))


def _code(name: str, field: str) -> Comparison:
    """An identifier: the same, one typo apart (a digit wrong or two swapped), or different."""
    return Comparison(
        name,
        field,
        (Level("same", "exact"), Level("one typo", "damerau", 1), Level("different", "else")),
    )


def _place(name: str, flat: str, room: str, building: str) -> Comparison:
    return Comparison(
        name,
        flat,
        (
            Level("same flat", "exact"),
            Level("same room, unit left out", "exact", field=room),
            Level("same building", "exact", field=building),
            Level("different", "else"),
        ),
    )


PERSON = MatchSettings(
    comparisons=(
        _code("id", "id_any"),
        Comparison(
            "name",
            "name",
            (
                Level("same", "exact", tf=True),
                Level("homophone", "exact", field="name_key", tf=True),
                Level("sounds alike", "exact", field="name_sound_key"),
                Level("close", "jaro_winkler", 0.8),
                Level("different", "else"),
            ),
        ),
        Comparison(
            "birth_date",
            "birth_date",
            (
                Level("same", "exact"),
                Level("one typo", "damerau", 1),
                Level("same year", "prefix", 4),
                Level("different", "else"),
            ),
        ),
        _exact("sex"),
        _exact("phone"),
        _place("home", "home", "home_room", "home_building"),
        _place("registered", "registered", "registered_room", "registered_building"),
    ),
    blocking=(
        BlockingRule(("phone",), max_block=30),
        BlockingRule(("name_key", "birth_date")),
        BlockingRule(("name_key", "home_room")),
        BlockingRule(("birth_date", "home_room")),
        BlockingRule(("name_sound_key", "birth_date")),
        BlockingRule(("name_key", "registered_room")),
    ),
    constraints=(
        Constraint("join", "id", veto_below=-6.0, veto_ignores=("id",)),
        Constraint("apart", "id"),
    ),
    model_vetoes=(("name", "different"),),
    link_at=0.95,
    review_at=0.5,
)

ADDRESS = MatchSettings(
    comparisons=(
        Comparison(
            "flat",
            "flat",
            (
                Level("same flat", "exact"),
                Level("same room, unit left out", "exact", field="room_key"),
                Level("same building", "exact", field="building_key"),
                Level("different", "else"),
            ),
        ),
        _exact("doorplate"),
        _exact("grid"),
        _exact("district"),
        _exact("street"),
        _exact("community"),
        Comparison(
            "compound",
            "compound",
            (
                Level("same", "exact", tf=True),
                Level("close", "jaro_winkler", 0.85),
                Level("different", "else"),
            ),
        ),
        _exact("unit"),
    ),
    blocking=(
        BlockingRule(("flat",), max_block=100),
        BlockingRule(("room_key",), max_block=100),
        # The keys leave out everything above the compound or hamlet, and a big city reuses their
        # names ("陈家宅1号" in many villages): where such a block is too big, the grid or the
        # community narrows it.
        BlockingRule(("flat", "grid"), max_block=100),
        BlockingRule(("flat", "community"), max_block=100),
        BlockingRule(("doorplate",)),
        BlockingRule(("canonical",)),
    ),
    constraints=(
        Constraint("join", "doorplate"),
        Constraint("apart", "doorplate"),
        Constraint("apart", "building"),
        Constraint("apart", "unit"),
        Constraint("apart", "room"),
        Constraint("apart", "district"),
        Constraint("apart", "street"),
        Constraint("apart", "community"),
    ),
    link_at=0.95,
    review_at=0.5,
)

LEGAL_ENTITY = MatchSettings(
    comparisons=(
        _code("uscc", "uscc_any"),
        Comparison(
            "name",
            "name_core",
            (
                Level("same", "exact", tf=True),
                Level("close", "jaro_winkler", 0.9),
                Level("different", "else"),
            ),
        ),
        _exact("legal_form"),
        Comparison(
            "representative",
            "representative",
            (
                Level("same", "exact", tf=True),
                Level("homophone", "exact", field="representative_key"),
                Level("different", "else"),
            ),
        ),
        _exact("place"),
        _exact("phone"),
        _exact("established_on"),
    ),
    blocking=(
        BlockingRule(("name_core",), max_block=50),
        BlockingRule(("representative_key", "place")),
        BlockingRule(("phone",), max_block=30),
        BlockingRule(("name_core", "representative_key")),
    ),
    constraints=(
        Constraint("join", "uscc"),
        Constraint("apart", "uscc"),
        Constraint("apart", "branch", missing_counts=True),
    ),
    model_vetoes=(("name", "different"),),
    link_at=0.95,
    review_at=0.5,
    u_sample_pairs=100_000,
)

SETTINGS: dict[str, MatchSettings] = {"person": PERSON, "address": ADDRESS, "legal_entity": LEGAL_ENTITY}
