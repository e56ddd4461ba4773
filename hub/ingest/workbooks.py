"""Rows of an Excel workbook (.xlsx, or the older .xls), read with python-calamine, as the readers' `RawRow`s.

A departmental export is one sheet: the first sheet of the workbook that has any cell. Its header is
the first row with at least two cells filled (a title row above it, such as 人员信息表 across merged
cells, is passed over), or the first row when the sheet has a single column. Every cell becomes
text as a clerk sees it: a whole number without `.0`, a date as `YYYY-MM-DD`, a time of day after
it when there is one. The raw text kept for a row is the row as a CSV line. Unlike a text file, a
sheet is read into memory whole (calamine's way), bounded by Excel's own limit of rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hub.errors import UnreadableFileError
from hub.ingest.readers import MAX_RECORD_BYTES, RawRow

__all__ = ["cell_text", "check_workbook", "workbook_rows"]


def cell_text(value: Any) -> str:
    """A cell's value as text: `13912345678.0` → "13912345678", a date → "1998-08-05"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip() if isinstance(value, str) else str(value)


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def _open(path: Path) -> Any:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise UnreadableFileError(f"{path.name}: not a readable {path.suffix} workbook ({exc})") from exc


def check_workbook(path: Path) -> None:
    """Raise UnreadableFileError unless `path` opens as a workbook whose header is usable, before
    anything is stored (a load refuses the whole night's files then, not after storing some)."""
    for _row in workbook_rows(path):  # the header is checked before the first row comes out
        break


def _sheet_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, cells as text) of the first sheet that has any cell; lines count from 1 as Excel's do."""
    workbook = _open(path)
    try:
        for name in workbook.sheet_names:
            sheet = workbook.get_sheet_by_name(name)
            if sheet.height == 0:
                continue
            first_row = sheet.start[0] if sheet.start else 0
            for index, row in enumerate(sheet.iter_rows()):
                yield first_row + index + 1, [cell_text(cell) for cell in row]
            return
    finally:
        workbook.close()


def workbook_rows(path: Path) -> Iterator[RawRow]:
    """The records of a workbook's first sheet: a dict per row under the header's names."""
    rows = _sheet_rows(path)
    header: list[str] | None = None
    for _line, cells in rows:
        filled = sum(bool(cell) for cell in cells)
        if filled >= 2 or (filled == 1 and len(cells) == 1):
            header = cells
            break
    if header is None:
        return
    while header and not header[-1]:  # columns left empty at the right of the header
        header.pop()
    if len(set(header)) != len(header) or not all(header):
        raise UnreadableFileError(f"{path.name}: the sheet's header has empty or repeated names: {header}")
    width = len(header)
    for line, cells in rows:
        if not any(cells):
            continue
        text = _csv_line(cells[:width] if not any(cells[width:]) else cells)
        if len(text.encode()) > MAX_RECORD_BYTES:
            yield RawRow(line, text, error=f"too large: the row is over {MAX_RECORD_BYTES} bytes")
        elif any(cells[width:]):
            yield RawRow(
                line,
                text,
                error=f"wrong field count: a value beyond the header's {width} columns",
            )
        else:
            padded = cells[:width] + [""] * (width - len(cells))
            yield RawRow(line, text, value=dict(zip(header, padded, strict=True)))
