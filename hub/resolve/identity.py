"""Stable entity ids: which id each cluster of records keeps after a run, as pure array work.

A cluster keeps the id of the entity most of its records belonged to; an entity left without records is
retired into the one that took most of them; a cluster with no id left gets a new one. No database:
`hub.resolve.persist` stores what `choose_entities` decides.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hub.domain import Kind, new_entity_id
from hub.resolve.columns import IntArray, sorted_unique

__all__ = [
    "Choice",
    "Grouping",
    "choose_entities",
]


@dataclass(slots=True)
class Grouping:
    """Records grouped into clusters, with the entity each record belongs to now, as arrays.

    `records` are record ids in ascending order; `cluster_of` numbers each record's cluster 0..k-1;
    `old_code` is each record's entity now, a code into `names` (-1: none), codes in order of each
    entity's earliest record.
    """

    records: IntArray
    cluster_of: IntArray
    old_code: IntArray
    names: list[str]

    @classmethod
    def of(cls, clusters: Sequence[Sequence[int]], current: Mapping[int, str]) -> Grouping:
        """From clusters as lists of record ids and each record's entity now."""
        sizes = np.fromiter((len(c) for c in clusters), dtype=np.int64, count=len(clusters))
        records = np.fromiter(itertools.chain.from_iterable(clusters), dtype=np.int64, count=int(sizes.sum()))
        cluster_of = np.repeat(np.arange(len(clusters), dtype=np.int64), sizes)
        order = np.argsort(records, kind="stable")
        records, cluster_of = records[order], cluster_of[order]
        index: dict[str, int] = {}
        old_code = np.fromiter(
            (
                -1 if (e := current.get(r)) is None else index.setdefault(e, len(index))
                for r in records.tolist()
            ),
            dtype=np.int64,
            count=records.size,
        )
        return cls(records, cluster_of, old_code, list(index))


@dataclass(slots=True)
class Choice:
    """What `choose_entities` decided: each record's entity after, the new ids, the retired ones."""

    all_names: list[str]  # the old names, then the new ones
    new_code: IntArray  # each record's entity after, a code into `all_names`
    new_entities: list[str]
    retired: dict[str, str]  # retired id → its survivor
    changed: set[str]  # ids that kept their records and gained others


def choose_entities(kind: Kind, grouping: Grouping) -> Choice:
    """Which entity id each cluster keeps, in arrays: a million clusters in well under a second.

    Clusters choose largest first (ties: the one with the earliest record); each takes the id most of
    its records had (ties: the entity of the earliest record) unless a cluster before it took that id,
    then its next, else a new id. Only clusters competing for an id are walked one by one; a cluster
    whose candidate ids no other cluster holds simply takes its first.
    """
    records, cluster_of, old_code, names = (
        grouping.records,
        grouping.cluster_of,
        grouping.old_code,
        grouping.names,
    )
    k = int(cluster_of.max()) + 1 if cluster_of.size else 0
    sizes = np.bincount(cluster_of, minlength=k)
    _, first_index = np.unique(cluster_of, return_index=True)
    first_record = records[first_index]  # records are in id order: the first is the earliest
    order = np.lexsort((first_record, -sizes))  # the order in which clusters choose
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k, dtype=np.int64)
    held = old_code >= 0
    base = len(names) + 1
    pairs, counts = np.unique(cluster_of[held] * base + old_code[held], return_counts=True)
    pair_cluster, pair_entity = pairs // base, pairs % base
    by_preference = np.lexsort((pair_entity, -counts, rank[pair_cluster]))
    pair_cluster, pair_entity = pair_cluster[by_preference], pair_entity[by_preference]

    chosen = np.full(k, -1, dtype=np.int64)
    taken = np.zeros(len(names), dtype=bool)
    contested = np.bincount(pair_entity, minlength=len(names)) > 1  # an id records of several clusters hold
    competing = np.zeros(k, dtype=bool)
    competing[pair_cluster[contested[pair_entity]]] = True
    first = np.r_[True, pair_cluster[1:] != pair_cluster[:-1]] if pair_cluster.size else np.zeros(0, bool)
    easy_cluster, easy_entity = pair_cluster[first], pair_entity[first]
    easy = ~competing[easy_cluster]
    chosen[easy_cluster[easy]] = easy_entity[easy]
    taken[easy_entity[easy]] = True
    walk = np.flatnonzero(competing[pair_cluster])  # in choosing order, each cluster's preferences in turn
    for c, e in zip(pair_cluster[walk].tolist(), pair_entity[walk].tolist(), strict=True):
        if chosen[c] < 0 and not taken[e]:
            taken[e] = True
            chosen[c] = e

    need = order[chosen[order] < 0]
    millis = time.time_ns() // 1_000_000
    new_entities = [new_entity_id(kind, millis, r) for r in first_record[need].tolist()]
    chosen[need] = len(names) + np.arange(need.size, dtype=np.int64)
    all_names = names + new_entities

    new_code = chosen[cluster_of]
    moved = new_code != old_code
    # An entity none of whose records stays with it is retired into the one that took most of them.
    gone = np.flatnonzero(moved & (old_code >= 0) & ~taken[np.maximum(old_code, 0)])
    retired: dict[str, str] = {}
    if gone.size:
        width = len(all_names) + 1
        pairs, counts = np.unique(old_code[gone] * width + new_code[gone], return_counts=True)
        old_of, new_of = pairs // width, pairs % width
        by_count = np.lexsort((new_of, -counts, old_of))
        old_of, new_of = old_of[by_count], new_of[by_count]
        head = np.r_[True, old_of[1:] != old_of[:-1]]
        retired = {
            names[o]: all_names[n] for o, n in zip(old_of[head].tolist(), new_of[head].tolist(), strict=True)
        }
    gained = sorted_unique(new_code[moved])
    changed = {all_names[c] for c in gained[gained < len(names)].tolist()}
    return Choice(all_names, new_code, new_entities, retired, changed)
