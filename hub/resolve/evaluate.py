"""How good a resolution is: scores against ground truth, and the clusters that went most wrong.

Both sides are plain mappings from a record key (the hub uses `(source, kind, key)` tuples) to a cluster
id: `predicted` is what the resolver produced, `truth` is the generator's (or a labeller's) answer. Only
records present in both mappings are scored; records known to just one side are counted and reported
but otherwise ignored, so a truth file that covers a sample of the records still gives fair scores.

Everything is computed from the contingency table (how many records each predicted cluster shares with
each true entity), never by enumerating pairs: time and memory grow linearly with the records
(a million take a few seconds).

Two families of scores:

- pairwise: a "pair" is two records placed in the same cluster. Precision is the share of predicted pairs
  that are true pairs, recall the share of true pairs that were predicted. Big clusters weigh
  quadratically, so one wrong giant merge dominates.
- B-cubed: per record, precision is the share of its predicted cluster that truly belongs with it, recall
  the share of its true entity that it was clustered with; both averaged over records. Every record
  weighs the same, so it reflects what a typical record experiences.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "Evaluation",
    "FalseMerge",
    "MissedLink",
    "Scores",
    "bcubed",
    "evaluate",
    "format_evaluation",
    "link_scores",
    "pairwise",
]

K = TypeVar("K", bound=Hashable)

EXAMPLES = 5
"""How many record keys each false merge or missed link carries, for looking the records up."""

_LISTED_GROUPS = 5
"""How many true entities (or predicted clusters) one report line names before summarizing the rest."""


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision, recall and their harmonic mean F1, each between 0 and 1.

    Precision is 1.0 when nothing was predicted (no claim, so no wrong claim), recall is 1.0 when there
    was nothing to find, and F1 is 0.0 when both precision and recall are 0.
    """

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, precision: float, recall: float) -> Scores:
        """Scores with F1 derived from `precision` and `recall`."""
        total = precision + recall
        return cls(precision, recall, 2 * precision * recall / total if total else 0.0)


@dataclass(frozen=True, slots=True)
class FalseMerge(Generic[K]):
    """A predicted cluster that joins records of more than one true entity.

    `wrong_pairs` counts the pairs inside the cluster whose two records belong to different entities;
    `entities` lists each true entity present with its record count, biggest share first; `examples`
    holds a few record keys, drawn from different entities where possible, so the mix-up can be inspected.
    """

    cluster: Hashable
    size: int
    wrong_pairs: int
    entities: tuple[tuple[Hashable, int], ...]
    examples: tuple[K, ...]


@dataclass(frozen=True, slots=True)
class MissedLink(Generic[K]):
    """A true entity whose records were split over several predicted clusters.

    `missed_pairs` counts the pairs of the entity's records that ended up in different clusters;
    `clusters` lists each predicted cluster holding some of its records with their count, biggest first;
    `examples` holds a few record keys, drawn from different clusters where possible.
    """

    entity: Hashable
    size: int
    missed_pairs: int
    clusters: tuple[tuple[Hashable, int], ...]
    examples: tuple[K, ...]


@dataclass(frozen=True, slots=True)
class Evaluation(Generic[K]):
    """A resolution judged against ground truth, over the records both sides know.

    `predicted_clusters` and `true_clusters` count clusters among those records. `only_predicted` and
    `only_truth` count the records left out because just one side knows them. `false_merges` and
    `missed_links` hold the worst offenders only, worst first; `false_merge_count` and
    `missed_link_count` say how many there are in all.
    """

    records: int
    predicted_clusters: int
    true_clusters: int
    pairwise: Scores
    bcubed: Scores
    false_merges: list[FalseMerge[K]]
    missed_links: list[MissedLink[K]]
    false_merge_count: int
    missed_link_count: int
    only_predicted: int
    only_truth: int


class _Contingency(Generic[K]):
    """Which records each (predicted cluster, true entity) cell holds, over the records both sides know."""

    __slots__ = ("cells", "only_predicted", "only_truth", "predicted_sizes", "records", "true_sizes")

    def __init__(self, predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable]) -> None:
        self.cells: dict[tuple[Hashable, Hashable], list[K]] = defaultdict(list)
        self.predicted_sizes: Counter[Hashable] = Counter()
        self.true_sizes: Counter[Hashable] = Counter()
        for key, cluster in predicted.items():
            if key not in truth:
                continue
            entity = truth[key]
            self.cells[cluster, entity].append(key)
            self.predicted_sizes[cluster] += 1
            self.true_sizes[entity] += 1
        self.records = self.predicted_sizes.total()
        self.only_predicted = len(predicted) - self.records
        self.only_truth = len(truth) - self.records

    def pairwise(self) -> Scores:
        true_positives = sum(_pairs(len(keys)) for keys in self.cells.values())
        predicted_pairs = sum(_pairs(size) for size in self.predicted_sizes.values())
        true_pairs = sum(_pairs(size) for size in self.true_sizes.values())
        return Scores.of(
            true_positives / predicted_pairs if predicted_pairs else 1.0,
            true_positives / true_pairs if true_pairs else 1.0,
        )

    def bcubed(self) -> Scores:
        if not self.records:
            return Scores.of(1.0, 1.0)
        precision = math.fsum(
            len(keys) ** 2 / self.predicted_sizes[cluster] for (cluster, _), keys in self.cells.items()
        )
        recall = math.fsum(
            len(keys) ** 2 / self.true_sizes[entity] for (_, entity), keys in self.cells.items()
        )
        return Scores.of(precision / self.records, recall / self.records)

    def false_merges(self) -> list[FalseMerge[K]]:
        by_cluster: dict[Hashable, list[tuple[Hashable, list[K]]]] = defaultdict(list)
        for (cluster, entity), keys in self.cells.items():
            by_cluster[cluster].append((entity, keys))
        merges = []
        for cluster, parts in by_cluster.items():
            if len(parts) < 2:
                continue
            size = self.predicted_sizes[cluster]
            parts.sort(key=lambda part: (-len(part[1]), _order(part[0])))
            merges.append(
                FalseMerge(
                    cluster=cluster,
                    size=size,
                    wrong_pairs=_pairs(size) - sum(_pairs(len(keys)) for _, keys in parts),
                    entities=tuple((entity, len(keys)) for entity, keys in parts),
                    examples=_examples(keys for _, keys in parts),
                )
            )
        merges.sort(key=lambda m: (-m.wrong_pairs, -m.size, _order(m.cluster)))
        return merges

    def missed_links(self) -> list[MissedLink[K]]:
        by_entity: dict[Hashable, list[tuple[Hashable, list[K]]]] = defaultdict(list)
        for (cluster, entity), keys in self.cells.items():
            by_entity[entity].append((cluster, keys))
        links = []
        for entity, parts in by_entity.items():
            if len(parts) < 2:
                continue
            size = self.true_sizes[entity]
            parts.sort(key=lambda part: (-len(part[1]), _order(part[0])))
            links.append(
                MissedLink(
                    entity=entity,
                    size=size,
                    missed_pairs=_pairs(size) - sum(_pairs(len(keys)) for _, keys in parts),
                    clusters=tuple((cluster, len(keys)) for cluster, keys in parts),
                    examples=_examples(keys for _, keys in parts),
                )
            )
        links.sort(key=lambda link: (-link.missed_pairs, -link.size, _order(link.entity)))
        return links


def pairwise(predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable]) -> Scores:
    """Pairwise precision, recall and F1 of `predicted` against `truth`.

    Only records present in both mappings count. See the module docstring for what the scores mean.
    """
    return _Contingency(predicted, truth).pairwise()


def bcubed(predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable]) -> Scores:
    """B-cubed precision, recall and F1 of `predicted` against `truth`.

    Only records present in both mappings count. See the module docstring for what the scores mean.
    """
    return _Contingency(predicted, truth).bcubed()


def evaluate(
    predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable], *, worst: int = 10
) -> Evaluation[K]:
    """Score `predicted` against `truth` and list the `worst` false merges and missed links.

    Only records present in both mappings count; how many were left out is reported.
    """
    table = _Contingency(predicted, truth)
    merges = table.false_merges()
    links = table.missed_links()
    return Evaluation(
        records=table.records,
        predicted_clusters=len(table.predicted_sizes),
        true_clusters=len(table.true_sizes),
        pairwise=table.pairwise(),
        bcubed=table.bcubed(),
        false_merges=merges[: max(worst, 0)],
        missed_links=links[: max(worst, 0)],
        false_merge_count=len(merges),
        missed_link_count=len(links),
        only_predicted=table.only_predicted,
        only_truth=table.only_truth,
    )


def format_evaluation(title: str, e: Evaluation[K]) -> str:
    """`e` as a compact plain-text report headed by `title`, for a terminal or a log."""
    clusters = f"{e.predicted_clusters:,} predicted clusters, {e.true_clusters:,} true entities"
    lines = [title, f"records {e.records:,}: {clusters}"]
    if e.only_predicted or e.only_truth:
        lines.append(f"ignored: {e.only_predicted:,} records only predicted, {e.only_truth:,} only in truth")
    lines.append(f"{'':10}{'precision':>10}{'recall':>10}{'f1':>10}")
    for name, scores in (("pairwise", e.pairwise), ("B-cubed", e.bcubed)):
        lines.append(f"{name:10}{scores.precision:>10.4f}{scores.recall:>10.4f}{scores.f1:>10.4f}")
    lines.append(f"worst false merges ({len(e.false_merges)} of {e.false_merge_count:,}):")
    lines.extend(
        f"  cluster {_label(m.cluster)}: {m.size} records, {m.wrong_pairs:,} wrong pairs;"
        f" entities {_groups(m.entities)}; e.g. {', '.join(_label(key) for key in m.examples)}"
        for m in e.false_merges
    )
    lines.append(f"worst missed links ({len(e.missed_links)} of {e.missed_link_count:,}):")
    lines.extend(
        f"  entity {_label(link.entity)}: {link.size} records, {link.missed_pairs:,} missed pairs;"
        f" clusters {_groups(link.clusters)}; e.g. {', '.join(_label(key) for key in link.examples)}"
        for link in e.missed_links
    )
    return "\n".join(lines)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _order(value: Hashable) -> tuple[str, str]:
    """A sort key that orders ids of any type deterministically (by type, then text)."""
    return type(value).__name__, str(value)


def _examples(groups: Iterable[list[K]]) -> tuple[K, ...]:
    """Up to `EXAMPLES` keys, sorted, taken from each group in turn (smallest first) so every group shows."""
    ordered = [_sorted(keys) for keys in groups]
    picked: list[K] = []
    depth = 0
    while len(picked) < EXAMPLES and any(depth < len(keys) for keys in ordered):
        picked.extend(keys[depth] for keys in ordered if depth < len(keys))
        depth += 1
    return tuple(_sorted(picked[:EXAMPLES]))


def _sorted(keys: list[K]) -> list[K]:
    try:
        return sorted(keys)  # type: ignore[type-var]
    except TypeError:
        return sorted(keys, key=_order)


def _label(value: Hashable) -> str:
    """A record key or cluster id as text: tuple keys like `(source, kind, key)` read `source/kind/key`."""
    if isinstance(value, tuple):
        return "/".join(str(part) for part in value)
    return str(value)


def _groups(counts: tuple[tuple[Hashable, int], ...]) -> str:
    shown = ", ".join(f"{_label(name)}×{count}" for name, count in counts[:_LISTED_GROUPS])
    rest = len(counts) - _LISTED_GROUPS
    return f"{shown}, +{rest} more" if rest > 0 else shown


Triple = tuple[str, str, str]


def link_scores(
    predicted: Iterable[Triple], true_id_of: Mapping[str, str], truth: Iterable[Triple]
) -> dict[str, Scores]:
    """Per relation, how well the predicted links (relation, subject entity, object entity) match the
    true relations (relation, true id, true id), each entity read as the true thing most of its records
    are. A link counts once however many records assert it; one whose subject has no true id is a
    wrong claim. One whose object has none (an address only the hub's own source describes, such as a
    migrant's home village, which the truth does not know) is not judged. Only relations the truth
    knows are scored (a generated city has no true ids for company premises, so `registered_at` and
    `operates_at` are left out there)."""
    claimed: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    for relation, subject, obj in predicted:
        if obj in true_id_of:
            claimed[relation].add((true_id_of.get(subject), true_id_of[obj]))
    expected: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    for relation, subject, obj in truth:
        expected[relation].add((subject, obj))
    out: dict[str, Scores] = {}
    for relation in sorted(expected):
        got, want = claimed[relation], expected[relation]
        right = len(got & want)
        out[relation] = Scores.of(right / len(got) if got else 1.0, right / len(want) if want else 1.0)
    return out
