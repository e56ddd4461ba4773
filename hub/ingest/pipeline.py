"""Prepared batches from a source file, prepared in a worker process when the file is large.

Reading, parsing and normalizing run in the worker while the calling process writes the previous
batch to the database, so the two halves of ingestion use two cores. A bounded queue keeps memory
flat; an error in the worker (an unreadable file) is raised in the caller.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from hub.errors import UnreadableFileError
from hub.ingest.prepare import PreparedBatch, prepare_batch
from hub.ingest.readers import open_source
from hub.store.models import Kind

__all__ = ["PARALLEL_FROM_BYTES", "prepared_batches"]

PARALLEL_FROM_BYTES = 4 << 20
_QUEUE_DEPTH = 4
_DONE = b""


def _read(path: Path, encoding: str, kind: Kind, batch_size: int) -> Iterator[PreparedBatch]:
    with open_source(path, encoding) as reader:
        rows = iter(reader)
        while chunk := list(islice(rows, batch_size)):
            batch = prepare_batch(kind, chunk)
            batch.bytes_read = reader.bytes_read
            yield batch


def _worker(out: Any, path: Path, encoding: str, kind: Kind, batch_size: int) -> None:
    try:
        for batch in _read(path, encoding, kind, batch_size):
            out.put(batch.to_bytes())
        out.put(_DONE)
    except BaseException as exc:  # handed to the caller, who raises it
        out.put(exc)


def prepared_batches(
    path: Path, encoding: str, kind: Kind, batch_size: int, *, parallel: bool | None = None
) -> Iterator[PreparedBatch]:
    """The file's prepared batches in order; `parallel=None` decides by the file's size.

    A file that cannot be read at all raises here, before any batch or worker process.
    """
    open_source(path, encoding).close()
    if parallel is None:
        parallel = path.stat().st_size >= PARALLEL_FROM_BYTES
    if parallel:
        return _from_worker(path, encoding, kind, batch_size)
    return _read(path, encoding, kind, batch_size)


def _from_worker(path: Path, encoding: str, kind: Kind, batch_size: int) -> Iterator[PreparedBatch]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue(maxsize=_QUEUE_DEPTH)
    worker = context.Process(target=_worker, args=(out, path, encoding, kind, batch_size), daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = out.get(timeout=5)
            except queue.Empty:
                if not worker.is_alive():
                    raise UnreadableFileError(f"{path.name}: the reading process died") from None
                continue
            if isinstance(item, BaseException):
                raise item
            if item == _DONE:
                return
            yield PreparedBatch.from_bytes(item)
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        out.close()
