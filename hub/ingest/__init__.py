"""Ingestion of departmental source files (docs/contract.md §1).

The names below load their modules on first use: a normalizing process imports
`hub.ingest.prepare` alone, without the database code of the rest (it starts in a third of the
time, on the load's critical path, and takes less memory).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.ingest.mapping import BUILTIN_HEADERS, ColumnMapping, MappingError, RowMapper, parse_mapping
    from hub.ingest.prepare import content_hash, prepare_batch
    from hub.ingest.quarantine import QuarantinedRow, quarantined_row, quarantined_rows
    from hub.ingest.readers import RawRow, detect_encoding, open_source
    from hub.ingest.service import (
        Ingestor,
        IngestSummary,
        LoadFile,
        ingest_file,
        ingest_files,
        ingest_records,
    )
    from hub.ingest.stored_mappings import latest_mapping, store_mapping

_MODULES = {
    "mapping": ("BUILTIN_HEADERS", "ColumnMapping", "MappingError", "RowMapper", "parse_mapping"),
    "prepare": ("content_hash", "prepare_batch"),
    "quarantine": ("QuarantinedRow", "quarantined_row", "quarantined_rows"),
    "readers": ("RawRow", "detect_encoding", "open_source"),
    "service": ("IngestSummary", "Ingestor", "LoadFile", "ingest_file", "ingest_files", "ingest_records"),
    "stored_mappings": ("latest_mapping", "store_mapping"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BUILTIN_HEADERS",
    "ColumnMapping",
    "IngestSummary",
    "Ingestor",
    "LoadFile",
    "MappingError",
    "QuarantinedRow",
    "RawRow",
    "RowMapper",
    "content_hash",
    "detect_encoding",
    "ingest_file",
    "ingest_files",
    "ingest_records",
    "latest_mapping",
    "open_source",
    "parse_mapping",
    "prepare_batch",
    "quarantined_row",
    "quarantined_rows",
    "store_mapping",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
