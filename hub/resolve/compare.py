"""Comparison levels for arrays of pairs: for each pair and comparison, the first level whose test holds.

Level codes are the index of the level in its comparison; `MISSING` (-1) when either record lacks the
comparison's field. Exact tests compare integer codes; string tests hand only the still-undecided
pairs to rapidfuzz's `cpdist`, which scores whole arrays of pairs in C.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, Jaro, JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from hub.resolve.columns import RecordTable
from hub.resolve.settings import Comparison, Level

__all__ = ["MISSING", "compare", "compare_all"]

MISSING = -1
_UNDECIDED = -2

IntArray = NDArray[np.int64]

# test → (scorer, whether a higher score is closer)
_SCORERS: dict[str, tuple[Callable[..., Any], bool]] = {
    "jaro_winkler": (JaroWinkler.normalized_similarity, True),
    "jaro": (Jaro.normalized_similarity, True),
    "ratio": (lambda a, b, **kw: fuzz.ratio(a, b, **kw) / 100.0, True),
    "levenshtein": (Levenshtein.distance, False),
    "damerau": (DamerauLevenshtein.distance, False),
}


def _holds(
    table: RecordTable, level: Level, field: str, left: IntArray, right: IntArray
) -> NDArray[np.bool_]:
    """Whether `level`'s test holds for each pair (left[k], right[k])."""
    column = table.column(field)
    test = level.test
    if test == "else":
        return np.ones(left.size, dtype=bool)
    if test == "exact":
        codes = column.codes
        return (codes[left] == codes[right]) & (codes[left] >= 0)
    if test == "prefix":
        codes = column.prefix_codes(int(level.threshold or 0))
        return (codes[left] == codes[right]) & (codes[left] >= 0)
    assert level.threshold is not None
    if test in ("days", "numeric"):
        numbers = column.days() if test == "days" else column.numbers()
        with np.errstate(invalid="ignore"):
            return np.abs(numbers[left] - numbers[right]) <= level.threshold
    present = (column.codes[left] >= 0) & (column.codes[right] >= 0)
    out = np.zeros(left.size, dtype=bool)
    rows = np.flatnonzero(present)
    if rows.size:
        scorer, higher_is_closer = _SCORERS[test]
        values = column.values
        a = [str(v) for v in values[left[rows]]]
        b = [str(v) for v in values[right[rows]]]
        scores = cpdist(a, b, scorer=scorer, dtype=np.float32 if higher_is_closer else np.int32, workers=1)
        out[rows] = scores >= level.threshold if higher_is_closer else scores <= level.threshold
    return out


def compare(table: RecordTable, comparison: Comparison, left: IntArray, right: IntArray) -> NDArray[np.int8]:
    """The level of `comparison` for each pair: its index among the levels, or MISSING."""
    levels = np.full(left.size, _UNDECIDED, dtype=np.int8)
    codes = table.column(comparison.field).codes
    levels[(codes[left] < 0) | (codes[right] < 0)] = MISSING
    for index, level in enumerate(comparison.levels):
        undecided = np.flatnonzero(levels == _UNDECIDED)
        if not undecided.size:
            break
        holds = _holds(table, level, level.field or comparison.field, left[undecided], right[undecided])
        levels[undecided[holds]] = index
    return levels


def compare_all(
    table: RecordTable, comparisons: tuple[Comparison, ...], left: IntArray, right: IntArray
) -> NDArray[np.int8]:
    """A (pairs × comparisons) matrix of levels."""
    out = np.empty((left.size, len(comparisons)), dtype=np.int8)
    for k, comparison in enumerate(comparisons):
        out[:, k] = compare(table, comparison, left, right)
    return out
