"""Prepared batches from source files, prepared in a reader thread while the caller writes.

SQLite and psycopg release the GIL while the database works, so reading and hashing the next batch
in a thread overlaps with writing the previous one. Normalizing, the costliest step, runs ahead in
`workers` other processes: the reader thread hands them each batch's payload texts, joined into one
byte string (`pack`), and gets JSON texts back, pickled without a memo (`normalize_packed`), so little
crosses between processes and at little cost. (Passing whole parsed batches to a process was measured
too, and cost more than it gained.) Normalizing ahead also normalizes records that turn
out unchanged, on cores that would otherwise idle. A bounded queue keeps memory flat; an error in
the thread or a worker is raised in the caller. The files of a load go through one thread one after
the other, so that reading and normalizing run on into the next file while the caller still writes
the last batches of the one before.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TypeVar, cast

import orjson

from hub.domain import Kind
from hub.ingest.mapping import RowMapper
from hub.ingest.prepare import PreparedBatch, normalize_packed, normalize_payloads, pack, prepare_batch
from hub.ingest.readers import open_source

__all__ = ["PARALLEL_FROM_BYTES", "FileToRead", "exit_with_parent", "paced_collector", "prepared_stream"]

PARALLEL_FROM_BYTES = 1 << 20
_QUEUE_DEPTH = 3
_PARENT_POLL_SECONDS = 0.5
_RELEASE_POLL_SECONDS = 0.02
_WORKER_GC_THRESHOLDS = (50_000, 20, 100)
_T = TypeVar("_T")


_WARM_UP_RECORDS = {
    Kind.PERSON: {
        "key": "warm-up", "name": "張偉", "id_number": "110101199003071234", "birth_date": "1990年3月7日",
        "phone": "138 0013 8000", "address": "北京市东城区东华门街道南池子大街1号院2号楼301室",
        "employer_name": "北京某某科技有限公司",
    },
    Kind.ADDRESS: {"key": "warm-up", "address": "江苏省苏州市常熟市虞山街道海虞北路8号"},
    Kind.LEGAL_ENTITY: {"key": "warm-up", "name": "常熟市某某贸易有限公司", "uscc": "91320581MA1N2B3C4D"},
}  # fmt: skip
_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> tuple[ProcessPoolExecutor, bool]:
    """The process's pool of `workers` normalizing processes, started once and kept for later files,
    and whether it was started just now.

    Kept because a worker's caches of names and addresses pay off across the files of one load.
    Workers are spawned, not forked: this process has threads. A new pool's workers are spawned at once
    and load their dictionaries (pinyin readings, the gazetteer) before the first batch reaches them.
    """
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is not None:
            return pool, False
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        for _ in range(workers):
            pool.submit(_warm_up)
        _pools[workers] = pool
        if len(_pools) == 1:
            atexit.register(_shutdown_pools)
        return pool, True


def _warm_up() -> None:
    for kind, record in _WARM_UP_RECORDS.items():
        normalize_payloads(kind, [orjson.dumps(record)])


_paced_depth = 0
_paced_saved: tuple[int, int, int] = (700, 10, 10)
_paced_lock = threading.Lock()


@contextmanager
def paced_collector() -> Iterator[None]:
    """Collect reference cycles far less often while loading (the thresholds of the workers).

    A batch's rows, prepared items and normalized values live through hundreds of young collections
    at the default threshold, each walking them again: 4 % of the writing process's instructions on a
    field-notes city. The previous thresholds are back once the last of overlapping loads ends.
    """
    global _paced_depth, _paced_saved
    with _paced_lock:
        if _paced_depth == 0:
            _paced_saved = gc.get_threshold()
            gc.set_threshold(*_WORKER_GC_THRESHOLDS)
        _paced_depth += 1
    try:
        yield
    finally:
        with _paced_lock:
            _paced_depth -= 1
            if _paced_depth == 0:
                gc.set_threshold(*_paced_saved)


def _start_worker(parent: int) -> None:
    """Worker initializer: exit with the parent, and let the cycle collector run far less often.

    Normalizing makes next to no reference cycles (none over a 100k-person city, measured with the
    collector off), but every young collection walks the batch's results again, which live through
    hundreds of them: 6 % of the worker's instructions at the default threshold of 700, 1 % at 50,000.
    What is loaded by now is frozen, so that older collections skip it.
    """
    exit_with_parent(parent)
    gc.freeze()
    gc.set_threshold(*_WORKER_GC_THRESHOLDS)


def exit_with_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the process that started the pool is gone, even by kill -9.

    A worker holds both ends of the pool's call queue, so it would never see it close and would wait
    for work for good (and keep the resource tracker alive through its descriptor). A thread polls the
    parent's pid instead of PR_SET_PDEATHSIG, which fires when the *thread* that spawned the worker
    ends (here the reader thread of one file), not the process.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="hub-parent-watch", daemon=True).start()


def _shutdown_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.shutdown(cancel_futures=True)
        _pools.clear()


@dataclass(frozen=True, slots=True)
class FileToRead:
    """One file of a stream: where it is, its encoding (None: detected), its kind and row mapping.
    The caller opened it once already (`open_source`), which refused it if its header was bad."""

    path: Path
    encoding: str | None
    kind: Kind
    mapper: RowMapper | None = None


def _read(
    files: Sequence[FileToRead], batch_size: int, workers: int
) -> Generator[tuple[int, PreparedBatch | None], None, None]:
    """Each file's batches in turn, tagged with the file's place in `files`; None ends a file."""
    pool, starting = _pool(workers) if workers else (None, False)
    ahead: deque[PreparedBatch] = deque()
    for index, f in enumerate(files):
        kind = f.kind
        with open_source(f.path, f.encoding, checked=True) as reader:  # checked by the caller
            rows = iter(reader) if f.mapper is None else map(f.mapper.row, reader)
            while chunk := list(islice(rows, batch_size)):
                batch = prepare_batch(kind, chunk)
                batch.bytes_read = reader.bytes_read
                if starting and batch.items:
                    # The workers take about a second to start and warm up: the caller normalizes this
                    # first batch itself meanwhile, instead of waiting for them.
                    starting = False
                elif pool is not None and batch.items:
                    _wait_for_room(ahead)
                    payloads = [item.payload.encode() for item in batch.items.values()]
                    step = -(-len(payloads) // workers)
                    batch.normalizing = [
                        pool.submit(normalize_packed, kind, pack(payloads[i : i + step]))
                        for i in range(0, len(payloads), step)
                    ]
                    ahead.append(batch)
                yield index, batch
        yield index, None


def _wait_for_room(ahead: deque[PreparedBatch]) -> None:
    """Wait until fewer than `_QUEUE_DEPTH + 1` batches are being normalized for the writer: no
    further ahead than its queue. A batch the writer is done with no longer counts, even while a
    worker still finishes it: when records prove unchanged, the writer outruns the workers (and
    cancels what they had not started), and reading goes on at the writer's pace, not theirs."""
    while ahead:
        oldest = ahead[0]
        if oldest.released or all(future.done() for future in oldest.normalizing or ()):
            ahead.popleft()
        elif len(ahead) > _QUEUE_DEPTH:
            wait(oldest.normalizing or (), timeout=_RELEASE_POLL_SECONDS)
        else:
            return


def prepared_stream(
    files: Sequence[FileToRead], batch_size: int, parallel: bool | None = None, workers: int = 0
) -> Generator[tuple[int, PreparedBatch | None], None, None]:
    """The prepared batches of several files, one file after the other, as (file's index, batch),
    and (index, None) once a file is read to its end, even a file without rows.

    In parallel (`parallel=None`: when the files hold at least `PARALLEL_FROM_BYTES` together), one
    thread reads them all: it goes on to the next file while this one writes the last batches of the
    one before, so the normalizing processes do not idle between files. The caller has opened every
    file once already (`ingest_files` does, to refuse one that cannot be read before storing anything).
    """
    if parallel is None:
        parallel = sum(f.path.stat().st_size for f in files) >= PARALLEL_FROM_BYTES
    if parallel:
        return _from_thread(_read(files, batch_size, workers))
    return _read(files, batch_size, 0)


_DONE = object()


def _from_thread(batches: Iterator[_T]) -> Generator[_T, None, None]:
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
            yield cast(_T, item)
    finally:
        stop.set()
        thread.join()
