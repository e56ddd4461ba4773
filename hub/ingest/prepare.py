"""Turn raw rows into database-ready items: validate, hash, normalize, serialize (pure; no database).

This half of ingestion is kept free of the database so it can run in a reader thread while the
database writes the batch before. Normalization (`normalized_json`) runs later, for the records that
turn out to be new or changed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import accumulate
from typing import Any, NamedTuple

import orjson

from hub.contract import KIND_FIELDS
from hub.domain import Kind
from hub.ingest.readers import RawRow
from hub.normalize.fields import match_fields, search_terms
from hub.normalize.records import NormalizedRecord, normalize_record

__all__ = [
    "MAX_KEY_LENGTH",
    "UNSTORABLE_CHARACTERS",
    "Normalized",
    "PreparedBatch",
    "PreparedItem",
    "content_hash",
    "duplicate_reason",
    "normalize_contract_record",
    "normalize_packed",
    "normalize_payloads",
    "normalized_json",
    "pack",
    "prepare_batch",
    "unstorable_reason",
]

MAX_KEY_LENGTH = 256
# Text no database column holds: NUL (PostgreSQL text and JSONB refuse it) and lone UTF-16 surrogates
# (not Unicode text at all; no UTF-8 encoder writes them).
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_OTHER_KINDS_FIELDS = {
    kind: {f for other, fields in KIND_FIELDS.items() if other != kind for f in fields}
    - set(KIND_FIELDS[kind])
    for kind in KIND_FIELDS
}


def content_hash(record: Mapping[str, Any]) -> str:
    """Hash a record's meaningful content: key order and empty (unknown) values do not count."""
    values = record.values()
    meaningful = (
        {k: v for k, v in record.items() if v is not None and v != ""}
        if "" in values or None in values
        else record
    )
    return blake2b(orjson.dumps(meaningful, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


class PreparedItem(NamedTuple):
    """A usable record: its key, content hash, the JSON text to store, and the parsed record."""

    line: int | None
    key: str
    hash: str
    payload: str
    record: dict[str, Any]


# features, flags and match fields as UTF-8 JSON, whether flagged, and the (field, term) pairs to find it
# by. The JSON stays bytes from the normalizer to the database: as text it would be decoded once here,
# encoded and decoded again between the processes, and encoded once more for SQLite.
Normalized = tuple[bytes, bytes, bool, bytes, tuple[tuple[str, str], ...]]
_NO_FLAGS = b"{}"
NOT_NORMALIZED = "record"  # the flag of a record the normalizers failed on
_log = logging.getLogger("hub.ingest")
# Packed byte strings (`pack`): their contents one after the other, and where each ends.
Packed = tuple[bytes, bytes]


def normalize_contract_record(kind: Kind, record: Mapping[str, Any]) -> NormalizedRecord:
    """`normalize_record`, plus a flag on each contract field sent as something other than text.

    Contract fields are strings; a number, array, object or boolean is kept verbatim in the payload and
    normalized as its text, like a malformed identifier, and flagged so that it is not mistaken for
    what the source meant to send.
    """
    normalized = normalize_record(kind, record)
    for name in KIND_FIELDS[kind]:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            wrong = f"expected text, got {_a(_json_type(value))}"
            found = normalized.flags.get(name)
            normalized.flags[name] = f"{wrong}; {found}" if found else wrong
    return normalized


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def normalized_json(kind: Kind, record: dict[str, Any]) -> Normalized:
    """The record's features, flags and match fields as UTF-8 JSON, whether anything was flagged, and
    the terms it can be searched by.

    Called only for records that are new or changed: an unchanged record keeps what it has. A record
    the normalizers fail on (a fault of the hub's, not of the record) is kept as sent, with no features
    and a flag saying so, rather than failing its whole file; the log names the fault, not the values.
    """
    try:
        normalized = normalize_contract_record(kind, record)
    except Exception as exc:  # one record's fault must not cost the file
        _log.error("a %s record could not be normalized: %s", kind.value, type(exc).__name__)
        reason = f"the hub could not normalize it ({type(exc).__name__}); kept as sent, it matches nothing"
        normalized = NormalizedRecord(kind, flags={NOT_NORMALIZED: reason})
    flags = normalized.flags
    match = match_fields(kind, normalized.features)
    return (
        orjson.dumps(normalized.features),
        orjson.dumps(flags) if flags else _NO_FLAGS,
        bool(flags),
        orjson.dumps(match),
        search_terms(kind, match),
    )


def normalize_payloads(kind: Kind, payloads: list[bytes]) -> list[Normalized]:
    """`normalized_json` of each stored JSON payload (UTF-8)."""
    return [normalized_json(kind, orjson.loads(payload)) for payload in payloads]


def pack(pieces: Sequence[bytes]) -> Packed:
    """Byte strings as two, their contents and where each ends: how payloads cross to a normalizing
    process without a pickler's bookkeeping for each."""
    return b"".join(pieces), array("Q", accumulate(map(len, pieces))).tobytes()


def _unpack(packed: Packed) -> list[bytes]:
    blob, ends = packed
    offsets = array("Q")
    offsets.frombytes(ends)
    pieces = []
    start = 0
    for end in offsets:
        pieces.append(blob[start:end])
        start = end
    return pieces


def normalize_packed(kind: Kind, payloads: Packed) -> bytes:
    """What a normalizing process runs: `normalized_json` of each packed payload, pickled.

    Pickled here without the memo, as results hold no object twice that matters: the pickler's memo
    entry for every string and tuple was a tenth of the normalizing process's work when the pool
    pickled the list itself. Read back with `pickle.loads`.
    """
    out = io.BytesIO()
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    # No memo: the results are a list of tuples of bytes and strings, without cycles. `fast` has been
    # documented as deprecated since Python 3.0 and is still there; a Python without it pickles them
    # with the memo, which reads back the same, only slower.
    with contextlib.suppress(AttributeError):
        pickler.fast = True
    pickler.dump(normalize_payloads(kind, _unpack(payloads)))
    return out.getvalue()


@dataclass(slots=True)
class PreparedBatch:
    """One batch: usable items by key (first occurrence wins) and rows to quarantine with reasons.

    `normalizing`, when set, holds the items' normalized JSON, in item order, being computed ahead in
    other processes; `normalized` takes it from there, or normalizes in this process.
    """

    items: dict[str, PreparedItem] = field(default_factory=dict)
    quarantine: list[tuple[int | None, str, str]] = field(default_factory=list)  # line, raw text, reason
    bytes_read: int = 0
    normalizing: list[Future[bytes]] | None = None
    released: bool = False
    _ahead: dict[str, Normalized] | None = None

    def normalized(self, kind: Kind, key: str) -> Normalized:
        """The features, flags and match fields JSON of the item `key`, and whether it was flagged."""
        if self.normalizing is not None:
            if self._ahead is None:
                results = (row for future in self.normalizing for row in pickle.loads(future.result()))
                self._ahead = dict(zip(self.items, results, strict=True))
            return self._ahead[key]
        return normalized_json(kind, self.items[key].record)

    def release(self) -> None:
        """Done with the batch: normalizing not yet started is not needed (its records were unchanged)."""
        self.released = True
        for future in self.normalizing or ():
            future.cancel()


def duplicate_reason(key: str, first_line: int | None, identical: bool) -> str:
    where = f" (first at line {first_line})" if first_line is not None else ""
    same = "identical content" if identical else "different content; the first was kept"
    return f"duplicate key: {key!r} occurs again in this file{where}, {same}"


def _json_type(value: object) -> str:
    names = {list: "array", dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(type(value), "null" if value is None else type(value).__name__)


def _key(record: dict[str, Any]) -> str | None:
    key = record.get("key")
    if isinstance(key, int | float) and not isinstance(key, bool):
        key = str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)
    if not isinstance(key, str) or not key.strip():
        return None
    return key.strip()


def _wrong_kind(kind: Kind, record: dict[str, Any]) -> str | None:
    stated = record.get("kind")
    if isinstance(stated, str) and stated.strip() and stated.strip().lower() != kind.value:
        return f"wrong kind: the record says {stated!r}, the file is ingested as {kind.value}"
    for name in KIND_FIELDS[kind]:  # the common case: one of the kind's own fields has a value
        if record.get(name) not in (None, ""):
            return None
    present = {name for name, value in record.items() if value is not None and value != ""}
    foreign = sorted(present & _OTHER_KINDS_FIELDS[kind])
    if foreign:
        return (
            f"wrong kind: fields {', '.join(foreign)} belong to another kind and none of "
            f"{kind.value}'s fields is present"
        )
    return None


def _reject(record: Any, kind: Kind) -> tuple[str | None, str | None]:
    """Return (key, None) for a usable record, else (None, the reason it cannot be used)."""
    if not isinstance(record, dict):
        return None, f"not an object: got a JSON {_json_type(record)}"
    key = _key(record)
    if key is None:
        return None, "missing key: every record needs a non-empty 'key' (its id in the source)"
    if len(key) > MAX_KEY_LENGTH:
        return None, f"key too long: {len(key)} characters, the limit is {MAX_KEY_LENGTH}"
    return key, _wrong_kind(kind, record)


def _describe(char: str) -> str:
    if char == "\x00":
        return "a NUL character (U+0000), which the database cannot store"
    return f"U+{ord(char):04X}, half of a UTF-16 surrogate pair, which is not text"


def _unstorable_in(value: object, path: str) -> str | None:
    """Where in `value` (found at `path`) the first character no database can store is, and which."""
    if isinstance(value, str):
        found = UNSTORABLE_CHARACTERS.search(value)
        return None if found is None else f"field {path!r} contains {_describe(found.group())}"
    if isinstance(value, dict):
        for name, item in value.items():
            inner = f"{path}.{name}" if path else str(name)
            if isinstance(name, str) and (found := UNSTORABLE_CHARACTERS.search(name)):
                return f"field name {inner!r} contains {_describe(found.group())}"
            if (where := _unstorable_in(item, inner)) is not None:
                return where
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (where := _unstorable_in(item, f"{path}[{index}]")) is not None:
                return where
    return None


def unstorable_reason(record: dict[str, Any]) -> str | None:
    """Why a record's text cannot be stored (a NUL or a lone surrogate), naming the field; None if it can."""
    found = _unstorable_in(record, "")
    if found is None:
        return None
    return f"unstorable text: {found}; remove it in the source system"


def _payload(row: RawRow, record: dict[str, Any]) -> tuple[str, str | None]:
    """The JSON text to store for a usable record, or the reason its text cannot be stored.

    A parser accepts NUL only as the escape \\u0000 and refuses lone surrogates in JSON text, and
    orjson refuses to write them: so one substring test keeps the common case fast.
    """
    if row.text_is_json:
        payload = row.text
    else:
        try:
            payload = orjson.dumps(record).decode()
        except TypeError as exc:
            return "", unstorable_reason(record) or f"not storable as JSON: {exc}"
    if "\\u0000" in payload:
        return payload, unstorable_reason(record)
    return payload, None


def _same_content(record: dict[str, Any], digest: str) -> bool:
    try:
        return content_hash(record) == digest
    except TypeError:  # text that cannot be stored, so not what was stored either
        return False


def prepare_batch(kind: Kind, rows: Iterable[RawRow]) -> PreparedBatch:
    """Validate and hash one batch of rows of `kind`; normalizing waits until a record proves new."""
    batch = PreparedBatch()
    items = batch.items
    for row in rows:
        reason = row.error
        if reason is None:
            key, reason = _reject(row.value, kind)
            if key is not None and reason is None:
                record = row.value
                first = items.get(key)
                if first is None:
                    payload, reason = _payload(row, record)
                    if reason is None:
                        items[key] = PreparedItem(row.line, key, content_hash(record), payload, record)
                        continue
                else:
                    reason = duplicate_reason(key, first.line, _same_content(record, first.hash))
        assert reason is not None
        batch.quarantine.append((row.line, row.text, reason))
    return batch
