"""Ingestion of departmental source files (docs/contract.md §1)."""

from hub.ingest.mapping import BUILTIN_HEADERS, ColumnMapping, MappingError, RowMapper, parse_mapping
from hub.ingest.prepare import content_hash, prepare_batch
from hub.ingest.quarantine import QuarantinedRow, quarantined_row, quarantined_rows
from hub.ingest.readers import RawRow, detect_encoding, open_source
from hub.ingest.service import Ingestor, IngestSummary, LoadFile, ingest_file, ingest_files, ingest_records
from hub.ingest.stored_mappings import latest_mapping, store_mapping

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
