"""Clustering under cannot-link constraints: join the strongest edges first, refuse any join that would
put two incompatible records in one cluster.

Edges come in order of precedence: a steward's positive decisions, then hard-rule joins, then model
matches by falling weight. A cluster remembers its value of each `apart` field; two clusters with
different values never merge, so no chain of good-looking matches can glue two different ID numbers
together. A steward's negative decision forbids its two records from ever sharing a cluster, and
binds even hard rules (a child recorded under a parent's ID number); a steward's positive decision
overrides `apart` values but not a steward's negative one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["MERGED", "REFUSED", "TOGETHER", "ConstrainedClusters"]

# What became of one join: refused by a constraint, already in one cluster, or two clusters merged.
REFUSED, TOGETHER, MERGED = 0, 1, 2

_MISSING = object()


@dataclass(slots=True)
class ConstrainedClusters:
    """Union–find over `size` records with per-cluster constraint values and forbidden partners.

    `apart`: for each constrained field, each record's value (None: no value, unconstrained).
    """

    size: int
    apart: Sequence[Sequence[Any]]
    parent: list[int] = field(init=False)
    values: list[dict[int, Any] | None] = field(init=False)
    forbidden: dict[int, set[int]] = field(init=False, default_factory=dict)
    refused: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.parent = list(range(self.size))
        self.values = [None] * self.size
        columns = [list(values) for values in self.apart]
        for record in range(self.size):
            held = {k: column[record] for k, column in enumerate(columns) if column[record] is not None}
            if held:
                self.values[record] = held

    def find(self, record: int) -> int:
        parent = self.parent
        root = record
        while parent[root] != root:
            root = parent[root]
        while parent[record] != root:
            parent[record], record = root, parent[record]
        return root

    def forbid(self, pairs: Iterable[tuple[int, int]]) -> None:
        """A steward's negative decisions: these records never share a cluster."""
        for a, b in pairs:
            self.forbidden.setdefault(a, set()).add(b)
            self.forbidden.setdefault(b, set()).add(a)

    def _forbidden_between(self, ra: int, rb: int) -> bool:
        small, large = (
            (ra, rb) if len(self.forbidden.get(ra, ())) <= len(self.forbidden.get(rb, ())) else (rb, ra)
        )
        return any(self.find(x) == large for x in self.forbidden.get(small, ()))

    def _conflict(self, ra: int, rb: int) -> bool:
        va, vb = self.values[ra], self.values[rb]
        if va is None or vb is None:
            return False
        small, large = (va, vb) if len(va) <= len(vb) else (vb, va)
        return any(k in large and large[k] != value for k, value in small.items())

    def join(self, a: int, b: int, *, override_apart: bool = False) -> bool:
        """Join the clusters of a and b unless a constraint forbids it; True if they are now one."""
        return self._join(a, b, override_apart) != REFUSED

    def _join(self, a: int, b: int, override_apart: bool) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return TOGETHER
        if (not override_apart and self._conflict(ra, rb)) or (
            self.forbidden and self._forbidden_between(ra, rb)
        ):
            self.refused += 1
            return REFUSED
        if ra < rb:
            ra, rb = rb, ra
        self.parent[ra] = rb  # the lower index is the root: deterministic
        va, vb = self.values[ra], self.values[rb]
        if va:
            merged = dict(va)
            if vb:
                merged.update(vb)
            self.values[rb] = merged
        fa = self.forbidden.pop(ra, None)
        if fa:
            self.forbidden.setdefault(rb, set()).update(fa)
        return MERGED

    def join_all(
        self, left: NDArray[np.int64], right: NDArray[np.int64], *, override_apart: bool = False
    ) -> NDArray[np.int8]:
        """Join each pair in order; what became of each: REFUSED, TOGETHER (already) or MERGED."""
        join = self._join
        return np.fromiter(
            (join(a, b, override_apart) for a, b in zip(left.tolist(), right.tolist(), strict=True)),
            dtype=np.int8,
            count=left.size,
        )

    def labels(self) -> NDArray[np.int64]:
        """Each record's cluster, numbered by its lowest record index."""
        find = self.find
        return np.fromiter((find(r) for r in range(self.size)), dtype=np.int64, count=self.size)
