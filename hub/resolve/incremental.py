"""Resolving records one at a time against the records already resolved, touching only their blocks.

A `Resolver` holds one kind's resolved records in memory: their match fields, each blocking rule's
blocks as a dictionary, and the entity of each record. `add` finds a new record's candidates by
looking up its own block keys (a few dictionary lookups, however many records are stored), then
resolves its neighbourhood (the record, its candidates and every record of their entities) with the
batch engine and the weights of the last batch run: hard-rule joins first (unless vetoed), then
model matches by falling weight, under the same constraints and stewards' decisions. So a record
that matches two entities joins them, and one that shows two records were wrongly together can part
them, as a batch run would; order effects of greedy clustering stay inside one neighbourhood.

Term frequencies are those of all stored records, updated as records arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hub.resolve.columns import Column, RecordTable
from hub.resolve.engine import JOINED_BY, probability, resolve
from hub.resolve.model import Parameters
from hub.resolve.settings import BlockingRule, MatchSettings

__all__ = ["Added", "Resolver"]


@dataclass(slots=True)
class Added:
    """What adding one record did: its entity, the entities it joined, and the pairs it was scored in."""

    index: int
    entity: int
    merged: list[int] = field(default_factory=list)
    # candidate, weight, how it ended: its join (model, rule, steward), together (matched, already joined
    # by another pair), review or apart
    pairs: list[tuple[int, float, str]] = field(default_factory=list)
    explanations: dict[int, tuple[list[int], list[float]]] = field(default_factory=dict)  # levels, weights
    neighbourhood: list[int] = field(default_factory=list)  # the records re-resolved


class Resolver:
    """One kind's resolved records in memory, ready to resolve new ones as they come."""

    def __init__(
        self,
        settings: MatchSettings,
        parameters: Parameters,
        table: RecordTable,
        labels: NDArray[np.int64],
        *,
        must_link: Iterable[tuple[int, int]] = (),
        cannot_link: Iterable[tuple[int, int]] = (),
    ) -> None:
        self.settings = settings
        self.parameters = parameters
        self.fields = sorted(settings.fields())
        self.values: dict[str, list[Any]] = {name: table.column(name).values.tolist() for name in self.fields}
        self.counts: dict[str, Counter[Any]] = {}
        for name in self.fields:
            column = table.column(name)
            self.counts[name] = Counter(dict(zip(column.distinct, column.counts().tolist(), strict=True)))
        self._totals = {name: sum(counter.values()) for name, counter in self.counts.items()}
        self.rules: tuple[BlockingRule, ...] = settings.blocking + tuple(
            BlockingRule((c.field,), max_block=1000) for c in settings.constraints if c.rule == "join"
        )
        self.blocks: list[dict[tuple[Any, ...], list[int]]] = [{} for _ in self.rules]
        for r, rule in enumerate(self.rules):
            block = self.blocks[r]
            columns = [self.values[name] for name in rule.fields]
            for i, key in enumerate(zip(*columns, strict=True)):
                if None not in key:
                    block.setdefault(key, []).append(i)
        self.entity: list[int] = labels.tolist()
        self.members: dict[int, list[int]] = {}
        for i, e in enumerate(self.entity):
            self.members.setdefault(e, []).append(i)
        self.must_link = list(must_link)
        self.cannot_link = list(cannot_link)
        self._tf = {
            level.field or comparison.field
            for comparison in settings.comparisons
            for level in comparison.levels
            if level.tf
        }

    def __len__(self) -> int:
        return len(self.entity)

    def _candidates(self, row: Mapping[str, Any]) -> list[int]:
        found: set[int] = set()
        for r, rule in enumerate(self.rules):
            key = tuple(_present(row.get(name)) for name in rule.fields)
            if None in key:
                continue
            block = self.blocks[r].get(key)
            if block and len(block) < rule.max_block:  # a block the batch run would skip stays skipped
                found.update(block)
        across = self.settings.link_only_across
        if across:
            found = {i for i in found if self.values[across][i] != row.get(across)}
        return sorted(found)

    def _table(self, records: list[int]) -> RecordTable:
        """These records as a table, with the term frequencies of all stored records."""
        columns: dict[str, Column] = {}
        for name in self.fields:
            stored = self.values[name]
            column = Column.of([stored[i] for i in records])
            counts = self.counts[name]
            if name in self._tf:
                total = max(self._totals[name], 1)
                frequencies = [max(counts.get(v, 0), 1) / total for v in column.distinct]
                column.with_frequencies(np.array(frequencies, dtype=np.float64))
            columns[name] = column
        return RecordTable(list(records), columns)

    def add(self, row: Mapping[str, Any]) -> Added:
        """Resolve one new record (its flat match fields) and keep it; returns what happened."""
        candidates = self._candidates(row)
        index = len(self.entity)
        for name in self.fields:
            value = _present(row.get(name))
            self.values[name].append(value)
            if value is not None:
                self.counts[name][value] += 1
                self._totals[name] += 1
        for r, rule in enumerate(self.rules):
            key = tuple(self.values[name][index] for name in rule.fields)
            if None not in key:
                self.blocks[r].setdefault(key, []).append(index)
        label = index  # a record of its own, numbered as a batch run numbers clusters: by first record
        self.entity.append(label)
        self.members[label] = [index]
        added = Added(index, label)
        if not candidates:
            return added

        # Re-resolve the neighbourhood as a batch run would: the new record, its candidates and every
        # record of their entities, with the same weights, rules and stewards' decisions.
        subset = sorted({index, *candidates, *(i for c in candidates for i in self.members[self.entity[c]])})
        position = {record: k for k, record in enumerate(subset)}
        table = self._table(subset)
        must = [(position[a], position[b]) for a, b in self.must_link if a in position and b in position]
        cannot = [(position[a], position[b]) for a, b in self.cannot_link if a in position and b in position]
        local = resolve(table, self.settings, parameters=self.parameters, must_link=must, cannot_link=cannot)
        before = {self.entity[i] for i in subset}
        groups: dict[int, list[int]] = {}
        for k, label in enumerate(local.labels.tolist()):
            groups.setdefault(label, []).append(subset[k])
        for e in before:
            self.members.pop(e, None)
        for records in groups.values():
            label = min(records)
            for i in records:
                self.entity[i] = label
            self.members[label] = sorted(records)
        added.entity = self.entity[index]
        added.neighbourhood = subset
        added.merged = sorted(before - {index} - {self.entity[i] for i in subset})
        for row_k in range(local.left.size):
            a, b = subset[int(local.left[row_k])], subset[int(local.right[row_k])]
            if index not in (a, b):
                continue
            other = b if a == index else a
            how = JOINED_BY[int(local.joined_by[row_k])]
            if how == "none":
                how = "review" if local.review[row_k] else "apart"
            elif not local.merged[row_k]:
                how = "together"  # matched, but its entity was already joined by another pair
            added.pairs.append((other, float(local.weights[row_k]), how))
            added.explanations[other] = (
                local.levels[row_k].tolist(),
                np.round(local.parts[row_k], 3).tolist(),
            )
        return added

    def partition(self) -> list[frozenset[int]]:
        """The current entities as sets of record indices."""
        return sorted((frozenset(m) for m in self.members.values()), key=min)

    def probability(self, weight: float) -> float:
        return float(probability(weight))


def _present(value: Any) -> Any:
    return None if value is None or value == "" else value
