"""Writers for the source files a department exports (JSON Lines, CSV in UTF-8 with a BOM or in
GB18030) and for truth.csv, the answer key that says which real thing each record describes.

Each record gets its key here: a prefix and a scrambled serial, unique within its file and unrelated
to the order of the true ids, so a resolver cannot cheat by reading keys.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Literal

import orjson

from hub.generate.serials import scramble

__all__ = ["FileFormat", "RelationWriter", "SourceWriter", "TruthWriter"]

FileFormat = Literal["jsonl", "csv-bom", "csv-gb18030"]
_BUFFER = 1 << 20


class TruthWriter:
    """truth.csv: `source,kind,key,true_id`, one row per record written to any source file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="", buffering=_BUFFER)
        self._file.write("source,kind,key,true_id\n")

    def add(self, source: str, kind: str, key: str, true_id: str) -> None:
        self._file.write(f"{source},{kind},{key},{true_id}\n")

    def close(self) -> None:
        self._file.close()


class RelationWriter:
    """relations.csv: `relation,from_id,to_id`, one row each time a record asserts a true relation
    (a person's residence, registration, employer; a company's representative). Rows repeat when
    several records assert one relation; readers take the set."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="", buffering=_BUFFER)
        self._file.write("relation,from_id,to_id\n")

    def add(self, relation: str, from_id: str, to_id: str) -> None:
        self._file.write(f"{relation},{from_id},{to_id}\n")

    def close(self) -> None:
        self._file.close()


class SourceWriter:
    """One source file of one (source, kind); assigns keys and reports every record to the truth."""

    def __init__(
        self, out_dir: Path, source: str, kind: str, file_format: FileFormat, columns: tuple[str, ...],
        key_prefix: str, truth: TruthWriter, salt: int,
    ) -> None:  # fmt: skip
        self.source = source
        self.kind = kind
        self.file_format = file_format
        self.encoding = "gb18030" if file_format == "csv-gb18030" else "utf-8"
        self.path = f"{source}_{kind}.{'jsonl' if file_format == 'jsonl' else 'csv'}"
        self.records = 0
        self._columns = columns
        self._key_prefix = key_prefix
        self._truth = truth
        self._salt = salt
        target = out_dir / self.path
        self._binary: IO[bytes] | None = None
        self._text: IO[str] | None = None
        if file_format == "jsonl":
            self._binary = target.open("wb", buffering=_BUFFER)
        else:
            encoding = "gb18030" if file_format == "csv-gb18030" else "utf-8-sig"
            self._text = target.open("w", encoding=encoding, newline="", buffering=_BUFFER)
            self._csv = csv.writer(self._text)
            self._csv.writerow(("key", *columns))

    def write(self, fields: dict[str, str], true_id: str) -> str:
        """Write one record and its truth row; returns the key it was given."""
        key = f"{self._key_prefix}{scramble(self.records, 10, self._salt):010d}"
        self.records += 1
        if self._binary is not None:
            self._binary.write(orjson.dumps({"key": key, **fields}) + b"\n")
        else:
            self._csv.writerow((key, *(fields.get(column, "") for column in self._columns)))
        self._truth.add(self.source, self.kind, key, true_id)
        return key

    def close(self) -> None:
        if self._binary is not None:
            self._binary.close()
        if self._text is not None:
            self._text.close()
