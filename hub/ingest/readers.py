"""Stream rows out of source files (.jsonl/.ndjson, .json arrays, .csv/.tsv/.txt tables, .xlsx and .xls
workbooks).

Text files are UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, or GB18030;
when no encoding is given it is detected from the file's start (`detect_encoding`). Readers never
stop at a bad row: each row comes out either as a parsed value or with the reason it could not be
read, plus its raw text, so the caller can quarantine it and go on. Only a file that cannot be read
as a whole (missing, unknown format, no JSON array, unreadable CSV header) raises. Memory stays flat
for text files: rows are produced one at a time.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from hub.errors import UnreadableFileError

__all__ = [
    "ENCODINGS",
    "ENCODING_SAMPLE_BYTES",
    "MAX_RECORD_BYTES",
    "NOT_READ_TO_END",
    "RawRow",
    "SourceReader",
    "detect_encoding",
    "open_source",
]

ENCODINGS = ("utf-8", "gb18030", "utf-16")
ENCODING_SAMPLE_BYTES = 1 << 16
_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}
MAX_RECORD_BYTES = 1 << 20
# Starts the reason of a quarantined row that holds the part of a file its reader could not split
# into records; the command exits non-zero when there is one.
NOT_READ_TO_END = "file not read to its end"
_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",  # the separator is read off the lines whatever the name says
    ".txt": "csv",  # a spreadsheet's "Unicode text" and many databases' exports
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

    def __init__(self, path: Path, encoding: str | None = None, *, checked: bool = False) -> None:
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
                " use .jsonl, .ndjson, .json, .csv (.tsv, .txt), .xlsx or .xls"
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
        self.separator = ","  # a CSV file's, read off its first lines (`_layout`)
        self.printed = False  # a table a database console printed (`_printed`): rules and padding dropped
        try:
            sample = self._file.read(ENCODING_SAMPLE_BYTES)
            if fmt == "workbook":
                if not checked:  # parses the whole sheet (calamine's way): once per file is enough
                    from hub.ingest.workbooks import check_workbook

                    check_workbook(path)
            elif given is None:
                self.encoding = detect_encoding(sample, whole=len(sample) < ENCODING_SAMPLE_BYTES)
            else:
                _check_encoding(path.name, sample, given)
                self.encoding = given
            self._file.seek(0)
            # Lines are decoded from bytes; UTF-16 lines are first re-encoded as UTF-8 (`_byte_lines`).
            self._line_encoding = "utf-8" if self.encoding in (None, "utf-16") else self.encoding
            if fmt == "csv":  # a bad header refuses the file (and a load) before anything is stored
                for _ in self._csv(header_only=True):
                    pass
                self._file.seek(0)
        except UnreadableFileError:
            self._file.close()
            raise

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

    def _byte_lines(self) -> Generator[bytes, None, None]:
        """The file's lines as bytes in `_line_encoding`: UTF-16 text is decoded and re-encoded."""
        if self.encoding != "utf-16":
            for raw in self._file:  # noqa: UP028 - `yield from` would close the file with this generator
                yield raw
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

    def _csv(self, header_only: bool = False) -> Iterator[RawRow]:
        raws = self._byte_lines()
        try:
            yield from self._csv_rows(raws, header_only)
        finally:
            raws.close()  # now, while the file is open (a UTF-16 file's decoder lets go of it)

    def _csv_rows(self, raws: Iterator[bytes], header_only: bool) -> Iterator[RawRow]:
        """The rows of a CSV file. A quoted field may span lines; but a row that spans lines and then
        has the wrong number of fields is taken to hold a stray quote (`"张1000` never closed), which
        made the parser read the following rows into that field: its first line is quarantined for
        the unclosed quote, and the lines after it are read again as rows of their own."""
        consumed: list[tuple[int, str, str | None]] = []  # (line number, text, undecodable)
        again: list[tuple[int, str, str | None]] = []  # lines to read again, in reverse order
        line_no = 0

        class Lines:
            """The file's lines for the CSV parser, the lines to read again first; an iterator, not a
            generator, so that lines put back after the file's end are still handed out."""

            def __iter__(self) -> Lines:
                return self

            def __next__(_self) -> str:
                nonlocal line_no
                if again:
                    entry = again.pop()
                else:
                    raw = next(raws)  # StopIteration at the end, until lines are put back
                    line_no += 1
                    text, error = self._decode(raw, line_no)
                    if error is not None:
                        text = raw.decode(self._line_encoding, "replace")
                        if line_no == 1:
                            raise UnreadableFileError(f"{self.path.name}: header {error}")
                    assert text is not None
                    entry = (line_no, text, error)
                consumed.append(entry)
                return entry[1]

        lines = Lines()
        sample = list(islice(lines, _SEPARATOR_SAMPLE))
        if not sample:
            return
        self.separator, above = _layout(sample)
        again.extend(reversed(consumed))  # the sampled lines, read again by the parser
        consumed.clear()
        reader = csv.reader(lines, delimiter=self.separator)
        try:
            for _ in range(above):  # blank lines and a title row above the header
                next(reader)
            header = next(reader, None)
        except csv.Error as exc:
            raise UnreadableFileError(f"{self.path.name}: CSV header cannot be read ({exc})") from exc
        if header is None:
            return
        header = [name.strip() for name in header]
        framed = False
        if self.separator == "|":
            self.printed, framed = _printed(sample, above)
        if framed:
            header = header[1:-1]
        if len(set(header)) != len(header) or not all(header) or not header:
            raise UnreadableFileError(f"{self.path.name}: CSV header has empty or repeated names: {header}")
        if header_only:
            return
        while True:
            consumed.clear()
            problem = None
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # at the file's end inside a quoted field, or a NUL
                problem, cells = f"broken CSV: {exc}", []
            if problem is not None and len(consumed) <= 1:
                first_line = consumed[0][0] if consumed else line_no
                yield RawRow(first_line, "".join(c[1] for c in consumed).rstrip("\r\n"), error=problem)
                continue
            first_line = consumed[0][0]
            if len(consumed) > 1 and (problem is not None or len(cells) != len(header)):
                # a stray quote read the rows below into its field: the line alone is bad
                yield RawRow(
                    first_line,
                    consumed[0][1].rstrip("\r\n"),
                    error='broken CSV: a quote (") that is not closed on its line: the field it opens'
                    " would take in the rows below",
                )
                again.extend(reversed(consumed[1:]))
                continue
            text = "".join(c[1] for c in consumed).rstrip("\r\n")
            if not any(cell.strip() for cell in cells):
                continue
            if self.printed:
                if _PRINTED_RULE.fullmatch(text.strip()) or _PRINTED_COUNT.fullmatch(text.strip()):
                    continue  # the table's rules and the row count below it
                if framed and len(cells) >= 2 and not cells[0].strip() and not cells[-1].strip():
                    cells = cells[1:-1]
                cells = [cell.strip() for cell in cells]  # the padding that aligns the columns
            undecodable = next((c[2] for c in consumed if c[2] is not None), None)
            if undecodable is not None:
                yield RawRow(first_line, text, error=undecodable)
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
        offset = self._file.tell() if wrapper is None else 0
        done = 0
        if wrapper is None and not _has_surrogate_escape(self._file):
            # ijson's C parser first, five times as fast as the splitter below; at the first element it
            # cannot read (broken, an integer over 64 bits), the splitter reads on from the start,
            # passing over what was read already, and quarantines that element alone.
            try:
                for value in ijson.items(self._file, "item", use_float=True):
                    done += 1
                    yield self._json_row(done, value)
                return
            except (ijson.JSONError, UnicodeDecodeError):
                self._file.seek(offset)
        if wrapper is not None:  # elements are split as UTF-8 bytes: GB18030 and UTF-16 re-encoded
            stream = io.BufferedReader(_Utf8Bytes(wrapper))
        for index, (at, size, raw, problem) in enumerate(_ArraySplitter(stream, offset), start=1):
            if index <= done:
                continue
            where = f"element {index} at byte {at}"
            text = raw.decode("utf-8", "replace")
            if problem is not None:
                yield RawRow(index, text, error=problem.format(where=where, size=size))
            elif size > MAX_RECORD_BYTES:
                yield RawRow(index, text, error=_too_large(size))
            else:
                value, error = _parse_element(raw)
                if error is not None:
                    yield RawRow(index, text, error=f"{error}: {where}")
                    continue
                yield self._json_row(index, value)

    @staticmethod
    def _json_row(index: int, value: Any) -> RawRow:
        try:
            text = orjson.dumps(value).decode()
        except (orjson.JSONEncodeError, TypeError):  # a lone surrogate, an integer over 64 bits, depth
            try:
                text = json.dumps(value, ensure_ascii=False)
            except RecursionError:
                return RawRow(index, "", error=f"broken JSON: element {index} is nested too deep")
        if len(text) > MAX_RECORD_BYTES:
            return RawRow(index, text, error=_too_large(len(text)))
        return RawRow(index, text, value=value)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_surrogate_escape(file: IO[bytes]) -> bool:
    """Whether the rest of the file holds a UTF-16 surrogate escape (`\\ud800`-`\\udfff`), which ijson's
    C parser would turn into "?" as if the source had sent it (the splitter keeps it, so that the row
    is quarantined naming the field); the file is read to its end in chunks and put back."""
    start, tail = file.tell(), b""
    try:
        while chunk := file.read(1 << 20):
            if _SURROGATE_ESCAPE.search(tail + chunk):
                return True
            tail = chunk[-5:]
        return False
    finally:
        file.seek(start)


def _parse_element(raw: bytes) -> tuple[Any, str | None]:
    """An array element's value, or why it is not one. orjson first (fast); the standard parser reads
    what orjson refuses but JSON allows: integers over 64 bits and lone surrogate escapes (`\\ud800`,
    kept so that preparation quarantines the row naming the field)."""
    first: Exception | None = None
    if not _LONG_DIGITS.search(raw):  # orjson would make an integer over 64 bits a float
        try:
            return orjson.loads(raw), None
        except orjson.JSONDecodeError as exc:
            first = exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid utf-8: byte 0x{raw[exc.start]:02x} at position {exc.start}"
    try:
        return json.loads(text, parse_constant=_no_constant), None
    except RecursionError:
        return None, "broken JSON: nested too deep"
    except ValueError as exc:
        return None, f"broken JSON: {first or exc}"


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRUCTURE = re.compile(rb'["\[\]{},]')
_IN_STRING = re.compile(rb'["\\\n]')
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_NOT_SPACE_OR_COMMA = re.compile(rb"[^ \t\r\n,]")
_OPENER = {ord("}"): ord("{"), ord("]"): ord("[")}
_BEFORE, _BETWEEN, _IN, _SKIP, _SKIP_START, _AFTER, _TRAIL = range(7)


class _ArraySplitter:
    """The elements of a JSON array, as (byte offset, size, bytes, problem), split by its brackets,
    commas and strings alone: an element that is not valid JSON inside still ends at its bracket, so
    it is quarantined by itself and the next one is read.

    An element broken in its structure (a string not closed on its line, which JSON does not allow,
    or a closing bracket that does not match) is taken to end before the next line that starts with
    `{` (or `]`, the array's end), where reading goes on. An element the file ends inside, and
    anything after the array's `]`, get a problem starting with NOT_READ_TO_END: what could not be
    read is said, never dropped. Each element keeps at most MAX_RECORD_BYTES + 1 bytes; `size` counts
    them all. `problem` is a format string taking `where` and `size`.
    """

    def __init__(self, stream: IO[bytes], offset: int) -> None:
        self._stream = stream
        self._offset = offset
        self._state = _BEFORE
        self._pieces: list[bytes] = []
        self._kept = 0
        self._start = 0
        self._stack: list[int] = []
        self._in_string = self._escaped = False
        self._problem: str | None = None

    def __iter__(self) -> Iterator[tuple[int, int, bytes, str | None]]:
        base = self._offset
        while chunk := self._stream.read(1 << 16):
            yield from self._chunk(chunk, base)
            base += len(chunk)
        if self._state in (_IN, _SKIP, _SKIP_START):
            self._problem = (
                f"{NOT_READ_TO_END}: the file ends inside {{where}} ({{size}} bytes): the file is cut"
                " short, or a string or bracket in the element is not closed"
            )
            yield self._finish(b"", 0, 0, base)
        elif self._state == _TRAIL:
            yield self._finish(b"", 0, 0, base)

    def _begin(self, at: int, problem: str | None = None) -> None:
        self._start, self._problem = at, problem
        self._pieces, self._kept = [], 0
        self._stack.clear()
        self._in_string = self._escaped = False

    def _keep(self, piece: bytes) -> None:
        if self._kept <= MAX_RECORD_BYTES and piece:
            piece = piece[: MAX_RECORD_BYTES + 1 - self._kept]
            self._pieces.append(piece)
            self._kept += len(piece)

    def _finish(self, chunk: bytes, mark: int, end: int, base: int) -> tuple[int, int, bytes, str | None]:
        self._keep(chunk[mark:end])
        raw = b"".join(self._pieces)
        size = base + end - self._start
        if self._problem is not None and self._state in (_SKIP, _SKIP_START):
            raw = raw.rstrip(b" \t\r\n,")
        return self._start, size, raw, self._problem

    def _chunk(self, chunk: bytes, base: int) -> Iterator[tuple[int, int, bytes, str | None]]:
        pos, size, mark = 0, len(chunk), 0
        while pos < size:
            state = self._state
            if state in (_BEFORE, _BETWEEN, _AFTER):
                found = (_NOT_SPACE if state == _AFTER else _NOT_SPACE_OR_COMMA).search(chunk, pos)
                if found is None:
                    break
                pos = found.start()
                byte = chunk[pos]
                if state == _BEFORE:  # the "[" the caller saw
                    self._state = _BETWEEN
                    pos += 1
                elif state == _BETWEEN and byte == ord("]"):
                    self._state = _AFTER
                    pos += 1
                else:
                    trailing = f"{NOT_READ_TO_END}: {{size}} bytes after the array's closing bracket"
                    self._begin(base + pos, trailing if state == _AFTER else None)
                    self._state = _TRAIL if state == _AFTER else _IN
                    mark = pos
            elif state == _TRAIL:
                pos = size
            elif state == _SKIP:
                newline = chunk.find(b"\n", pos)
                if newline < 0:
                    break
                pos, self._state = newline + 1, _SKIP_START
            elif state == _SKIP_START:
                found = _NOT_SPACE.search(chunk, pos)
                if found is None:
                    break
                pos = found.start()
                if chunk[pos] in b"{]":
                    yield self._finish(chunk, mark, pos, base)
                    self._state = _BETWEEN
                else:
                    self._state = _SKIP
            elif self._in_string:
                if self._escaped:
                    self._escaped = False
                    pos += 1
                    continue
                found = _IN_STRING.search(chunk, pos)
                if found is None:
                    break
                pos, byte = found.end(), chunk[found.start()]
                if byte == ord("\\"):
                    self._escaped = True
                elif byte == ord('"'):
                    self._in_string = False
                else:
                    self._problem = "broken JSON: {where}: a string is not closed on its line"
                    self._state = _SKIP_START
            else:
                found = _STRUCTURE.search(chunk, pos)
                if found is None:
                    break
                at, byte = found.start(), chunk[found.start()]
                pos = at + 1
                if byte == ord('"'):
                    self._in_string = True
                elif byte in b"[{":
                    self._stack.append(byte)
                elif byte == ord(",") and not self._stack:
                    yield self._finish(chunk, mark, at, base)
                    self._state = _BETWEEN
                elif byte in b"]}" and self._stack and self._stack[-1] == _OPENER[byte]:
                    self._stack.pop()
                elif byte == ord("]") and not self._stack:
                    yield self._finish(chunk, mark, at, base)
                    self._state = _AFTER
                elif byte != ord(","):
                    self._problem = f"broken JSON: {{where}}: a '{chr(byte)}' that closes no bracket"
                    self._state = _SKIP
        if self._state in (_IN, _SKIP, _SKIP_START, _TRAIL):
            self._keep(chunk[mark:])


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
    """Whether a start that is not UTF-8 is GB18030: most of its lines beyond ASCII fail UTF-8 and
    most read as GB18030. Either way a few broken lines are quarantined, not taken as the encoding."""
    lines = sample.split(b"\n")
    lines = [line for line in (lines if whole else lines[:-1]) if not line.isascii()]
    broken = sum(not _decodes(line, "utf-8") for line in lines)
    broken_gb = sum(not _decodes(line, "gb18030") for line in lines)
    return broken * 2 > len(lines) and broken_gb * 2 < len(lines)


def detect_encoding(sample: bytes, whole: bool = True) -> str:
    """The encoding a file's start reads in: `utf-8`, `utf-16` or `gb18030` (deterministic).

    A byte-order mark decides (UTF-8, UTF-16 LE or BE); else text that decodes as strict UTF-8 is
    UTF-8 (GB18030 text of some length practically never does); else text whose lines beyond ASCII
    mostly fail UTF-8 and mostly read as GB18030 is GB18030; else UTF-8, and the rows that do not
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
    A start that is not UTF-8, with most of its non-ASCII lines failing UTF-8 and reading as GB18030, is
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


_SEPARATOR_SAMPLE = 20  # lines a CSV file's separator is read off: its header and the rows after
# A printed table's rules: `+-----+------+` (MySQL), `-----+------` (psql), `|---|:---:|` (Markdown).
_PRINTED_RULE = re.compile(r"[-+|=: ]*---[-+|=: ]*")
# The row count under it: `(2 rows)` (psql, also in its translations: `(2 行记录)`), `2 rows in set
# (0.00 sec)` or `Empty set (0.00 sec)` (MySQL).
_PRINTED_COUNT = re.compile(
    r"\(\s*\d+\s*[^()|]*\)|(?:\d+ rows? in set|Empty set)(?: \([^()]*\))?", re.IGNORECASE
)
# The last two are full-width, as a Chinese input method types them.
_SEPARATORS = (",", "\t", ";", "|", "，", "；")


def _layout(lines: list[str]) -> tuple[str, int]:
    """A CSV file's field separator and how many rows stand above its header, read off its first lines.

    The separator is the comma, the tab (a spreadsheet's "Unicode text"), the semicolon (a spreadsheet
    saved where the comma is the decimal mark), the vertical bar (database dumps) or the full-width comma
    or semicolon (a file typed with a Chinese input method, `编号，姓名，地址`): the one under
    which the most of the rows after the header have the header's width, then the widest header;
    quotes are honoured, so a header name with a comma inside its quotes does not make a tab-separated
    file comma-separated. The comma on a tie. The header is the first row with two names or more, so
    blank lines and a title row above it (`2023年出租房屋登记表`, as a sheet with a merged title saves)
    are passed over, as in a workbook; with none, the file has one column, under its first line.
    """
    best, best_score = ",", (0, 0)
    above = 0
    for candidate in _SEPARATORS:
        rows: list[list[str]] = []
        with contextlib.suppress(csv.Error):  # the sample may end inside a quoted field
            rows.extend(csv.reader(lines, delimiter=candidate))
        filled = [sum(bool(cell.strip()) for cell in row) for row in rows]
        at = next((index for index, count in enumerate(filled) if count >= 2), None)
        if at is None:
            continue
        width = len(rows[at])
        data = [row for row, count in zip(rows[at + 1 :], filled[at + 1 :], strict=True) if count]
        agreeing = sum(len(row) == width for row in data)
        if data and not agreeing:
            continue
        if (agreeing, width) > best_score:
            best, best_score, above = candidate, (agreeing, width), at
    if best_score == (0, 0):  # one column: its name is the first line that is not blank
        above = next((index for index, line in enumerate(lines) if line.strip()), 0)
    return best, above


def _printed(lines: list[str], above: int) -> tuple[bool, bool]:
    """Whether a file separated by vertical bars is a table a database console printed (a query's
    result copied into a text file), and whether it is framed: its header edged with bars (MySQL's
    `| key | name |`, Markdown's), or followed by a rule (psql's ` key | name` over `-----+------`).
    Such a table's rules and row count are no rows, its edges no fields, and the spaces that align its
    columns no part of the values."""
    header = lines[above].strip() if above < len(lines) else ""
    framed = len(header) >= 2 and header.startswith("|") and header.endswith("|")
    following = lines[above + 1].strip() if above + 1 < len(lines) else ""
    ruled = bool(following) and _PRINTED_RULE.fullmatch(following) is not None
    return framed or ruled, framed


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


def open_source(path: Path, encoding: str | None = None, *, checked: bool = False) -> SourceReader:
    """Open a source file for streaming (the encoding detected when None); raises UnreadableFileError
    if it cannot be read at all. `checked`: an earlier open of this file found its header good, so a
    workbook's is not checked again before its rows are read (a bad one still raises as they are)."""
    return SourceReader(path, encoding, checked=checked)
