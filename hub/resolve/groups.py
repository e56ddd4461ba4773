"""A village's groups by number and by name, learned from the records themselves.

A village (村) is divided into groups (村民小组), and most groups are a natural hamlet with a name of
its own: the records write one house as 美庄村六组20号 and as 美庄村孙家浜20号. Which number is which
name is nowhere in a gazetteer, but the records say it where they share a code: a grid worker's
record of "6组" and a doorplate of "孙家浜" under one grid code (a grid in a village is a group's
households), or a rental record by number and a plate by name under one doorplate code.

`name_groups` counts, for each village, which hamlet the records of each numbered group share codes
with, and where one hamlet clearly has it (and that hamlet no other group), the two are one place:
the group's records take the hamlet, the hamlet's the group, and a house written by number takes the
keys of the same house written by name. So 六组20号 is 孙家浜20号 and not 钱家宅20号, where without
the lesson it could be either. A code shared with two hamlets teaches nothing, and neither do the
records that state neither or both.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from hub.resolve.columns import RecordTable

__all__ = ["MIN_VOTES", "group_names", "name_groups"]

MIN_VOTES = 2
"""Records of a group that must share a code with a hamlet, and no other, before the two are one."""

_SHARE = 0.8
"""The share of a group's votes that must go to that one hamlet."""

_CODES = ("doorplate", "grid")
_KEYS = ("flat", "dwelling", "room_key", "building_key")


def _learnable(table: RecordTable) -> bool:
    """Whether the table has the fields a lesson reads (settings that compare no village houses do not)."""
    return all(name in table.columns for name in ("village_house", "group", "hamlet"))


def _villages(table: RecordTable) -> np.ndarray:
    """Each row's village (a code; -1: none), read from its village house key ("美庄|20")."""
    houses = table.column("village_house")
    index: dict[str, int] = {}
    of_house = np.array(
        [index.setdefault(value.split("|", 1)[0], len(index)) for value in houses.distinct], dtype=np.int64
    )
    out = np.full(len(table), -1, dtype=np.int64)
    present = houses.codes >= 0
    out[present] = of_house[houses.codes[present]]
    return out


def group_names(table: RecordTable) -> dict[tuple[int, int], int]:
    """(village, group code) → hamlet code, for the groups the records name one hamlet for."""
    return _group_names(table, _villages(table)) if _learnable(table) else {}


def _group_names(table: RecordTable, village: np.ndarray) -> dict[tuple[int, int], int]:
    group, hamlet = table.column("group").codes, table.column("hamlet").codes
    named = (village >= 0) & (hamlet >= 0) & (group < 0)
    numbered = (village >= 0) & (group >= 0) & (hamlet < 0)
    votes: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
    for name in _CODES:
        if name not in table.columns:
            continue
        codes = table.column(name).codes
        hamlets: dict[tuple[int, int], set[int]] = defaultdict(set)
        for row in np.flatnonzero(named & (codes >= 0)).tolist():
            hamlets[(int(codes[row]), int(village[row]))].add(int(hamlet[row]))
        for row in np.flatnonzero(numbered & (codes >= 0)).tolist():
            place = (int(codes[row]), int(village[row]))
            names = hamlets.get(place)
            if names is not None and len(names) == 1:
                votes[(place[1], int(group[row]))][next(iter(names))] += 1
    chosen: dict[tuple[int, int], int] = {}
    for key, counter in votes.items():
        (best, count), total = counter.most_common(1)[0], counter.total()
        if count >= MIN_VOTES and count >= _SHARE * total:
            chosen[key] = best
    # one hamlet is one group: where two groups would take the same hamlet, neither does
    claims = Counter((village_code, best) for (village_code, _), best in chosen.items())
    return {key: best for key, best in chosen.items() if claims[(key[0], best)] == 1}


def name_groups(table: RecordTable) -> int:
    """Give each group written by number its hamlet's name, and each hamlet its number, where the
    records teach them (`group_names`); a house by number takes the keys of the same house by name.
    Changes `table` in place; returns how many rows gained a name or a number."""
    if not _learnable(table):
        return 0
    village = _villages(table)
    names = _group_names(table, village)
    if not names:
        return 0
    group, hamlet = table.column("group").codes.copy(), table.column("hamlet").codes.copy()
    houses = table.column("village_house").codes
    numbers = {(v, h): g for (v, g), h in names.items()}
    keys = [name for name in _KEYS if name in table.columns]
    key_codes = {name: table.column(name).codes.copy() for name in keys}
    # the keys of each house written by name: (village house, hamlet) → the row of lowest rank that
    # writes it so (the same one in whatever order the records came)
    by_name: dict[tuple[int, int], int] = {}
    rows = np.flatnonzero((houses >= 0) & (hamlet >= 0) & (group < 0))
    for row in rows[np.argsort(table.ranks()[rows], kind="stable")].tolist():
        by_name.setdefault((int(houses[row]), int(hamlet[row])), row)
    changed = 0
    for row in np.flatnonzero((village >= 0) & ((group >= 0) != (hamlet >= 0))).tolist():
        v = int(village[row])
        if group[row] >= 0:
            name = names.get((v, int(group[row])))
            if name is None:
                continue
            hamlet[row] = name
            same = by_name.get((int(houses[row]), name))
            if same is not None:
                for key in keys:
                    key_codes[key][row] = key_codes[key][same]
        else:
            number = numbers.get((v, int(hamlet[row])))
            if number is None:
                continue
            group[row] = number
        changed += 1
    table.columns["group"] = table.column("group").with_codes(group)
    table.columns["hamlet"] = table.column("hamlet").with_codes(hamlet)
    for key in keys:
        table.columns[key] = table.column(key).with_codes(key_codes[key])
    return changed
