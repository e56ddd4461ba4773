"""A village's groups by number and by name, learned from the codes their records share."""

from __future__ import annotations

from typing import Any

import numpy as np

from hub.resolve.columns import RecordTable
from hub.resolve.groups import group_names, name_groups

FIELDS = {"village_house", "group", "hamlet", "grid", "doorplate", "flat", "dwelling"}


def row(house: str, *, group: str | None = None, hamlet: str | None = None, **codes: str) -> dict[str, Any]:
    """One address's match fields: a house of 美庄村 by group number or hamlet name."""
    flat = f"美庄村{group}{house}号" if group else f"{hamlet}{house}号" if hamlet else None
    return {
        "village_house": f"美庄|{house}",
        "group": group,
        "hamlet": hamlet,
        "flat": flat,
        "dwelling": flat or f"美庄|{house}",
        **codes,
    }


def table(rows: list[dict[str, Any]]) -> RecordTable:
    return RecordTable.from_rows(range(len(rows)), rows, FIELDS)


def names(t: RecordTable) -> dict[str, str]:
    """The lesson as text: group → hamlet."""
    group, hamlet = t.column("group").distinct, t.column("hamlet").distinct
    return {group[g]: hamlet[h] for (_village, g), h in group_names(t).items()}


def test_a_group_takes_the_hamlet_it_shares_a_grid_with() -> None:
    t = table(
        [
            row("3", hamlet="孙家浜", grid="g1"),
            row("4", hamlet="孙家浜", grid="g1"),
            row("3", hamlet="钱家宅", grid="g2"),
            row("5", group="6组", grid="g1"),
            row("8", group="6组", grid="g1"),
            row("9", group="7组", grid="g2"),
            row("3", group="6组"),  # by number, no grid: the one to place
        ]
    )
    assert names(t) == {"6组": "孙家浜"}  # group 7 has one record under its grid: not enough
    assert name_groups(t) == 5  # four rows of group 6 took the name, two of 孙家浜 the number
    hamlet, flat = t.column("hamlet").values, t.column("flat").values
    assert hamlet[6] == "孙家浜" and flat[6] == flat[0] == "孙家浜3号"
    assert t.column("group").values[0] == "6组"
    assert hamlet[5] is None  # group 7 stays as written


def test_a_code_shared_by_two_hamlets_or_a_hamlet_two_groups_claim_teaches_nothing() -> None:
    shared = table(
        [row("3", hamlet="孙家浜", grid="g1"), row("4", hamlet="钱家宅", grid="g1")]
        + [row(str(n), group="6组", grid="g1") for n in (5, 8)]
    )
    assert names(shared) == {}
    claimed = table(
        [row("3", hamlet="孙家浜", grid="g1"), row("3", hamlet="孙家浜", doorplate="d1")]
        + [row(str(n), group="6组", grid="g1") for n in (5, 8)]
        + [row("3", group="7组", doorplate="d1"), row("4", group="7组", doorplate="d1")]
    )
    assert names(claimed) == {}
    assert name_groups(claimed) == 0


def test_a_doorplate_code_teaches_as_a_grid_does() -> None:
    t = table(
        [row(str(n), hamlet="孙家浜", doorplate=f"d{n}") for n in (3, 4)]
        + [row(str(n), group="6组", doorplate=f"d{n}") for n in (3, 4)]
    )
    assert names(t) == {"6组": "孙家浜"}


def test_a_house_by_number_takes_the_keys_of_the_first_ranked_record_by_name() -> None:
    """Two records write 孙家浜3号 with different keys: the house written by number takes those of
    the one ranked first (by source and key), not of the one stored first, so that the order the
    records came in changes nothing."""
    rows = [
        row("3", hamlet="孙家浜", grid="g1", flat="孙家浜3号东"),
        row("3", hamlet="孙家浜", grid="g1", flat="孙家浜3号西"),
        row("5", group="6组", grid="g1"),
        row("8", group="6组", grid="g1"),
        row("3", group="6组"),
    ]
    for first, rank in ((0, [0, 1, 2, 3, 4]), (1, [1, 0, 2, 3, 4])):
        t = table(rows)
        t.rank = np.array(rank, dtype=np.int64)
        assert name_groups(t) > 0
        assert t.column("flat").values[4] == rows[first]["flat"]
