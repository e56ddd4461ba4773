"""`/metrics` in the Prometheus text format, on a registry of the app's own.

Counted as requests arrive (`RequestLog` and the `Observe` extension feed them): `/graphql` requests
and their latency per operation name, client and result code, the requests in flight, and the
refusals of the rate limits. Read at each scrape: the database pool's use, and from the database the
ingest and resolution runs (count, records, the last run's duration), the review queue and the audit
chain's length.

With several worker processes (`hub serve --workers N`), a scrape reaches one of them, yet must count
every process's requests: `hub serve` then gives the workers a directory (`PROMETHEUS_MULTIPROC_DIR`,
its own temporary one unless the operator sets it, which applies to one worker too) where
prometheus-client keeps each process's values, and a scrape adds them up (its multiprocess mode).
Requests in flight and the connection pools' figures are summed over the live processes.

Labels stay bounded: operation names are normalized (`operation_name`) and at most
`MAX_OPERATIONS` distinct ones are counted per process, later ones as `other`, and a client brings
at most `MAX_OPERATIONS_PER_CLIENT` of them, so that one client's generated names cannot leave the
others' counted as `other`; clients are the registered ones (`-` before a token was accepted); codes
are the hub's.

Readable from the addresses of `HUB_METRICS_ALLOW` (default the server itself) or with the token of
an `ops` client; anyone else gets 403 with the reason. An outage of the database is what a scrape
must show (`hub_database_up` 0), yet the token is checked in the database: while it cannot be read,
a token this process found to be an ops client's in the last `OPS_GRACE_SECONDS` is still let in,
and any other gets 503 saying why.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hub.clients import OPS_ROLE, authenticate_connection, token_digest
from hub.config import get_settings
from hub.domain import Kind, ReviewStatus
from hub.logs import exception_line
from hub.store.models import AuditEvent, IngestRun, ResolutionRun, ReviewItem

__all__ = [
    "MAX_OPERATIONS",
    "MAX_OPERATIONS_PER_CLIENT",
    "OPS_GRACE_SECONDS",
    "Metrics",
    "Outcome",
    "operation_name",
]

log = logging.getLogger(__name__)

# No `_created` sample beside each counter and histogram: it doubles the series a scrape carries, and
# Prometheus reads a counter's resets from the counter itself.
disable_created_metrics()

MAX_OPERATIONS = 200
MAX_OPERATIONS_PER_CLIENT = 50  # operation names one client may be first to bring
OPS_GRACE_SECONDS = 900.0  # an ops token checked this recently still scrapes while the database is down
NAME_MAX = 64
# A run of six digits or more in an operation name could be an ID number or a phone.
_DIGITS = re.compile(r"\d{6,}")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}\Z")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Outcome:
    """What a `/graphql` request came to: set by the API's wrapper when it refused the request, else by
    the `Observe` schema extension once the operation ran."""

    operation: str | None = None
    shape: str | None = None
    code: str | None = None
    entities: int | None = None
    executed: bool = False  # the operation ran (a refusal before GraphQL leaves it False)


def operation_name(name: str | None) -> str:
    """The name an operation is logged and counted under: `anonymous` without one, `invalid` for a
    text no GraphQL name could be, runs of six digits or more elided, at most 64 characters."""
    if not name:
        return "anonymous"
    if not _NAME.match(name[:1024]):
        return "invalid"
    return _DIGITS.sub("_", name)[:NAME_MAX]


class Metrics:
    """The app's registry and what the requests feed into it."""

    def __init__(self, engine: Engine, reader: Engine) -> None:
        self.reader = reader
        self.registry = CollectorRegistry(auto_describe=False)
        labels = ("operation", "client", "code")
        self.requests = Counter(
            "hub_graphql_requests",
            "GraphQL requests answered, by operation name, client and result code",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "hub_graphql_request_duration_seconds",
            "Time from a GraphQL request's arrival to its answer",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "hub_graphql_requests_in_flight",
            "GraphQL requests received and not yet answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.refusals = Counter(
            "hub_rate_limit_refusals",
            "Requests refused by a limit: `requests` (HUB_API_RATE), `client_slots`"
            " (HUB_API_CLIENT_CONCURRENCY), `pii_lookups` (HUB_PII_LOOKUP_RATE)",
            ("limit",),
            registry=self.registry,
        )
        for limit in ("requests", "client_slots", "pii_lookups"):
            self.refusals.labels(limit)  # at 0 from the start, so that a rate over it is defined
        # What a scrape shows: this registry, or with several processes their values added up.
        self.exposed = self.registry
        self.shared_directory = shared_directory()
        if self.shared_directory is not None:
            forget_dead_processes(self.shared_directory)
            self.exposed = CollectorRegistry(auto_describe=False)
            multiprocess.MultiProcessCollector(self.exposed, path=self.shared_directory)
            _SharedPools(_pools(engine, reader), self.registry)  # every process's, added up
        else:
            self.exposed.register(_PoolCollector(engine, reader))  # this process's, read at the scrape
        self.exposed.register(_DatabaseCollector(reader))
        self._operations: set[str] = set()
        self._brought: dict[str, int] = {}  # client → operation names it was first to bring
        self._ops_checked: dict[str, float] = {}  # an ops token's digest → when the database last said so
        # (operation, client, code) → its request counter and latency histogram
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def close(self) -> None:
        """The process is ending: its requests in flight no longer count (its counts stay)."""
        if self.shared_directory is not None:
            multiprocess.mark_process_dead(os.getpid(), self.shared_directory)

    def observe(self, outcome: Outcome, client: str | None, seconds: float) -> None:
        """Count one answered `/graphql` request."""
        code = outcome.code if outcome.code and _CODE.match(outcome.code) else "OTHER"
        client = client or "-"
        operation = self._operation(outcome.operation, client) if outcome.executed else "-"
        labels = (operation, client, code)
        series = self._series.get(labels)
        if series is None:  # `labels()` checks and locks each time: the pair is kept per label set
            series = self._series[labels] = (self.requests.labels(*labels), self.latency.labels(*labels))
        series[0].inc()
        series[1].observe(seconds)
        if code == "RATE_LIMITED":
            self.refusals.labels("pii_lookups" if outcome.executed else "requests").inc()
        elif code == "BUSY" and not outcome.executed:
            self.refusals.labels("client_slots").inc()

    def _operation(self, name: str | None, client: str) -> str:
        label = operation_name(name)
        if label in self._operations:
            return label
        brought = self._brought.get(client, 0)
        if len(self._operations) >= MAX_OPERATIONS or brought >= MAX_OPERATIONS_PER_CLIENT:
            return "other"
        self._operations.add(label)
        self._brought[client] = brought + 1
        return label

    async def endpoint(self, request: Request) -> Response:
        """`/metrics`: the exposition, or 403 saying who may read it."""
        allowed = get_settings().metrics_allow
        if not _address_allowed(request.client.host if request.client else None, allowed):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            client = None
            if scheme.lower() == "bearer" and token.strip():
                try:
                    client = await run_in_threadpool(authenticate_connection, self.reader, token.strip())
                except Exception as exc:  # the database is down: the scrape should say so, not fail
                    return await self._unchecked(token.strip(), exc)
                if client is not None and client.role == OPS_ROLE:
                    self._ops_checked[token_digest(token.strip())] = time.monotonic()
            if client is None or client.role != OPS_ROLE:
                who = "this client's role" if client is not None else "this address"
                return PlainTextResponse(
                    f"/metrics is readable from HUB_METRICS_ALLOW or with an ops client's token;"
                    f" {who} is not allowed\n",
                    status_code=403,
                )
        return await self._exposition()

    async def _exposition(self) -> Response:
        body = await run_in_threadpool(generate_latest, self.exposed)  # the scrape reads the database
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def _unchecked(self, token: str, failure: Exception) -> Response:
        """A token that could not be checked: an ops token checked lately scrapes, others get 503."""
        checked = self._ops_checked.get(token_digest(token))
        if checked is not None and time.monotonic() - checked < OPS_GRACE_SECONDS:
            return await self._exposition()
        log.warning("metrics: a token could not be checked: %s", exception_line(failure))
        return PlainTextResponse(
            "/metrics: the database cannot be read to check this token; scrape from HUB_METRICS_ALLOW\n",
            status_code=503,
        )


def shared_directory() -> str | None:
    """The directory where the processes of one server keep their values (`PROMETHEUS_MULTIPROC_DIR`,
    set by `hub serve` for several workers, or by the operator), or None when this process counts
    alone. Decided by how prometheus-client stores values, which it settles when first imported."""
    if values.ValueClass is values.MutexValue:
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def forget_dead_processes(directory: str) -> list[int]:
    """Drop the live gauges (requests in flight) of processes that ended without saying so (killed,
    then restarted by uvicorn): a process started later sees their files and removes them. Their
    counts stay, as a restarted worker's must. The process ids forgotten."""
    pids = {
        int(digits)
        for path in Path(directory).glob("gauge_live*_*.db")
        if (digits := path.stem.rpartition("_")[2]).isdigit()
    }
    dead = []
    for pid in sorted(pids - {os.getpid()}):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
            dead.append(pid)
        except PermissionError:  # alive, another user's
            continue
    return dead


def _address_allowed(
    host: str | None, allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:  # no address, or a name (a test client's)
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def _pools(engine: Engine, reader: Engine) -> dict[str, Any]:
    """The app's pools by label: `reads` and `writes` when it has one of each (`hub serve`),
    `reads+writes` when one serves both."""
    if engine.pool is reader.pool:
        return {"reads+writes": engine.pool}
    return {"reads": reader.pool, "writes": engine.pool}


_POOL_GAUGES = (
    ("hub_db_pool_checked_out", "checkedout", "Database connections in use"),
    ("hub_db_pool_size", "size", "Connections the pool keeps (beyond them, overflow)"),
    ("hub_db_pool_overflow", "overflow", "Connections opened beyond the pool's size"),
)


class _PoolCollector(Collector):
    """The connection pools of this process, read at each scrape."""

    def __init__(self, engine: Engine, reader: Engine) -> None:
        self.pools = _pools(engine, reader)

    def collect(self) -> Iterator[Metric]:
        for name, method, help_text in _POOL_GAUGES:
            family = GaugeMetricFamily(name, help_text, labels=("pool",))
            for label, pool in self.pools.items():
                if callable(getattr(pool, method, None)):
                    family.add_metric((label,), max(0, int(getattr(pool, method)())))
            yield family


class _SharedPools:
    """With several server processes, a scrape answered by one of them must show the connections of
    all: each process writes its pools' figures to the shared directory as live gauges, summed over
    the live processes. A thread of the process copies them there each `_POOL_PERIOD` seconds (a
    scrape in another process cannot ask this one's pools), rather than at each checkout: a write to
    the shared file costs about 2 µs, four of them a request."""

    def __init__(self, pools: dict[str, Any], registry: CollectorRegistry) -> None:
        gauges = {
            method: Gauge(name, text, ("pool",), registry=registry, multiprocess_mode="livesum")
            for name, method, text in _POOL_GAUGES
        }
        self.shown = [
            (getattr(pool, method), gauges[method].labels(label))
            for label, pool in pools.items()
            for method in gauges
            if callable(getattr(pool, method, None))
        ]
        self.copy()
        threading.Thread(target=self._run, name="hub-pool-gauges", daemon=True).start()

    def copy(self) -> None:
        for read, gauge in self.shown:
            gauge.set(max(0, int(read())))

    def _run(self) -> None:
        while True:
            time.sleep(_POOL_PERIOD)
            self.copy()


_POOL_PERIOD = 1.0


def _seconds(started: datetime | None, finished: datetime | None) -> float:
    if started is None or finished is None:
        return 0.0
    return max(0.0, (finished - started).total_seconds())


def _kind(value: Any) -> str:
    return str(getattr(value, "value", value)) if value is not None else "all"


class _DatabaseCollector(Collector):
    """Runs, the review queue and the audit chain, read from the database at each scrape; when the
    database cannot be read, `hub_database_up` is 0 and the rest is left out."""

    def __init__(self, reader: Engine) -> None:
        self.reader = reader

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hub_database_up", "1 when the scrape could read the database")
        try:
            families = self._read()
        except Exception as exc:  # any database failure: the scrape still answers
            # One line, not a traceback at every scrape of an outage.
            log.warning("metrics: the database could not be read: %s", exception_line(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        ingest_runs = CounterMetricFamily("hub_ingest_runs", "Ingest runs started", labels=["kind"])
        ingest_records = CounterMetricFamily(
            "hub_ingest_records", "Rows ingested, by outcome", labels=["kind", "outcome"]
        )
        ingest_last = GaugeMetricFamily(
            "hub_ingest_last_run_seconds", "Duration of the last finished ingest run", labels=["kind"]
        )
        ingest_last_records = GaugeMetricFamily(
            "hub_ingest_last_run_records", "Rows read by the last finished ingest run", labels=["kind"]
        )
        resolution_runs = CounterMetricFamily(
            "hub_resolution_runs", "Resolution runs started (kind `all`: no single kind)", labels=["kind"]
        )
        resolution_last = GaugeMetricFamily(
            "hub_resolution_last_run_seconds", "Duration of the last finished resolution run", labels=["kind"]
        )
        resolution_last_records = GaugeMetricFamily(
            "hub_resolution_last_run_records",
            "Records the last finished resolution run resolved",
            labels=["kind"],
        )
        review = GaugeMetricFamily(
            "hub_review_items_open", "Review items not decided yet, by state", labels=["kind", "status"]
        )
        audit = GaugeMetricFamily("hub_audit_chain_length", "Events in the audit trail's hash chain")
        outcomes = ("new", "changed", "unchanged", "quarantined")
        with self.reader.connect() as connection:
            for kind, count, *sums in connection.execute(
                select(
                    IngestRun.kind,
                    func.count(),
                    *(func.coalesce(func.sum(getattr(IngestRun, name)), 0) for name in outcomes),
                ).group_by(IngestRun.kind)
            ):
                ingest_runs.add_metric([_kind(kind)], count)
                for outcome, total in zip(outcomes, sums, strict=True):
                    ingest_records.add_metric([_kind(kind), outcome], int(total))
            last_ingests = (
                select(func.max(IngestRun.id))
                .where(IngestRun.finished_at.is_not(None))
                .group_by(IngestRun.kind)
            )
            for run in connection.execute(select(IngestRun).where(IngestRun.id.in_(last_ingests))):
                ingest_last.add_metric([_kind(run.kind)], _seconds(run.started_at, run.finished_at))
                read = run.new + run.changed + run.unchanged + run.quarantined
                ingest_last_records.add_metric([_kind(run.kind)], read)
            for kind, count in connection.execute(
                select(ResolutionRun.kind, func.count()).group_by(ResolutionRun.kind)
            ):
                resolution_runs.add_metric([_kind(kind)], count)
            last_resolutions = (
                select(func.max(ResolutionRun.id))
                .where(ResolutionRun.finished_at.is_not(None))
                .group_by(ResolutionRun.kind)
            )
            for run in connection.execute(
                select(
                    ResolutionRun.kind,
                    ResolutionRun.started_at,
                    ResolutionRun.finished_at,
                    ResolutionRun.stats,
                ).where(ResolutionRun.id.in_(last_resolutions))
            ):
                resolution_last.add_metric([_kind(run.kind)], _seconds(run.started_at, run.finished_at))
                records = (run.stats or {}).get("records")
                if isinstance(records, int):
                    resolution_last_records.add_metric([_kind(run.kind)], records)
            # Every kind and state, at 0 when none: a series that appears only once it is non-zero
            # makes an alert on it (or a rate of it) undefined until then.
            waiting = {(k.value, s.value): 0 for k in Kind for s in ReviewStatus if s != ReviewStatus.DECIDED}
            for kind, status, count in connection.execute(
                select(ReviewItem.kind, ReviewItem.status, func.count())
                .where(ReviewItem.status != ReviewStatus.DECIDED)
                .group_by(ReviewItem.kind, ReviewItem.status)
            ):
                waiting[_kind(kind), _kind(status)] = count
            for (kind_label, status_label), count in sorted(waiting.items()):
                review.add_metric([kind_label, status_label], count)
            # Ids are consecutive from 1 (the chain's rule, which `hub audit verify` checks), so the
            # highest id is the length, read from the index rather than by counting every row.
            audit.add_metric([], connection.execute(select(func.max(AuditEvent.id))).scalar() or 0)
        return [
            ingest_runs,
            ingest_records,
            ingest_last,
            ingest_last_records,
            resolution_runs,
            resolution_last,
            resolution_last_records,
            review,
            audit,
        ]
