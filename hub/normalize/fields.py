"""Match fields: the flat projection of a record's normalized features that resolution compares.

`flatten(kind, features)` turns one record's features (nested for addresses) into flat fields such as
`id`, `name_key`, `home` or `flat`; ingestion stores those that have a value (`match_fields`) and the
terms a record can be looked up by (`search_terms`), so that resolution and search read them without
parsing again. The match settings (`hub.resolve.kinds`) name these fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.domain import Kind

__all__ = [
    "ADDRESS_FEATURES",
    "MAX_TERM_LENGTH",
    "SEARCH_FIELDS",
    "flatten",
    "match_fields",
    "place_keys",
    "search_terms",
]


# Below, features are typed as dicts (what JSON gives): the compiled code then reads them by the dict's
# own C calls instead of looking up `get` each time. The public functions take any mapping.
_NO_ADDRESS: dict[str, Any] = {}  # never changed


def _dict(features: Mapping[str, Any]) -> dict[str, Any]:
    return features if isinstance(features, dict) else dict(features)


def _address(features: object) -> dict[str, Any]:
    """A record's parsed address, read only (not copied), or nothing."""
    if isinstance(features, dict):
        return features
    return dict(features) if isinstance(features, Mapping) else _NO_ADDRESS


def place_keys(address: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(flat, room, building) keys of a parsed address: the dwelling, the dwelling with the unit left
    out, and the building (or the road number of a house without rooms)."""
    return _place_keys(_dict(address))


def _place_keys(address: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    flat = address.get("key_flat") or address.get("key_road_number")
    room = address.get("key_room") or address.get("key_road_number")
    building = address.get("key_building") or address.get("key_road_number") or address.get("key_compound")
    return flat, room, building


def _person(f: dict[str, Any]) -> dict[str, Any]:
    home = _address(f.get("address"))
    registered = _address(f.get("registered_address"))
    home_flat, home_room, home_building = _place_keys(home)
    reg_flat, reg_room, reg_building = _place_keys(registered)
    birth = f.get("birth_date")
    own_id = None if f.get("id_number_borrowed") else f.get("id_number")  # see normalize.records
    place = home_flat or reg_flat
    # a village house with the group left out ("虞湾村9号") is no flat: the village and number
    place_house = home.get("key_village_house") or registered.get("key_village_house")
    return {
        "id": own_id if f.get("id_number_valid") else None,
        "id_any": own_id,
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
        # Where the record places the person: the residence, else the registered address. Offices
        # that write one address only (a grid visit: the residence; the household registry, often:
        # the registration) meet on it.
        "place": place,
        "place_room": home_room or reg_room,
        "place_building": home_building or reg_building,
        "place_core": home.get("key_flat_core") or registered.get("key_flat_core"),
        "place_house": place_house,
        "place_dwelling": place or place_house,
    }


def _address_record(f: dict[str, Any]) -> dict[str, Any]:
    flat, room, building = _place_keys(f)
    if f.get("key_village_house") and not (f.get("community") or f.get("key_group") or f.get("key_hamlet")):
        # "花亭4号": a house of a village whose group is not written is no one flat; the flat
        # comparison weighs it as a village house, by how many records share it
        flat = room = building = None
    return {
        "flat": flat,
        # what the flat comparison needs on both sides: the flat, else the village house
        "dwelling": flat or f.get("key_village_house"),
        "flat_core": f.get("key_flat_core"),
        "village_house": f.get("key_village_house"),
        "group": f.get("key_group"),
        "hamlet": f.get("key_hamlet"),
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


# The parsed address's features `_address_record` reads.
ADDRESS_FEATURES = (
    "canonical", "key_flat", "key_road_number", "key_room", "key_building", "key_compound",
    "key_village_house", "key_group", "key_hamlet", "key_flat_core", "district", "street", "community",
    "compound", "building", "unit", "room", "doorplate_code", "grid_code",
)  # fmt: skip


def _legal_entity(f: dict[str, Any]) -> dict[str, Any]:
    registered = _address(f.get("registered_address"))
    business = _address(f.get("business_address"))
    place = _place_keys(registered)[0] or _place_keys(business)[0]
    return {
        "uscc": f.get("uscc") if f.get("uscc_valid") else None,
        "uscc_any": f.get("uscc"),
        "org_code": f.get("org_code"),
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


_FLATTEN: dict[Kind, Callable[[dict[str, Any]], dict[str, Any]]] = {
    Kind.PERSON: _person,
    Kind.ADDRESS: _address_record,
    Kind.LEGAL_ENTITY: _legal_entity,
}


def flatten(kind: Kind, features: Mapping[str, Any]) -> dict[str, Any]:
    """The flat match fields of one record of `kind` from its stored features."""
    return _FLATTEN[kind](_dict(features))


def match_fields(kind: Kind, features: Mapping[str, Any]) -> dict[str, Any]:
    """The flat fields of one record that have a value: what ingestion stores for resolution to read."""
    return {name: value for name, value in flatten(kind, features).items() if value is not None}


# The match fields the API looks records up by, most telling first: an ID number, a phone, the name's
# homophone key with the birth date, the name key alone; a doorplate code, a flat, the flat with the
# unit left out; a credit code, a company's core name.
SEARCH_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.PERSON: ("id_any", "phone", "name_birth", "name_key"),
    Kind.ADDRESS: ("doorplate", "flat", "room_key"),
    Kind.LEGAL_ENTITY: ("uscc_any", "name_core"),
}
MAX_TERM_LENGTH = 200


def search_terms(kind: Kind, match: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(field, term) pairs under which a record with these match fields can be found."""
    fields = _dict(match)
    terms = []
    for name in SEARCH_FIELDS[kind]:
        if name == "name_birth":
            key, birth = fields.get("name_key"), fields.get("birth_date")
            value = f"{key}|{birth}" if key and birth else None
        else:
            value = fields.get(name)
        if isinstance(value, str) and value:
            terms.append((name, value[:MAX_TERM_LENGTH]))
    return tuple(terms)
