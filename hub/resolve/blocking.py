"""Candidate pairs: the pairs of records that agree on every field of at least one blocking rule.

Vectorized: records are sorted by their rule key, and each block size's pairs are cut from a
(blocks × size) matrix at once, so a million records block in seconds. Pairs are returned once each,
as two index arrays with `left < right`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hub.resolve.columns import RecordTable, sorted_unique
from hub.resolve.settings import BlockingRule

__all__ = ["BlockStats", "block", "rule_keys"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BlockStats:
    """What one rule produced: pairs, blocks compared, and blocks skipped as too big (with their records)."""

    rule: str
    pairs: int
    blocks: int
    skipped_blocks: int
    skipped_records: int


def rule_keys(table: RecordTable, rule: BlockingRule) -> IntArray:
    """Each record's key under `rule` as one integer, equal where all its fields are (not consecutive),
    -1 where any of them is missing."""
    codes = table.column(rule.fields[0]).codes.copy()
    for name in rule.fields[1:]:
        other = table.column(name).codes
        present = (codes >= 0) & (other >= 0)
        if present.any() and (int(codes.max()) + 1) * (int(other.max()) + 1) >= 2**62:
            _, inverse = np.unique(codes[present], return_inverse=True)  # renumbered 0.. to fit
            codes[present] = inverse.reshape(-1)  # codes is this function's own array
        width = int(other.max(initial=0)) + 1
        codes = np.where(present, codes * width + other, -1)  # equal keys, not consecutive ones
    return codes


def _pairs_of_blocks(keys: IntArray, max_block: int) -> tuple[IntArray, IntArray, int, int, int]:
    rows = np.flatnonzero(keys >= 0)
    if rows.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0, 0, 0
    order = rows[np.argsort(keys[rows], kind="stable")]
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, sorted_keys.size])
    too_big = sizes > max_block
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    for size in sorted_unique(sizes[(sizes >= 2) & ~too_big]):
        block_starts = starts[sizes == size]
        members = order[block_starts[:, None] + np.arange(size)]
        a, b = np.triu_indices(int(size), k=1)
        lefts.append(members[:, a].reshape(-1))
        rights.append(members[:, b].reshape(-1))
    blocks = int(((sizes >= 2) & ~too_big).sum())
    if not lefts:
        return (
            np.empty(0, np.int64),
            np.empty(0, np.int64),
            blocks,
            int(too_big.sum()),
            int(sizes[too_big].sum()),
        )
    left, right = np.concatenate(lefts), np.concatenate(rights)
    return (
        np.minimum(left, right),
        np.maximum(left, right),
        blocks,
        int(too_big.sum()),
        int(sizes[too_big].sum()),
    )


def block(
    table: RecordTable, rules: tuple[BlockingRule, ...], *, across: str | None = None
) -> tuple[IntArray, IntArray, list[BlockStats]]:
    """The distinct candidate pairs of all rules; with `across`, only pairs whose `across` values differ."""
    n = len(table)
    group = table.column(across).codes if across else None
    encoded: list[IntArray] = []
    stats: list[BlockStats] = []
    for rule in rules:
        left, right, blocks, skipped, skipped_records = _pairs_of_blocks(
            rule_keys(table, rule), rule.max_block
        )
        if group is not None:
            keep = group[left] != group[right]
            left, right = left[keep], right[keep]
        encoded.append(left * n + right)
        stats.append(BlockStats(rule.name, int(left.size), blocks, skipped, skipped_records))
    if not encoded:
        return np.empty(0, np.int64), np.empty(0, np.int64), stats
    unique = sorted_unique(np.concatenate(encoded))
    return unique // n, unique % n, stats
