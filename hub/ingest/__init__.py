"""Ingestion of departmental source files (docs/contract.md §1)."""

from hub.ingest.prepare import content_hash, prepare_batch
from hub.ingest.readers import RawRow, open_source
from hub.ingest.service import Ingestor, IngestSummary, ingest_file, ingest_records

__all__ = [
    "IngestSummary",
    "Ingestor",
    "RawRow",
    "content_hash",
    "ingest_file",
    "ingest_records",
    "open_source",
    "prepare_batch",
]
