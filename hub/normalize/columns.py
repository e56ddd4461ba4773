"""Match fields of many parsed addresses at once, as Arrow columns (`address_match_columns`).

Kept apart from `hub.normalize.fields`, which it follows rule for rule, so that a normalizing process
does not load Arrow for nothing.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from hub.normalize.fields import ADDRESS_FEATURES

__all__ = ["address_match_columns"]


def address_match_columns(features: pa.StructArray) -> dict[str, pa.Array]:
    """`fields._address_record` over a column of parsed addresses at once (a struct of string
    features, null where a record has none): each match field as a string column, for a million
    references without a dict apiece. Missing and empty values are null, as `match_fields` leaves
    them out."""
    none = pa.scalar(None, pa.string())

    def get(name: str) -> pa.Array:
        if features.type.get_field_index(name) < 0:
            return pa.nulls(len(features), pa.string())
        values = pc.struct_field(features, name)
        return pc.if_else(pc.equal(values, ""), none, values)

    f = {name: get(name) for name in ADDRESS_FEATURES}
    flat = pc.coalesce(f["key_flat"], f["key_road_number"])
    room = pc.coalesce(f["key_room"], f["key_road_number"])
    building = pc.coalesce(f["key_building"], f["key_road_number"], f["key_compound"])
    stated = pc.or_kleene(
        pc.or_kleene(pc.is_valid(f["community"]), pc.is_valid(f["key_group"])), pc.is_valid(f["key_hamlet"])
    )
    bare = pc.and_(pc.is_valid(f["key_village_house"]), pc.invert(stated))  # see fields._address_record
    flat, room, building = (pc.if_else(bare, none, column) for column in (flat, room, building))
    return {
        "flat": flat,
        "dwelling": pc.coalesce(flat, f["key_village_house"]),
        "flat_core": f["key_flat_core"],
        "village_house": f["key_village_house"],
        "group": f["key_group"],
        "hamlet": f["key_hamlet"],
        "room_key": room,
        "building_key": building,
        "district": f["district"],
        "street": f["street"],
        "community": f["community"],
        "compound": f["compound"],
        "road_number": f["key_road_number"],
        "building": f["building"],
        "unit": f["unit"],
        "room": f["room"],
        "doorplate": f["doorplate_code"],
        "grid": f["grid_code"],
        "canonical": f["canonical"],
    }
