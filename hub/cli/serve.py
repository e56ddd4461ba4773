"""`hub serve` and `hub schema`: the GraphQL API, whose stack loads only inside these commands."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from hub.cli.common import open_engine
from hub.errors import InputError

# Port 0 would have the system pick one, which the start lines could not name.
PORT = typer.Option(min=1, max=65535, help="TCP port (1-65535).")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, PORT] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve /graphql, /health, /metrics and the console (/console) on HUB_DATABASE_URL; logs are JSON
    lines on standard error."""
    import uvicorn

    from hub.api.logs import log_config
    from hub.config import get_settings

    allowed = ", ".join(str(network) for network in get_settings().metrics_allow) or "no address"
    open_engine().dispose()
    check_startup(host, port, workers)
    with shared_metrics(workers), sigterm_exits():
        for line in listening(host, port, workers, allowed):
            typer.echo(line)
        uvicorn.run(
            "hub.console:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config(),
            log_level="info",
            # Off: the hub logs each request itself (`hub.request`), and uvicorn's line would carry the
            # query string, where a GET of /graphql has its variables.
            access_log=False,
            proxy_headers=True,
        )


def check_startup(host: str, port: int, workers: int) -> None:
    """What would stop the server only after it printed where it listens, or its workers in a loop the
    parent survives (a service that looks up and serves nothing): refused now, in one line."""
    from hub.access_log import load_digest_key
    from hub.config import get_settings
    from hub.console.session import check_console_key

    settings = get_settings()
    check_console_key(settings.console_key_file)
    load_digest_key(settings.access_log_key_file)  # each worker's app would refuse it, again and again
    check_address(host, port, workers)


def check_address(host: str, port: int, workers: int) -> None:
    """Bind the address as uvicorn will (SO_REUSEADDR), then let it go: a port in use, or a host that is
    not an address of this machine, is an InputError naming both."""
    try:
        if workers > 1:  # uvicorn binds one socket itself, IPv6 when the host has a colon
            targets: list[tuple[socket.AddressFamily, Any]] = [
                (socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port))
            ]
        else:  # asyncio's create_server: each address the host resolves to, IPv6 ones IPv6 only
            found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            targets = list(dict.fromkeys((info[0], info[4]) for info in found))
        for family, address in targets:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if workers == 1 and family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as exc:
        shown = f"[{host}]" if ":" in host else host
        raise InputError(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from None


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """A directory where each server process keeps its metrics, so that a scrape answered by any of
    them counts them all (`hub.api.metrics`): `PROMETHEUS_MULTIPROC_DIR` whenever the operator set it,
    with one worker too (created, and emptied: values of an earlier run would be added in), else with
    several workers a temporary one, removed when the server stops. The workers are new processes,
    which see it as they start."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given is None and workers == 1:  # one process, counting in memory
        yield
        return
    if given is not None and not given.strip():
        raise InputError("PROMETHEUS_MULTIPROC_DIR is set but empty: name a directory, or unset it")
    try:
        directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="hub-metrics-"))
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        tempfile.TemporaryFile(dir=directory).close()  # each process writes its files here
    except OSError as exc:
        where = f"PROMETHEUS_MULTIPROC_DIR {given!r}" if given else "a temporary directory"
        raise InputError(
            f"cannot keep the server's metrics in {where} ({exc.strerror or exc}): give the server a"
            " directory it can create and write (e.g. under /run), or unset PROMETHEUS_MULTIPROC_DIR"
        ) from None
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """End on SIGTERM (systemd's stop) as on Ctrl+C: exit 0 once the shutdown is done, with the
    command's log line. uvicorn handles the signal while it serves, then restores the handler it found
    and raises the signal again, which Python's default would turn into death by SIGTERM (exit 143,
    no line)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set it
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def listening(host: str, port: int, workers: int, metrics_allow: str) -> list[str]:
    """What `hub serve` prints as it starts: where each part is served, and by how many processes."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    everywhere = "  (every interface of this machine)" if host in ("0.0.0.0", "::") else ""
    processes = "1 worker process" if workers == 1 else f"{workers} worker processes"
    return [
        f"hub serve: listening on {base} with {processes}{everywhere}",
        f"  GraphQL  {base}/graphql",
        f"  console  {base}/console/",
        f"  metrics  {base}/metrics  (from {metrics_allow}, or with an ops client's token)",
        "  logs     JSON lines on standard error; Ctrl+C stops",
    ]


def schema() -> None:
    """Print the GraphQL schema (the same text as schema.graphql)."""
    from hub.api import schema_sdl

    sys.stdout.write(schema_sdl())
