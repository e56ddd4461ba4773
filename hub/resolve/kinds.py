"""The hub's match settings per kind.

`SETTINGS[kind]` compares the flat match fields of `hub.normalize.fields`. Settings are data:
`hub resolve --settings FILE` runs with a user's JSON instead, and every run stores what it used.

Persons meet by ID number, phone, name with birth date, name or birth date with the flat; they are
compared on ID (typos tolerated), name (exact, homophone, sound-alike, close), birth date, sex, phone
and the two addresses. A valid ID number joins, unless name and birth date both say otherwise (a
child recorded under a parent's number); two valid numbers never join; a different name never joins
by the model alone, however much flat and phone agree (family members share those).

Addresses meet by flat, by room without the unit, by road number and doorplate code; different
districts, towns, villages, buildings, units or rooms never join (hamlet names such as 袁家宅 repeat
from village to village), different doorplate codes may (a re-survey gives a house a second plate).
Legal entities meet by USCC, core name, representative at the same place, phone; a branch never
joins its head office, nor another branch.
"""

from __future__ import annotations

from hub.domain import Kind
from hub.resolve.settings import BlockingRule, Comparison, Constraint, Level, MatchSettings

__all__ = ["SETTINGS"]


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
                # 周? or 周磊, 王凯 or 王嘉凯: a character the clerk did not know, or left out
                Level("one character unknown or left out", "one_unknown"),
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
        # Residence against residence, or, where a record has no residence, against its registered
        # address: most people live where they are registered, and many offices write one address.
        Comparison(
            "home",
            "place_dwelling",
            (
                Level("same flat", "exact", field="home"),
                Level("residence meets registered address", "exact", field="place"),
                Level("same flat, estate by a shorter name", "exact", field="place_core"),
                Level("same room, unit left out", "exact", field="place_room"),
                Level("same building", "exact", field="place_building"),
                Level("same village house, group left out", "exact", field="place_house", tf=True),
                Level("different", "else"),
            ),
        ),
        _place("registered", "registered", "registered_room", "registered_building"),
    ),
    blocking=(
        BlockingRule(("phone",), max_block=30),
        BlockingRule(("name_key", "birth_date")),
        BlockingRule(("name_key", "home_room")),
        BlockingRule(("birth_date", "home_room")),
        BlockingRule(("name_sound_key", "birth_date")),
        BlockingRule(("name_key", "registered_room")),
        BlockingRule(("name_key", "place_room")),
        BlockingRule(("name_key", "place_core")),
        BlockingRule(("name_key", "place_house")),
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
            "dwelling",
            (
                # two records of "1#502" are one flat only if the records of that room give it one unit
                Level("same flat", "exact", field="flat", unique_in=("unit",), unique_within="room_key"),
                Level("same flat, estate by a shorter name", "exact", field="flat_core"),
                # "3#301" is the 301 of unit 2 when that is the only unit the records give the room;
                # where they give two, it could be either, and the pair waits for a steward
                Level("same room, unit left out", "exact", field="room_key", unique_in=("unit",)),
                Level("same building", "exact", field="building_key"),
                # a village house with its group left out, or the group by number on one side and by
                # name on the other: weighed by how many records share the village and number
                # ... and where the village's records give that number in two groups, it could be
                # either house, unless the two records share a grid (a grid is a group's households)
                Level(
                    "same village house, group left out",
                    "exact",
                    field="village_house",
                    tf=True,
                    unique_in=("group", "hamlet"),
                    unique_narrowed_by=("grid",),
                ),
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
        BlockingRule(("flat_core",), max_block=100),
        # The keys leave out everything above the compound or hamlet, and a big city reuses their
        # names ("陈家宅1号" in many villages): where such a block is too big, the grid or the
        # community narrows it.
        BlockingRule(("flat", "grid"), max_block=100),
        BlockingRule(("flat", "community"), max_block=100),
        BlockingRule(("doorplate",)),
        BlockingRule(("canonical",)),
        BlockingRule(("village_house",), max_block=100),
    ),
    constraints=(
        # The same doorplate code is one dwelling; two codes are not two dwellings, since a re-survey
        # gives a house a second plate.
        Constraint("join", "doorplate"),
        Constraint("apart", "building", parsed=True),
        Constraint("apart", "unit", parsed=True),
        Constraint("apart", "room", parsed=True),
        Constraint("apart", "district", parsed=True),
        Constraint("apart", "street", parsed=True),
        Constraint("apart", "community", parsed=True),
        Constraint("apart", "group", parsed=True),
        Constraint("apart", "hamlet", parsed=True),
    ),
    link_at=0.95,
    review_at=0.5,
    # 美庄村六组20号 is 孙家浜20号 where the village's records share codes between group 6 and 孙家浜
    prepare=("village_groups",),
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
        # The organization code a credit code carries, or an old 15-character tax number: tax still
        # files some companies under the number they had before credit codes.
        Constraint("join", "org_code"),
        Constraint("apart", "uscc"),
        Constraint("apart", "branch", missing_counts=True, parsed=True),
    ),
    model_vetoes=(("name", "different"),),
    link_at=0.95,
    review_at=0.5,
    u_sample_pairs=100_000,
)

SETTINGS: dict[Kind, MatchSettings] = {
    Kind.PERSON: PERSON,
    Kind.ADDRESS: ADDRESS,
    Kind.LEGAL_ENTITY: LEGAL_ENTITY,
}
