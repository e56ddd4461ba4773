"""Small hand-made records shared by the resolution tests."""

from __future__ import annotations

from collections.abc import Sequence

from hub.resolve.columns import RecordTable
from hub.resolve.settings import BlockingRule, Comparison, Constraint, Level, MatchSettings


def table(**columns: Sequence[object]) -> RecordTable:
    n = len(next(iter(columns.values())))
    return RecordTable.from_columns(list(range(n)), dict(columns))


PERSON = MatchSettings(
    comparisons=(
        Comparison("name", "name", (Level("exact", "exact"), Level("different", "else"))),
        Comparison("birth", "birth", (Level("exact", "exact"), Level("different", "else"))),
        Comparison("phone", "phone", (Level("exact", "exact"), Level("different", "else"))),
    ),
    blocking=(BlockingRule(("name",)), BlockingRule(("phone",))),
    constraints=(Constraint("join", "id"), Constraint("apart", "id")),
    link_at=0.9,
    review_at=0.3,
    u_sample_pairs=2000,
)


def people() -> RecordTable:
    # 0,1: one person (same name, birth, phone; 1 has no ID). 2: a namesake with another ID.
    # 3,4: the same ID, written by two sources with different names (a hard-rule join).
    # 5..: background people with distinct values, so that u is learnt from something.
    names = ["王伟", "王伟", "王伟", "李娜", "李那"] + [f"n{i}" for i in range(60)]
    births = ["1980-01-01", "1980-01-01", "1980-01-01", "1990-05-05", "1970-01-01"] + [
        f"19{i:02d}-02-02" for i in range(60)
    ]
    phones = ["139", "139", "139", "137", "136"] + [f"p{i}" for i in range(60)]
    ids = ["A", None, "B", "C", "C"] + [f"id{i}" for i in range(60)]
    return table(name=names, birth=births, phone=phones, id=ids)
