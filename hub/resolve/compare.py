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
    if test == "one_unknown":
        return _one_unknown(column.values, left, right)
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


_UNKNOWN = frozenset("?*？＊")


def _one_unknown_pair(a: str, b: str) -> bool:
    """Whether `a` and `b` are one text but for one character unknown, left out or doubled, the first
    character kept: 王? and 王嘉, 王凯 and 王嘉凯, 王嘉嘉凯 and 王嘉凯."""
    if a[:1] != b[:1] or a == b:
        return False
    if len(a) == len(b):
        differ = [k for k in range(len(a)) if a[k] != b[k]]
        return len(differ) == 1 and (a[differ[0]] in _UNKNOWN or b[differ[0]] in _UNKNOWN)
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(long) != len(short) + 1 or len(short) < 2:
        return False
    k = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    return short[k:] == long[k + 1 :]


def _one_unknown(values: NDArray[Any], left: IntArray, right: IntArray) -> NDArray[np.bool_]:
    """`one_unknown` for each pair, each distinct pair of values judged once."""
    out = np.zeros(left.size, dtype=bool)
    seen: dict[tuple[str, str], bool] = {}
    for k, (a, b) in enumerate(zip(values[left].tolist(), values[right].tolist(), strict=True)):
        if a is None or b is None or abs(len(a) - len(b)) > 1:
            continue
        key = (a, b)
        hit = seen.get(key)
        if hit is None:
            hit = seen[key] = _one_unknown_pair(a, b)
        out[k] = hit
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
