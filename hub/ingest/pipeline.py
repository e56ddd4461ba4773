"""Prepared batches from a source file, prepared in a reader thread while the caller writes.

SQLite and psycopg release the GIL while the database works, so reading, parsing and normalizing
the next batch in a thread overlaps with writing the previous one. (A worker process was measured
too: on this project's two-core machines the cost of passing batches between processes ate the
gain.) A bounded queue keeps memory flat; an error in the thread is raised in the caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from hub.ingest.prepare import PreparedBatch, prepare_batch
from hub.ingest.readers import open_source
from hub.store.models import Kind

__all__ = ["PARALLEL_FROM_BYTES", "prepared_batches"]

PARALLEL_FROM_BYTES = 1 << 20
_QUEUE_DEPTH = 3


def _read(path: Path, encoding: str, kind: Kind, batch_size: int) -> Iterator[PreparedBatch]:
    with open_source(path, encoding) as reader:
        rows = iter(reader)
        while chunk := list(islice(rows, batch_size)):
            batch = prepare_batch(kind, chunk)
            batch.bytes_read = reader.bytes_read
            yield batch


def prepared_batches(
    path: Path, encoding: str, kind: Kind, batch_size: int, *, parallel: bool | None = None
) -> Iterator[PreparedBatch]:
    """The file's prepared batches in order; `parallel=None` decides by the file's size.

    A file that cannot be read at all raises here, before any batch or thread.
    """
    open_source(path, encoding).close()
    if parallel is None:
        parallel = path.stat().st_size >= PARALLEL_FROM_BYTES
    if parallel:
        return _from_thread(_read(path, encoding, kind, batch_size))
    return _read(path, encoding, kind, batch_size)


_DONE = object()


def _from_thread(batches: Iterator[PreparedBatch]) -> Iterator[PreparedBatch]:
    out: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        out.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(_DONE)
        except BaseException as exc:  # handed to the caller, who raises it
            out.put(exc)

    thread = threading.Thread(target=produce, name="hub-ingest-reader", daemon=True)
    thread.start()
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, PreparedBatch)
            yield item
    finally:
        stop.set()
        thread.join()
