"""Stream rows out of source files (.jsonl/.ndjson, .json arrays, .csv, .xlsx and .xls workbooks).

Text files are UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, or GB18030;
when no encoding is given it is detected from the file's start (`detect_encoding`). Readers never
stop at a bad row: each row comes out either as a parsed value or with the reason it could not be
read, plus its raw text, so the caller can quarantine it and go on. Only a file that cannot be read
as a whole (missing, unknown format, no JSON array, unreadable CSV header) raises. Memory stays flat
for text files: rows are produced one at a time.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import ijson.backends.python as ijson_python
import orjson

from hub.errors import UnreadableFileError

__all__ = [
    "ENCODINGS",
    "ENCODING_SAMPLE_BYTES",
    "MAX_RECORD_BYTES",
    "RawRow",
    "SourceReader",
    "detect_encoding",
    "open_source",
]

ENCODINGS = ("utf-8", "gb18030", "utf-16")
ENCODING_SAMPLE_BYTES = 1 << 16
_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}
MAX_RECORD_BYTES = 1 << 20
_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".xlsx": "workbook",
    ".xls": "workbook",
}
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

csv.field_size_limit(1 << 30)  # the record-size limit below gives the clear message instead


@dataclass(slots=True)
class RawRow:
    """One row of a source file: `value` when it parsed, else `error`; `text` is always kept."""

    line: int | None
    text: str
    value: Any = None
    error: str | None = None
    text_is_json: bool = False  # `text` is the JSON of `value` as the source wrote it


class SourceReader:
    """Iterates the rows of one file; `bytes_read` and `size` drive a progress bar.

    `encoding` is the one the file is read in: the given one, else the detected one
    (`encoding_detected` says which); a workbook has none.
    """

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        given = _encoding_name(encoding) if encoding is not None else None
        if encoding is not None and given not in ENCODINGS:
            raise UnreadableFileError(
                f"encoding {encoding!r} is not supported; use utf-8, gb18030 or utf-16"
                " (or leave --encoding out to have it detected)"
            )
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise UnreadableFileError(
                f"{path.name}: unknown format {path.suffix!r};"
                " use .jsonl, .ndjson, .json, .csv, .xlsx or .xls"
            )
        try:
            self._file: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise UnreadableFileError(f"{path}: cannot open ({exc.strerror})") from exc
        self.path = path
        self.format = fmt
        self.size = path.stat().st_size
        self.encoding_detected = given is None and fmt != "workbook"
        self.encoding: str | None = None
        try:
            sample = self._file.read(ENCODING_SAMPLE_BYTES)
            if fmt == "workbook":
                from hub.ingest.workbooks import check_workbook

                check_workbook(path)
            elif given is None:
                self.encoding = detect_encoding(sample, whole=len(sample) < ENCODING_SAMPLE_BYTES)
            else:
                _check_encoding(path.name, sample, given)
                self.encoding = given
        except UnreadableFileError:
            self._file.close()
            raise
        self._file.seek(0)
        # Lines are decoded from bytes; UTF-16 lines are first re-encoded as UTF-8 (`_byte_lines`).
        self._line_encoding = "utf-8" if self.encoding in (None, "utf-16") else self.encoding

    @property
    def bytes_read(self) -> int:
        return self._file.tell() if not self._file.closed else self.size

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[RawRow]:
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "csv":
            return self._csv()
        if self.format == "workbook":
            from hub.ingest.workbooks import workbook_rows

            return workbook_rows(self.path)
        return self._json_array()

    def _byte_lines(self) -> Iterator[bytes]:
        """The file's lines as bytes in `_line_encoding`: UTF-16 text is decoded and re-encoded."""
        if self.encoding != "utf-16":
            yield from self._file
            return
        text = io.TextIOWrapper(self._file, encoding="utf-16", errors="replace", newline="")
        try:
            for line in text:
                yield line.encode("utf-8", "surrogatepass")
        finally:
            text.detach()  # the file stays this reader's to close

    def _decode(self, raw: bytes, line: int) -> tuple[str | None, str | None]:
        if line == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        encoding = self._line_encoding
        try:
            return raw.decode(encoding), None
        except UnicodeDecodeError as exc:
            other = "gb18030" if encoding == "utf-8" else "utf-8"
            hint = (
                f"; the line reads as {_NAMES[other]}, unlike the file's start"
                if _decodes(raw, other)
                else ""
            )
            return None, f"not valid {encoding}: byte 0x{raw[exc.start]:02x} at position {exc.start}{hint}"

    def _jsonl(self) -> Iterator[RawRow]:
        for line, raw in enumerate(self._byte_lines(), start=1):
            text, error = self._decode(raw, line)
            if error is not None:
                yield RawRow(line, raw.decode(self._line_encoding, "replace").rstrip("\r\n"), error=error)
                continue
            assert text is not None
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            if len(raw) > MAX_RECORD_BYTES:
                yield RawRow(line, text, error=_too_large(len(raw)))
                continue
            try:
                yield RawRow(line, text, orjson.loads(text), None, True)
            except orjson.JSONDecodeError as exc:
                yield _with_raw_nul(line, text) or RawRow(line, text, error=f"broken JSON: {exc}")

    def _csv(self) -> Iterator[RawRow]:
        consumed: list[str] = []
        undecodable: list[str] = []
        line_no = 0

        def lines() -> Iterator[str]:
            nonlocal line_no
            for raw in self._byte_lines():
                line_no += 1
                text, error = self._decode(raw, line_no)
                if error is not None:
                    undecodable.append(error)
                    text = raw.decode(self._line_encoding, "replace")
                    if line_no == 1:
                        raise UnreadableFileError(f"{self.path.name}: header {error}")
                assert text is not None
                consumed.append(text)
                yield text

        reader = csv.reader(lines())
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise UnreadableFileError(f"{self.path.name}: CSV header cannot be read ({exc})") from exc
        if header is None:
            return
        header = [name.strip() for name in header]
        if len(set(header)) != len(header) or not all(header):
            raise UnreadableFileError(f"{self.path.name}: CSV header has empty or repeated names: {header}")
        while True:
            consumed.clear()
            undecodable.clear()
            first_line = line_no + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RawRow(first_line, "".join(consumed).rstrip("\r\n"), error=f"broken CSV: {exc}")
                continue
            text = "".join(consumed).rstrip("\r\n")
            if not any(cell.strip() for cell in cells):
                continue
            if undecodable:
                yield RawRow(first_line, text, error=undecodable[0])
            elif len(text.encode()) > MAX_RECORD_BYTES:
                yield RawRow(first_line, text, error=_too_large(len(text.encode())))
            elif len(cells) != len(header):
                yield RawRow(
                    first_line,
                    text,
                    error=f"wrong field count: {len(cells)} fields, the header has {len(header)}",
                )
            else:
                yield RawRow(first_line, text, value=dict(zip(header, cells, strict=True)))

    def _json_array(self) -> Iterator[RawRow]:
        stream: IO[Any] = self._file
        if self.encoding != "utf-8":
            assert self.encoding is not None
            stream = io.TextIOWrapper(self._file, encoding=self.encoding)
        try:
            yield from self._json_items(stream)
        finally:
            if isinstance(stream, io.TextIOWrapper):
                stream.detach()  # the file stays this reader's to close

    def _json_items(self, stream: IO[Any]) -> Iterator[RawRow]:
        # The fast C parser turns a lone surrogate escape (\ud800) into "?", which would be stored as
        # if the source had sent it; a file that has any surrogate escape goes through the pure Python
        # parser, which keeps it, so that the row is quarantined naming the field.
        parse = ijson_python.items if _has_surrogate_escape(self._file) else ijson.items
        wrapper = stream if isinstance(stream, io.TextIOWrapper) else None
        if wrapper is None:
            head = self._file.read(3)
            if head != _BOM:
                self._file.seek(0)
        first = _first_significant_char(stream)
        if first != "[":
            raise UnreadableFileError(
                f"{self.path.name}: a .json source file must hold one JSON array of records"
            )
        if wrapper is not None:  # ijson reads bytes: GB18030 and UTF-16 as UTF-8
            stream = io.BufferedReader(_Utf8Bytes(wrapper))
        index = 0
        try:
            for index, value in enumerate(parse(stream, "item", use_float=True), start=1):
                try:
                    text = orjson.dumps(value).decode()
                except orjson.JSONEncodeError:  # a lone surrogate: no UTF-8 form, found by preparation
                    text = json.dumps(value, ensure_ascii=False)
                if len(text) > MAX_RECORD_BYTES:
                    yield RawRow(index, text, error=_too_large(len(text)))
                else:
                    yield RawRow(index, text, value=value)
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            rest = self._file.read(MAX_RECORD_BYTES).decode(self._line_encoding, "replace")
            yield RawRow(
                index + 1,
                rest,
                error=f"broken JSON: after element {index} ({exc}); the rest of the file could not be parsed",
            )


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Utf8Bytes(io.RawIOBase):
    """A text stream read as UTF-8 bytes, for parsers that take bytes only."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._text.read(1 << 16)
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8", "surrogatepass")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _has_surrogate_escape(file: IO[bytes]) -> bool:
    """Whether the rest of the file holds a UTF-16 surrogate escape (`\\ud800`–`\\udfff`); the file is
    read to its end in chunks and put back where it was."""
    start, tail = file.tell(), b""
    try:
        while chunk := file.read(1 << 20):
            if _SURROGATE_ESCAPE.search(tail + chunk):
                return True
            tail = chunk[-5:]
        return False
    finally:
        file.seek(start)


def _decodes(raw: bytes, encoding: str, final: bool = True) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(raw, final)
    except UnicodeDecodeError:
        return False
    return True


def _encoding_name(encoding: str) -> str:
    name = encoding.strip().lower().replace("_", "-")
    return {
        "utf8": "utf-8",
        "utf-8-sig": "utf-8",
        "gbk": "gb18030",
        "gb2312": "gb18030",
        "utf16": "utf-16",
    }.get(name, name)


def _mostly_gb18030(sample: bytes, whole: bool) -> bool:
    """Whether a start that is not UTF-8 is GB18030: most of its lines beyond ASCII fail UTF-8 and it
    reads as GB18030 (one broken line in a UTF-8 file is quarantined instead)."""
    lines = sample.split(b"\n")
    lines = [line for line in (lines if whole else lines[:-1]) if not line.isascii()]
    broken = sum(not _decodes(line, "utf-8") for line in lines)
    return broken * 2 > len(lines) and _decodes(sample, "gb18030", whole)


def detect_encoding(sample: bytes, whole: bool = True) -> str:
    """The encoding a file's start reads in: `utf-8`, `utf-16` or `gb18030` (deterministic).

    A byte-order mark decides (UTF-8, UTF-16 LE or BE); else text that decodes as strict UTF-8 is
    UTF-8 (GB18030 text of some length practically never does); else text whose lines beyond ASCII
    mostly fail UTF-8 and that reads as GB18030 is GB18030; else UTF-8, and the rows that do not
    decode are quarantined. `whole`: the sample is the whole file (else its last line may be cut).
    UTF-16 without a byte-order mark is not recognised.
    """
    if sample.startswith(_BOM):
        return "utf-8"
    if sample.startswith(_UTF16_BOMS):
        return "utf-16"
    if sample.isascii() or _decodes(sample, "utf-8", whole):
        return "utf-8"
    return "gb18030" if _mostly_gb18030(sample, whole) else "utf-8"


def _check_encoding(name: str, sample: bytes, encoding: str) -> None:
    """Refuse an encoding the start of the file says is likely wrong, before any row is read.

    Bytes outside ASCII that decode as strict UTF-8 are almost surely UTF-8 (GB18030 text of some
    length practically never does), so reading them as GB18030 would store garbled text silently: refused.
    A start that is not UTF-8 but reads as GB18030, with most of its non-ASCII lines failing UTF-8, is
    GB18030 (one broken line in a UTF-8 file is quarantined instead). Only the first
    ENCODING_SAMPLE_BYTES are looked at.
    """
    whole = len(sample) < ENCODING_SAMPLE_BYTES
    if encoding == "utf-16":
        if not sample.startswith(_UTF16_BOMS):
            raise UnreadableFileError(
                f"{name}: UTF-16 files must start with a byte-order mark; this one has none"
            )
        return
    if sample.startswith(_UTF16_BOMS):
        raise UnreadableFileError(
            f"{name}: the file is UTF-16 (it starts with its byte-order mark); pass --encoding utf-16"
        )
    if encoding == "gb18030":
        if sample.startswith(_BOM) or (not sample.isascii() and _decodes(sample, "utf-8", whole)):
            raise UnreadableFileError(f"{name}: the file reads as UTF-8, not GB18030; pass --encoding utf-8")
        return
    if sample.isascii() or sample.startswith(_BOM) or _decodes(sample, "utf-8", whole):
        return
    if _mostly_gb18030(sample, whole):
        raise UnreadableFileError(f"{name}: the file reads as GB18030, not UTF-8; pass --encoding gb18030")


def _with_raw_nul(line: int, text: str) -> RawRow | None:
    """A line whose only flaw as JSON is a raw NUL inside a string: parsed, so the reason names the field."""
    if "\x00" not in text:
        return None
    try:
        return RawRow(line, text, orjson.loads(text.replace("\x00", "\\u0000")))
    except orjson.JSONDecodeError:
        return None


def _first_significant_char(stream: IO[Any]) -> str:
    position = stream.tell()
    while True:
        chunk = stream.read(1)
        if not chunk:
            stream.seek(position)
            return ""
        char = chunk.decode() if isinstance(chunk, bytes) else chunk
        if not char.isspace():
            stream.seek(position)
            return char


def _too_large(size: int) -> str:
    return f"too large: the record is {size} bytes, over the limit of {MAX_RECORD_BYTES} bytes"


def open_source(path: Path, encoding: str | None = None) -> SourceReader:
    """Open a source file for streaming (the encoding detected when None); raises UnreadableFileError
    if it cannot be read at all."""
    return SourceReader(path, encoding)
