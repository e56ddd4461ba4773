"""Fellegi–Sunter weights learnt without labels, and match weights for pairs.

For each comparison level, m = P(level | same entity) and u = P(level | different entities); a level
weighs log2(m/u) bits for or against a match. Training, as in Splink:

- u from random record pairs (nearly all non-matches in any sizeable dataset);
- m by expectation–maximization over the candidate pairs of each blocking rule in turn, leaving out
  the comparisons that rule blocks on (within its blocks they agree by construction and would teach
  nothing), then averaged over the rules that estimated it;
- the prior (the probability that two random records match) by a fixed point: the expected number
  of matches among the candidates, over all possible pairs.

EM runs on the distinct comparison patterns with their counts, not on pairs, so it costs the same
for a thousand pairs or ten million. Term-frequency adjustment replaces u for an exact agreement on
value v by v's frequency: agreeing on a name one record in a thousand holds counts for less than on a
name held by one in a million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hub.resolve.blocking import rule_keys
from hub.resolve.columns import RecordTable
from hub.resolve.compare import MISSING, compare_all
from hub.resolve.settings import MatchSettings

__all__ = ["Parameters", "estimate_prior", "pair_weights", "train"]

IntArray = NDArray[np.int64]
_FLOOR = 1e-6


@dataclass(slots=True)
class Parameters:
    """Trained m and u per comparison and level, the prior, and how each m was estimated."""

    m: list[list[float]]
    u: list[list[float]]
    prior: float
    m_sessions: list[int]  # per comparison: how many blocking rules' EM estimated its m (0: the default)

    def weight(self, comparison: int, level: int) -> float:
        return math.log2(self.m[comparison][level] / self.u[comparison][level])

    def to_json(self) -> dict[str, Any]:
        return {"m": self.m, "u": self.u, "prior": self.prior, "m_sessions": self.m_sessions}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parameters:
        return cls(data["m"], data["u"], data["prior"], data["m_sessions"])


def _default_m(levels: int) -> list[float]:
    """A starting guess: matches mostly agree; each level down is a quarter as likely."""
    raw = [0.25**i for i in range(levels)]
    total = sum(raw)
    return [r / total for r in raw]


def _u_from_random_pairs(table: RecordTable, settings: MatchSettings) -> tuple[list[list[float]], list[int]]:
    n = len(table)
    rng = np.random.default_rng(settings.seed)
    size = settings.u_sample_pairs if n >= 2 else 0  # fewer than two records: no pairs, smoothing only
    # Drawn by rank, not by row: the same records give the same pairs in whatever order they came.
    by_rank = np.argsort(table.ranks(), kind="stable")
    left = by_rank[rng.integers(0, max(n, 1), size, dtype=np.int64)]
    right = by_rank[rng.integers(0, max(n, 1), size, dtype=np.int64)]
    keep = left != right
    if settings.link_only_across:
        group = table.column(settings.link_only_across).codes
        keep &= group[left] != group[right]
    levels = compare_all(table, settings.comparisons, left[keep], right[keep])
    u: list[list[float]] = []
    sizes: list[int] = []
    for k, comparison in enumerate(settings.comparisons):
        count = len(comparison.levels)
        column = levels[:, k]
        present = column[column != MISSING]
        counts = np.bincount(present.astype(np.int64), minlength=count).astype(np.float64)
        # Half a pair of smoothing: a level never seen among random pairs is rare, not impossible.
        u.append(((counts + 0.5) / (counts.sum() + 0.5 * count)).tolist())
        sizes.append(int(present.size))
    return u, sizes


def _without_matches(
    u: list[list[float]], m: list[list[float]], prior: float, sizes: list[int]
) -> list[list[float]]:
    """u with the random pairs that were matches taken out.

    A random pair is a match with probability `prior`; where records of one entity share a value that
    others rarely hold (a flat, an ID number), those few matches are most of the random agreements,
    and counting them as chance would make agreement on that value look far less telling than it is.
    """
    out: list[list[float]] = []
    for row_u, row_m, size in zip(u, m, sizes, strict=True):
        floor = 0.5 / max(size, 1)
        corrected = np.maximum((np.asarray(row_u) - prior * np.asarray(row_m)) / (1 - prior), floor)
        out.append((corrected / corrected.sum()).tolist())
    return out


def _em(
    levels: NDArray[np.int8], u: list[list[float]], m: list[list[float]], iterations: int, tolerance: float
) -> list[list[float]]:
    """m of the comparisons in `levels`' columns by EM with u fixed; returns the new m."""
    shifted = levels.astype(np.int64) + 1  # 0: missing
    radix = [len(row) + 1 for row in m]
    codes = np.zeros(shifted.shape[0], dtype=np.int64)
    for k, base in enumerate(radix):
        codes = codes * base + shifted[:, k]
    unique, counts = np.unique(codes, return_counts=True)
    patterns = np.empty((unique.size, len(radix)), dtype=np.int64)
    rest = unique.copy()
    for k in range(len(radix) - 1, -1, -1):
        patterns[:, k] = rest % radix[k]
        rest //= radix[k]
    weights = counts.astype(np.float64)
    log_u = np.zeros(unique.size)
    for k, row in enumerate(u):
        table = np.log(np.r_[1.0, row])
        log_u += table[patterns[:, k]]
    m = [list(row) for row in m]
    share = 0.3
    for _ in range(iterations):
        log_m = np.zeros(unique.size)
        for k, row in enumerate(m):
            log_m += np.log(np.r_[1.0, row])[patterns[:, k]]
        a = math.log(share) + log_m
        b = math.log(1 - share) + log_u
        top = np.maximum(a, b)
        posterior = np.exp(a - top) / (np.exp(a - top) + np.exp(b - top))
        mass = weights * posterior
        change = 0.0
        for k, row in enumerate(m):
            present = patterns[:, k] > 0
            denominator = mass[present].sum()
            if denominator <= 0:
                continue
            new = (
                np.bincount(patterns[present, k] - 1, weights=mass[present], minlength=len(row)) / denominator
            )
            new = np.maximum(new, _FLOOR)
            new /= new.sum()
            change = max(change, float(np.abs(new - np.asarray(row)).max()))
            m[k] = new.tolist()
        share = float(min(max(mass.sum() / weights.sum(), _FLOOR), 1 - _FLOOR))
        if change < tolerance:
            break
    return m


def train(
    table: RecordTable, settings: MatchSettings, left: IntArray, right: IntArray, levels: NDArray[np.int8]
) -> Parameters:
    """Learn m, u and the prior from the records and their candidate pairs (no labels)."""
    u, sizes = _u_from_random_pairs(table, settings)
    params = _train_m(table, settings, left, right, levels, u)
    for _ in range(10):  # u and the prior inform each other: a few rounds settle them
        params.u = _without_matches(u, params.m, params.prior, sizes)
        prior = estimate_prior(table, settings, params, left, levels)
        settled = abs(prior - params.prior) <= 0.01 * params.prior
        params.prior = prior
        if settled:
            break
    return params


def _train_m(
    table: RecordTable,
    settings: MatchSettings,
    left: IntArray,
    right: IntArray,
    levels: NDArray[np.int8],
    u: list[list[float]],
) -> Parameters:
    comparisons = settings.comparisons
    sums = [np.zeros(len(c.levels)) for c in comparisons]
    sessions = [0] * len(comparisons)
    for rule in settings.blocking:
        keys = rule_keys(table, rule)
        in_rule = (keys[left] == keys[right]) & (keys[left] >= 0)
        if int(in_rule.sum()) < 10:
            continue
        blocked = set(rule.fields)
        free = [k for k, c in enumerate(comparisons) if not (c.fields() & blocked)]
        if not free:
            continue
        m_free = _em(
            levels[np.ix_(in_rule, free)],
            [u[k] for k in free],
            [_default_m(len(comparisons[k].levels)) for k in free],
            settings.em_iterations,
            settings.em_tolerance,
        )
        for k, row in zip(free, m_free, strict=True):
            sums[k] += row
            sessions[k] += 1
    m = [
        (sums[k] / sessions[k]).tolist() if sessions[k] else _default_m(len(c.levels))
        for k, c in enumerate(comparisons)
    ]
    params = Parameters(m, u, prior=1e-6, m_sessions=sessions)
    params.prior = estimate_prior(table, settings, params, left, levels)
    return params


def _total_pairs(table: RecordTable, settings: MatchSettings) -> float:
    n = len(table)
    if not settings.link_only_across:
        return n * (n - 1) / 2
    counts = table.column(settings.link_only_across).counts().astype(np.float64)
    return float((counts.sum() ** 2 - (counts**2).sum()) / 2)


def estimate_prior(
    table: RecordTable, settings: MatchSettings, params: Parameters, left: IntArray, levels: NDArray[np.int8]
) -> float:
    """The probability that two random records match, assuming blocking finds (nearly) every match.

    Rounded to 12 significant digits: its sum over the pairs rounds differently in the last bits as
    the pairs come in another order, and the same records must weigh the same however they came."""
    total = max(_total_pairs(table, settings), 1.0)
    evidence, _ = pair_weights(table, settings, params, left, levels, with_prior=False)
    prior = 1e-6
    for _ in range(30):
        odds = math.log2(prior / (1 - prior))
        expected = float((1.0 / (1.0 + np.exp2(-(evidence + odds)))).sum())
        new = min(max(expected / total, 1e-12), 0.5)
        if abs(new - prior) <= 1e-3 * prior:
            prior = new
            break
        prior = new
    return float(f"{prior:.12g}")


def pair_weights(
    table: RecordTable,
    settings: MatchSettings,
    params: Parameters,
    left: IntArray,
    levels: NDArray[np.int8],
    *,
    with_prior: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """Each pair's match weight in bits (prior included), and each comparison's part of it."""
    n_pairs, n_comparisons = levels.shape
    parts = np.zeros((n_pairs, n_comparisons), dtype=np.float32)
    for k, comparison in enumerate(settings.comparisons):
        table_k = np.array([params.weight(k, level) for level in range(len(comparison.levels))] + [0.0])
        column = levels[:, k].astype(np.int64)
        parts[:, k] = table_k[column]  # MISSING (-1) takes the trailing 0
        for index, level in enumerate(comparison.levels):
            if not level.tf:
                continue
            rows = np.flatnonzero(column == index)
            if not rows.size:
                continue
            values = table.column(level.field or comparison.field)
            frequency = values.frequencies()[values.codes[left[rows]]]
            parts[rows, k] = np.log2(params.m[k][index] / np.maximum(frequency, _FLOOR))
    total = parts.sum(axis=1, dtype=np.float64)
    if with_prior:
        total += math.log2(params.prior / (1 - params.prior))
    return total, parts
