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


@dataclass(slots=True)
class ConstrainedClusters:
    """Union–find over `size` records with per-cluster constraint values and forbidden partners.

    `apart`: for each constrained field, each record's value (None: no value, unconstrained). A root
    holds its cluster's value of each field in one list per field, so a join costs a few list reads,
    not a dict per record. `parsed`: for each field, whether a hard-rule join may override it (a value
    parsed out of free text gives way to a shared code); none when not given.
    """

    size: int
    apart: Sequence[Sequence[Any]]
    parsed: Sequence[bool] = ()
    parent: list[int] = field(init=False)
    values: list[list[Any]] = field(init=False)  # per field, each root's value (None: none yet)
    forbidden: dict[int, set[int]] = field(init=False, default_factory=dict)
    refused: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.parent = list(range(self.size))
        self.values = [list(values) for values in self.apart]

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
            self.forbidden.setdefault(self.find(a), set()).add(b)
            self.forbidden.setdefault(self.find(b), set()).add(a)

    def _forbidden_between(self, ra: int, rb: int) -> bool:
        small, large = (
            (ra, rb) if len(self.forbidden.get(ra, ())) <= len(self.forbidden.get(rb, ())) else (rb, ra)
        )
        return any(self.find(x) == large for x in self.forbidden.get(small, ()))

    def _conflict(self, ra: int, rb: int, over_parsed: bool = False) -> bool:
        parsed = self.parsed
        for k, held in enumerate(self.values):
            if over_parsed and k < len(parsed) and parsed[k]:
                continue
            va, vb = held[ra], held[rb]
            if va is not None and vb is not None and va != vb:
                return True
        return False

    def join(self, a: int, b: int, *, override_apart: bool = False) -> bool:
        """Join the clusters of a and b unless a constraint forbids it; True if they are now one."""
        return self._join(a, b, override_apart) != REFUSED

    def _join(self, a: int, b: int, override_apart: bool, over_parsed: bool = False) -> int:
        parent = self.parent
        ra = a if parent[a] == a else self.find(a)
        rb = b if parent[b] == b else self.find(b)
        if ra == rb:
            return TOGETHER
        forbidden = self.forbidden
        if (not override_apart and self._conflict(ra, rb, over_parsed)) or (
            # Only roots hold forbidden partners; both must hold some for one to be in the other.
            ra in forbidden and rb in forbidden and self._forbidden_between(ra, rb)
        ):
            self.refused += 1
            return REFUSED
        if ra < rb:
            ra, rb = rb, ra
        parent[ra] = rb  # the lower index is the root: deterministic
        for held in self.values:
            if held[rb] is None:
                held[rb] = held[ra]
        if self.forbidden:
            fa = self.forbidden.pop(ra, None)
            if fa:
                self.forbidden.setdefault(rb, set()).update(fa)
        return MERGED

    def join_all(
        self,
        left: NDArray[np.int64],
        right: NDArray[np.int64],
        *,
        override_apart: bool = False,
        override_parsed: bool = False,
    ) -> NDArray[np.int8]:
        """Join each pair in order; what became of each: REFUSED, TOGETHER (already) or MERGED.
        `override_apart`: no `apart` value refuses (a steward's decision); `override_parsed`: parsed
        ones do not (a hard-rule join on a code)."""
        join = self._join
        return np.fromiter(
            (
                join(a, b, override_apart, override_parsed)
                for a, b in zip(left.tolist(), right.tolist(), strict=True)
            ),
            dtype=np.int8,
            count=left.size,
        )

    def labels(self) -> NDArray[np.int64]:
        """Each record's cluster, numbered by its lowest record index."""
        find = self.find
        return np.fromiter((find(r) for r in range(self.size)), dtype=np.int64, count=self.size)
