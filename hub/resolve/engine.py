"""One resolution over a table of records: block, compare, train, score, apply hard rules, cluster.

Pure: records and decisions in, clusters and scored pairs out; the database layer stores them. Every
stage is timed, so a slow run says where its time went.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hub.resolve.blocking import BlockStats, block
from hub.resolve.cluster import MERGED, REFUSED, ConstrainedClusters
from hub.resolve.columns import RecordTable, is_in, sorted_unique
from hub.resolve.compare import compare_all
from hub.resolve.model import Parameters, pair_weights, train
from hub.resolve.settings import BlockingRule, MatchSettings

__all__ = [
    "JOINED_BY",
    "SCORE_BINS",
    "Explanation",
    "Resolution",
    "bits",
    "explain_pair",
    "kept_apart",
    "model_vetoed",
    "probability",
    "resolve",
    "score_histogram",
]

IntArray = NDArray[np.int64]

# How a candidate pair ended: 0 not joined by its own edge, 1 the model, 2 a hard rule, 3 a steward.
JOINED_BY = ("none", "model", "rule", "steward")


# The match-probability histogram a run keeps in its stats has this many equal bins over 0–1.
SCORE_BINS = 40


def probability(weight: NDArray[np.float64] | float) -> Any:
    """Match probability of a match weight in bits."""
    return 1.0 / (1.0 + np.exp2(-np.asarray(weight, dtype=np.float64)))


@dataclass(slots=True)
class Resolution:
    """The clusters (`labels`: each record's cluster, numbered by its first record) and the scored pairs."""

    labels: IntArray
    left: IntArray
    right: IntArray
    levels: NDArray[np.int8]
    weights: NDArray[np.float64]
    parts: NDArray[np.float32]
    joined_by: NDArray[np.int8]
    merged: NDArray[np.bool_]  # the pair's edge merged two clusters: the spanning edges behind each cluster
    review: NDArray[np.bool_]
    parameters: Parameters
    stats: dict[str, Any] = field(default_factory=dict)
    # pairs the model may not join however they score (`model_vetoes`, an ambiguous part left out)
    held: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def probabilities(self) -> NDArray[np.float64]:
        result: NDArray[np.float64] = probability(self.weights)
        return result

    def clusters(self) -> list[list[int]]:
        """Record indices per cluster, clusters in order of their first record."""
        if not self.labels.size:
            return []
        order = np.argsort(self.labels, kind="stable")
        sorted_labels = self.labels[order]
        cuts = np.flatnonzero(np.diff(sorted_labels)) + 1
        return [group.tolist() for group in np.split(order, cuts)]


def _apart_values(table: RecordTable, settings: MatchSettings) -> list[list[Any]]:
    out: list[list[Any]] = []
    for constraint in settings.constraints:
        if constraint.rule != "apart":
            continue
        codes = table.column(constraint.field).codes
        if constraint.missing_counts:
            out.append(codes.tolist())  # -1 (missing) is a value of its own
        else:
            out.append([None if c < 0 else c for c in codes.tolist()])
    return out


def score_histogram(probabilities: NDArray[np.float64]) -> dict[str, Any]:
    """How many pairs fall in each of `SCORE_BINS` equal bins of match probability (1 in the last).

    Kept with the run because only joins and uncertain pairs are stored: counting the scored pairs
    later would mean scoring them again.
    """
    index = np.minimum((probabilities * SCORE_BINS).astype(np.int64), SCORE_BINS - 1)
    counts = np.bincount(index, minlength=SCORE_BINS)
    return {"bins": SCORE_BINS, "counts": counts.tolist()}


def kept_apart(
    table: RecordTable, settings: MatchSettings, left: IntArray, right: IntArray
) -> NDArray[np.bool_]:
    """Pairs whose two records differ on a field an `apart` constraint names."""
    apart = np.zeros(left.size, dtype=bool)
    for constraint in settings.constraints:
        if constraint.rule != "apart":
            continue
        codes = table.column(constraint.field).codes
        a, b = codes[left], codes[right]
        apart |= (a != b) if constraint.missing_counts else (a >= 0) & (b >= 0) & (a != b)
    return apart


def bits(probability_: float) -> float:
    """Match weight in bits of a match probability."""
    return math.log2(probability_ / (1 - probability_)) if probability_ < 1 else math.inf


def _rule_joins(
    table: RecordTable,
    settings: MatchSettings,
    left: IntArray,
    right: IntArray,
    parts: NDArray[np.float32],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Pairs a `join` rule joins, and pairs it would join but the rest of the evidence vetoes."""
    joins = np.zeros(left.size, dtype=bool)
    vetoed = np.zeros(left.size, dtype=bool)
    names = [c.name for c in settings.comparisons]
    for constraint in settings.constraints:
        if constraint.rule != "join":
            continue
        codes = table.column(constraint.field).codes
        same = (codes[left] == codes[right]) & (codes[left] >= 0)
        if constraint.veto_below is not None:
            kept = [k for k, name in enumerate(names) if name not in constraint.veto_ignores]
            evidence = parts[:, kept].sum(axis=1, dtype=np.float64)
            against = same & (evidence < constraint.veto_below)
            vetoed |= against
            same &= ~against
        joins |= same
    return joins & ~vetoed, vetoed


def model_vetoed(
    table: RecordTable, settings: MatchSettings, left: IntArray, right: IntArray, levels: NDArray[np.int8]
) -> NDArray[np.bool_]:
    """Pairs the model may not join: at a vetoed level, or at a partial agreement that is ambiguous."""
    out = np.zeros(levels.shape[0], dtype=bool)
    for name, label in settings.model_vetoes:
        k = next(i for i, c in enumerate(settings.comparisons) if c.name == name)
        index = [level.label for level in settings.comparisons[k].levels].index(label)
        out |= levels[:, k] == index
    for k, comparison in enumerate(settings.comparisons):
        for index, level in enumerate(comparison.levels):
            if not level.unique_in:
                continue
            rows = np.flatnonzero(levels[:, k] == index)
            if not rows.size:
                continue
            within = table.column(level.unique_within or level.field or comparison.field).codes
            a, b = left[rows], right[rows]
            # Counted among the records sharing the pair's value; where the pair shares a narrowing field
            # too (the same grid), among those sharing that as well.
            scopes = [(within, np.ones(rows.size, dtype=bool))]
            for narrowing in level.unique_narrowed_by:
                codes = table.column(narrowing).codes
                shared = (codes[a] == codes[b]) & (codes[a] >= 0)
                width = int(codes.max(initial=-1)) + 1
                narrowed = np.where((within >= 0) & (codes >= 0), within * width + codes, -1)
                scopes[0] = (within, scopes[0][1] & ~shared)
                scopes.append((narrowed, shared))
            for completion in level.unique_in:
                stated = table.column(completion).codes
                part_left_out = (stated[a] < 0) | (stated[b] < 0)
                for scope, applies in scopes:
                    group = scope[a]
                    hit = applies & part_left_out & (group >= 0)
                    hit[hit] = is_in(group[hit], _ambiguous_values(scope, stated))
                    out[rows] |= hit
    return out


def _ambiguous_values(within: IntArray, stated: IntArray) -> IntArray:
    """The values of `within` (codes, perhaps sparse) whose records state two or more values of `stated`."""
    both = (within >= 0) & (stated >= 0)
    values, dense = np.unique(within[both], return_inverse=True)
    width = int(stated.max(initial=-1)) + 1
    distinct = sorted_unique(dense * width + stated[both])  # (value, stated value) pairs, encoded
    counts = np.bincount(distinct // max(width, 1), minlength=values.size)
    ambiguous: IntArray = values[counts >= 2]
    return ambiguous


def resolve(
    table: RecordTable,
    settings: MatchSettings,
    *,
    must_link: Sequence[tuple[int, int]] = (),
    cannot_link: Sequence[tuple[int, int]] = (),
    parameters: Parameters | None = None,
    progress: Callable[[str], None] | None = None,
) -> Resolution:
    """Resolve `table` under `settings`, honouring stewards' decisions (pairs of record indices).

    `parameters`: reuse trained weights instead of training (incremental runs, reproductions).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        if progress:
            progress(name)

    rules = settings.blocking + tuple(_join_rule(c.field) for c in settings.constraints if c.rule == "join")
    left, right, block_stats = block(table, rules, across=settings.link_only_across)
    stage("block")
    levels = compare_all(table, settings.comparisons, left, right)
    stage("compare")
    if parameters is None:
        parameters = train(table, settings, left, right, levels)
        stage("train")
    weights, parts = pair_weights(table, settings, parameters, left, levels)
    stage("score")

    rule, vetoed = _rule_joins(table, settings, left, right, parts)
    parsed = [c.parsed for c in settings.constraints if c.rule == "apart"]
    clusters = ConstrainedClusters(len(table), _apart_values(table, settings), parsed)
    clusters.forbid(cannot_link)
    clusters.forbid(zip(left[vetoed].tolist(), right[vetoed].tolist(), strict=True))
    joined_by = np.zeros(left.size, dtype=np.int8)
    merged = np.zeros(left.size, dtype=bool)
    if must_link:
        pairs = np.asarray(must_link, dtype=np.int64).reshape(-1, 2)
        clusters.join_all(pairs[:, 0], pairs[:, 1], override_apart=True)
    pair_rank = _pair_ranks(table, left, right)
    rows = np.flatnonzero(rule)
    if pair_rank is not None:
        rows = rows[np.argsort(pair_rank[rows], kind="stable")]
    outcome = clusters.join_all(left[rows], right[rows], override_parsed=True)
    joined_by[rows[outcome != REFUSED]] = 2
    merged[rows[outcome == MERGED]] = True
    link_weight = bits(settings.link_at)
    vetoed_by_model = model_vetoed(table, settings, left, right, levels)
    model = np.flatnonzero(~rule & ~vetoed & ~vetoed_by_model & (weights >= link_weight))
    if pair_rank is None:
        model = model[np.argsort(-weights[model], kind="stable")]
    else:
        model = model[np.lexsort((pair_rank[model], -weights[model]))]
    outcome = clusters.join_all(left[model], right[model])
    joined_by[model[outcome != REFUSED]] = 1
    merged[model[outcome == MERGED]] = True
    labels = clusters.labels()
    # A pair the hard rules keep apart (two flats' different units, two valid IDs) is no question for
    # a steward; one whose rule join the evidence vetoed is.
    uncertain = (weights >= bits(settings.review_at)) & ~kept_apart(table, settings, left, right)
    review = (uncertain | vetoed) & (labels[left] != labels[right])
    stage("cluster")

    stats: dict[str, Any] = {
        "records": len(table),
        "candidate_pairs": int(left.size),
        "blocking": [_stats_json(s) for s in block_stats],
        "joined_by_rule": int((joined_by == 2).sum()),
        "joined_by_model": int((joined_by == 1).sum()),
        "joins": int(merged.sum()),
        "rule_joins_vetoed": int(vetoed.sum()),
        "model_joins_vetoed": int((vetoed_by_model & (weights >= link_weight)).sum()),
        "refused_by_constraints": clusters.refused,
        "review_pairs": int(review.sum()),
        "score_histogram": score_histogram(probability(weights)),
        "clusters": int(sorted_unique(labels).size),
        "seconds": timings,
    }
    return Resolution(
        labels, left, right, levels, weights, parts, joined_by, merged, review, parameters, stats,
        held=vetoed_by_model,
    )  # fmt: skip


def _pair_ranks(table: RecordTable, left: IntArray, right: IntArray) -> IntArray | None:
    """Each pair's place in the order of its records' ranks, lower rank first: the order in which
    joins of equal standing are tried, since under the hard rules the first of two rival joins wins.
    None where the rows are in rank order already (blocking gives pairs in the rows' order)."""
    if table.rank is None:
        return None
    rank, n = table.rank, len(table)
    a, b = rank[left], rank[right]
    ranked: IntArray = np.minimum(a, b) * n + np.maximum(a, b)
    return ranked


def _join_rule(name: str) -> BlockingRule:
    return BlockingRule((name,), max_block=1000)


def _stats_json(s: BlockStats) -> dict[str, Any]:
    return {
        "rule": s.rule,
        "pairs": s.pairs,
        "blocks": s.blocks,
        "skipped_blocks": s.skipped_blocks,
        "skipped_records": s.skipped_records,
    }


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why two records do or do not match: the prior, then each comparison's level and weight; `held`
    when the model may not join them however they score (a steward decides)."""

    prior_weight: float
    steps: list[tuple[str, str, float]]  # comparison, level label, weight in bits
    weight: float
    held: bool = False

    @property
    def probability(self) -> float:
        return float(probability(self.weight))


def explain_pair(
    table: RecordTable, settings: MatchSettings, parameters: Parameters, a: int, b: int
) -> Explanation:
    """The waterfall for records a and b (indices in `table`), whether or not they were candidates."""
    left = np.array([min(a, b)], dtype=np.int64)
    right = np.array([max(a, b)], dtype=np.int64)
    levels = compare_all(table, settings.comparisons, left, right)
    weight, parts = pair_weights(table, settings, parameters, left, levels)
    held = bool(model_vetoed(table, settings, left, right, levels)[0])
    steps = settings.steps(levels[0], parts[0])
    prior_weight = math.log2(parameters.prior / (1 - parameters.prior))
    return Explanation(prior_weight, steps, float(weight[0]), held)
