"""Records as columns: each field's values, integer codes for equality, and numbers where a test needs them.

Resolution works on arrays, not on dicts: equal values share a code (missing is -1), so blocking and
exact comparison are integer operations over millions of records; string similarity goes to
rapidfuzz over whole arrays of pairs at once.
"""

from __future__ import annotations

import io
from array import array
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from numpy.typing import NDArray

__all__ = [
    "Column",
    "ColumnsBuilder",
    "JsonColumnsBuilder",
    "RecordTable",
    "factorize",
    "is_in",
    "read_json_lines",
    "sorted_unique",
    "string_column",
]

IntArray = NDArray[np.int64]


def factorize(values: Sequence[Any]) -> tuple[IntArray, list[Any]]:
    """Codes 0.. for the distinct present values in order of first appearance, -1 for missing ones."""
    index: dict[Any, int] = {}
    setdefault = index.setdefault
    codes = np.fromiter(
        (-1 if v is None or v == "" else setdefault(v, len(index)) for v in values),
        dtype=np.int64,
        count=len(values),
    )
    return codes, list(index)


def sorted_unique(values: NDArray[Any]) -> NDArray[Any]:
    """The distinct values of a 1-d array, sorted: `np.unique` without its options, by sorting.

    NumPy 2's `np.unique` hashes when asked for the values alone, which on millions of integers is
    over ten times slower than sorting them (6.9 s against 0.4 s on 6.7M candidate pairs).
    """
    ordered = np.sort(values, axis=None)
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def is_in(values: NDArray[Any], keys: NDArray[Any]) -> NDArray[np.bool_]:
    """Whether each of `values` is among `keys` (1-d integer arrays): `np.isin` by sorting the keys
    once and searching them, which does not hash (see `sorted_unique`)."""
    ordered = sorted_unique(keys)
    if not ordered.size:
        return np.zeros(values.shape, dtype=bool)
    found = np.minimum(np.searchsorted(ordered, values), ordered.size - 1)
    out: NDArray[np.bool_] = ordered[found] == values
    return out


def _day(value: Any) -> float:
    if not value:
        return np.nan
    try:
        return float(date.fromisoformat(str(value)[:10]).toordinal())
    except ValueError:
        return np.nan


def _number(value: Any) -> float:
    if value is None or value == "":
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


class Column:
    """One field over all records: codes, the distinct values, and the values and derived forms on demand.

    Only codes are stored per record (8 bytes), each distinct value once: a million records' names
    cost a few megabytes, not a string object per record. The distinct values may be given as an
    Arrow array, and become Python objects only when something asks for them (a fuzzy comparison, a
    date): a field that is only blocked on or compared exactly never needs them.
    """

    __slots__ = ("_counts", "_derived", "_dictionary", "_distinct", "_frequencies", "_values", "codes")

    def __init__(self, codes: IntArray, distinct: list[Any] | pa.Array) -> None:
        self.codes = codes
        self._distinct: list[Any] | None = distinct if isinstance(distinct, list) else None
        self._dictionary: pa.Array | None = None if isinstance(distinct, list) else distinct
        self._values: NDArray[np.object_] | None = None
        self._counts: IntArray | None = None
        self._frequencies: NDArray[np.float64] | None = None
        self._derived: dict[tuple[str, float], Any] = {}

    @classmethod
    def of(cls, values: Sequence[Any]) -> Column:
        codes, distinct = factorize([None if v is None or v == "" else v for v in values])
        return cls(codes, distinct)

    @property
    def distinct(self) -> list[Any]:
        """The distinct present values, by code."""
        if self._distinct is None:
            assert self._dictionary is not None
            self._distinct = self._dictionary.to_pylist()
            self._dictionary = None
        return self._distinct

    @property
    def cardinality(self) -> int:
        """How many distinct present values there are (without making them Python objects)."""
        if self._distinct is not None:
            return len(self._distinct)
        assert self._dictionary is not None
        return len(self._dictionary)

    def with_codes(self, codes: IntArray) -> Column:
        """The same distinct values under other records' codes (a subset of these records)."""
        return Column(codes, self._distinct if self._distinct is not None else self._dictionary)

    @property
    def values(self) -> NDArray[np.object_]:
        """Each record's value (None where missing), as an object array sharing the distinct values."""
        if self._values is None:
            table = np.empty(len(self.distinct) + 1, dtype=object)
            table[: len(self.distinct)] = self.distinct
            self._values = table[self.codes]  # code -1 takes the trailing None
        return self._values

    def counts(self) -> IntArray:
        """How many records hold each distinct value (by code)."""
        if self._counts is None:
            present = self.codes[self.codes >= 0]
            self._counts = np.bincount(present, minlength=self.cardinality).astype(np.int64)
        return self._counts

    def frequencies(self) -> NDArray[np.float64]:
        """The share of records holding each distinct value (by code), for term-frequency weights.

        A column of a few records being resolved against many can be given the frequencies of the
        many (`with_frequencies`).
        """
        if self._frequencies is None:
            counts = self.counts()
            self._frequencies = counts / max(int(counts.sum()), 1)
        return self._frequencies

    def with_frequencies(self, frequencies: NDArray[np.float64]) -> Column:
        self._frequencies = frequencies
        return self

    def prefix_codes(self, length: int) -> IntArray:
        key = ("prefix", float(length))
        if key not in self._derived:
            prefixes, _ = factorize([str(v)[:length] for v in self.distinct])
            self._derived[key] = np.where(self.codes >= 0, np.r_[prefixes, -1][self.codes], -1)
        result: IntArray = self._derived[key]
        return result

    def days(self) -> NDArray[np.float64]:
        key = ("days", 0.0)
        if key not in self._derived:
            by_code = np.array([_day(v) for v in self.distinct] + [np.nan], dtype=np.float64)
            self._derived[key] = by_code[self.codes]  # code -1 takes the trailing NaN
        result: NDArray[np.float64] = self._derived[key]
        return result

    def numbers(self) -> NDArray[np.float64]:
        key = ("numeric", 0.0)
        if key not in self._derived:
            by_code = np.array([_number(v) for v in self.distinct] + [np.nan], dtype=np.float64)
            self._derived[key] = by_code[self.codes]
        result: NDArray[np.float64] = self._derived[key]
        return result


class ColumnsBuilder:
    """Columns built one record at a time, keeping codes and distinct values only (for big loads)."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = sorted(fields)
        self._codes: dict[str, array[int]] = {name: array("q") for name in self.fields}
        self._index: dict[str, dict[Any, int]] = {name: {} for name in self.fields}

    def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add a batch of records: each record's items are walked once into per-field lists, then each
        field is coded (a fifth faster than looking every field up in every record)."""
        n = len(rows)
        columns: dict[str, list[Any]] = {name: [None] * n for name in self.fields}
        get = columns.get
        for i, row in enumerate(rows):
            for name, value in row.items():
                column = get(name)
                if column is not None:
                    column[i] = value
        for name in self.fields:
            index = self._index[name]
            setdefault = index.setdefault
            self._codes[name].extend(
                [
                    -1 if value is None or value == "" else setdefault(value, len(index))
                    for value in columns[name]
                ]
            )

    def columns(self) -> dict[str, Column]:
        return {
            name: Column(np.frombuffer(self._codes[name], dtype=np.int64).copy(), list(self._index[name]))
            for name in self.fields
        }


_JSON_BLOCK = 1 << 20  # bytes: Arrow parses blocks of this size on its threads, one per core


def read_json_lines(texts: Sequence[bytes], schema: pa.Schema) -> pa.Table:
    """JSON objects (UTF-8 texts without a raw newline, as JSON encoders write them) as a table of the
    schema's fields, in their order; other fields are ignored. Raises `pa.ArrowInvalid` where a value
    is not of its field's type.

    Arrow parses the texts in blocks of about a megabyte on its thread pool: on two cores, a batch of
    50,000 persons' features (47 MB) took 0.14 s instead of 0.28 s as one block. A block must hold
    the longest text whole, so a batch with a longer one gets larger blocks."""
    blob = b"\n".join(texts)
    longest = max(map(len, texts), default=0)
    return pa_json.read_json(
        io.BytesIO(blob),
        read_options=pa_json.ReadOptions(block_size=max(_JSON_BLOCK, longest + 1)),
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


class JsonColumnsBuilder:
    """Columns built from records given as JSON texts, one object per record (a batch load's path).

    The texts go to Arrow's JSON reader, which parses them into columns in C++, and each field is
    dictionary-encoded there too: the codes and distinct values come out exactly as `ColumnsBuilder`
    would make them (first appearance first, missing and empty as -1), three times faster on a
    million persons, with no Python object per record and field. Fields are read as strings; should
    a record hold another type (a user's settings reading numbers), the builder turns into a
    `ColumnsBuilder` holding everything added so far and goes on in Python.
    """

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = sorted(fields)
        self._schema = pa.schema([(name, pa.string()) for name in self.fields])
        self._tables: list[pa.Table] = []
        self._python: ColumnsBuilder | None = None

    def add_json(self, texts: Sequence[bytes]) -> None:
        """Add a batch of records, each a JSON object's UTF-8 text (with no raw newline, as JSON
        encoders write it)."""
        if not texts:
            return
        if self._python is None:
            try:
                self._tables.append(read_json_lines(texts, self._schema))
                return
            except pa.ArrowInvalid:
                self._python = ColumnsBuilder(self.fields)
                for table in self._tables:
                    self._python.add_many(table.to_pylist())
                self._tables = []
        self._python.add_many([orjson.loads(text) for text in texts])

    def add_table(self, table: pa.Table) -> None:
        """Add records given as an Arrow table of string columns (a field it lacks is missing)."""
        n = table.num_rows
        columns = [
            table.column(name).cast(pa.string()) if name in table.column_names else pa.nulls(n, pa.string())
            for name in self.fields
        ]
        added = pa.Table.from_arrays(columns, schema=self._schema)
        if self._python is not None:
            self._python.add_many(added.to_pylist())
        else:
            self._tables.append(added)

    def columns(self) -> dict[str, Column]:
        if self._python is not None:
            return self._python.columns()
        table = pa.concat_tables(self._tables) if self._tables else self._schema.empty_table()
        self._tables = []
        # One field at a time, each field's text let go and Arrow's freed pages handed back before the
        # next: converting all fields with the text held to the end peaked 0.3 GB higher (a million persons).
        pending = {name: table.column(name) for name in self.fields}
        del table
        pool = pa.default_memory_pool()
        out: dict[str, Column] = {}
        for name in self.fields:
            out[name] = string_column(pending.pop(name))
            pool.release_unused()
        return out


def string_column(values: pa.Array | pa.ChunkedArray) -> Column:
    """A column of strings (null and empty are missing) coded by first appearance, in Arrow."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return Column(codes, encoded.dictionary)


@dataclass(slots=True)
class RecordTable:
    """The records to resolve: their ids in order and the fields the settings read, as columns.

    `rank`: each row's place in an order of the records that does not depend on when they were
    stored (`hub.resolve.loading` orders them by source and key); where resolution must choose among
    rows alike in every other way (the random pairs that teach u, which of two equal joins comes
    first), it chooses by rank, so the same records give the same entities in whatever order they
    came. None: the rows' own order is that order.
    """

    ids: list[Hashable]
    columns: dict[str, Column]
    rank: IntArray | None = None

    def ranks(self) -> IntArray:
        """Each row's rank (its index where no rank was given)."""
        return self.rank if self.rank is not None else np.arange(len(self.ids), dtype=np.int64)

    @classmethod
    def from_rows(
        cls, ids: Sequence[Hashable], rows: Sequence[dict[str, Any]], fields: set[str]
    ) -> RecordTable:
        """Columns of `fields` from dict rows (a missing key is a missing value)."""
        return cls(list(ids), {name: Column.of([row.get(name) for row in rows]) for name in sorted(fields)})

    @classmethod
    def from_columns(cls, ids: Sequence[Hashable], columns: dict[str, Sequence[Any]]) -> RecordTable:
        return cls(list(ids), {name: Column.of(values) for name, values in columns.items()})

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> Column:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"the records have no field {name!r}; they have {sorted(self.columns)}") from None
