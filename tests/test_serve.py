"""`hub serve` says where it listens and with how many processes, and every log line it writes is JSON.

Its waits are bounds (a server up within a minute, an answer within 30 s), not how soon anything
answers: it runs with the parallel tests (scripts/check)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hub.cli.serve import listening


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_serve_prints_its_addresses_and_logs_json_lines(database_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_METRICS_ALLOW": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = _get(f"{base}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert status == 200
        status, headers = _get(
            f"{base}/graphql", {"X-Request-Id": "serve-test-1", "Accept": "application/json"}
        )
        assert status == 401 and headers["x-request-id"] == "serve-test-1"
        assert _get(f"{base}/metrics")[0] == 200
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert out.splitlines()[:4] == [
        f"hub serve: listening on {base} with 1 worker process",
        f"  GraphQL  {base}/graphql",
        f"  console  {base}/console/",
        f"  metrics  {base}/metrics  (from 127.0.0.1/32, or with an ops client's token)",
    ]
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is JSON
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers, err
    (request,) = [line for line in lines if line.get("request_id") == "serve-test-1"]
    assert request["logger"] == "hub.request" and request["status"] == 401
    assert request["code"] == "UNAUTHENTICATED" and request["path"] == "/graphql"


def test_the_start_lines_name_every_interface_and_the_processes() -> None:
    lines = listening("::", 8080, 4, "127.0.0.1/32")
    assert lines[0] == (
        "hub serve: listening on http://[::]:8080 with 4 worker processes  (every interface of this machine)"
    )
    assert lines[1] == "  GraphQL  http://[::]:8080/graphql"
    assert listening("10.0.0.5", 80, 1, "x")[2] == "  console  http://10.0.0.5:80/console/"


def _wait_healthy(port: int, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Until the `hub serve` process `server` answers /health on `port` (it must not exit first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if _get(f"http://127.0.0.1:{port}/health")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert server.poll() is None and time.monotonic() < deadline, "a server did not start"
        time.sleep(0.2)


def _post(url: str, token: str, query: str, **variables: object) -> dict[str, object]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, object] = json.loads(response.read())
    assert "errors" not in answer, answer
    return answer


def test_two_servers_on_one_database_answer_the_same_data(database_url: str, tmp_path: Path) -> None:
    """Several processes behind a reverse proxy (docs/operations.md): what one writes, the other reads.
    One is configured by its environment, the other by a file (`HUB_CONFIG_FILE`)."""
    from sqlalchemy.orm import Session

    from hub.clients import add_client
    from hub.store.database import make_engine

    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        writer = add_client(session, "two-servers-writer", "writer", ["source:tax"])
        reader = add_client(session, "two-servers-reader", "reader")
    engine.dispose()
    config = tmp_path / "hub.toml"
    config.write_text(f"database_url = {json.dumps(database_url)}\napi_concurrency = 4\n", encoding="utf-8")
    inherited = {k: v for k, v in os.environ.items() if k != "HUB_DATABASE_URL"}
    environments = [
        {**inherited, "HUB_DATABASE_URL": database_url},
        {**inherited, "HUB_CONFIG_FILE": str(config)},
    ]
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        for port, env in zip(ports, environments, strict=True)
    ]
    try:
        for port, server in zip(ports, servers, strict=True):
            _wait_healthy(port, server)
        first, second = (f"http://127.0.0.1:{port}/graphql" for port in ports)
        submitted = _post(
            first,
            writer,
            'mutation { submitRecords(source: "tax", records: {persons: [{key: "t-1", name: "两台服务",'
            ' idNumber: "32058119900101123X"}]}) { outcome entityId } }',
        )
        (answer,) = submitted["data"]["submitRecords"]  # type: ignore[index]
        assert answer["outcome"] == "CREATED"
        read = _post(second, reader, "query($id: ID!) { person(id: $id) { id name } }", id=answer["entityId"])
        assert read["data"] == {"person": {"id": answer["entityId"], "name": "两台服务"}}
        # A personal field, even masked, is a read the access log keeps, written as the answer leaves
        # (a one-row insert on the server's pool for reads, in autocommit).
        _post(second, reader, "query($id: ID!) { person(id: $id) { idNumber } }", id=answer["entityId"])
        logged = make_engine(database_url)
        with logged.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT count(*) FROM access_log a JOIN client c ON c.id = a.client_id"
                " WHERE c.name = 'two-servers-reader'"
            ).scalar_one()
        logged.dispose()
        assert rows == 1
        feed = _post(second, reader, "{ changes(first: 100) { entries { change entityId } } }")
        entries = feed["data"]["changes"]["entries"]  # type: ignore[index]
        assert {"change": "CREATED", "entityId": answer["entityId"]} in entries
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            server.wait(timeout=30)


def _scrape(port: int) -> dict[str, float]:
    """`/metrics` of the server at `port` (allowed from this machine by default): value by sample line."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_every_worker_is_counted_whichever_answers_the_scrape(database_url: str) -> None:
    """With `--workers 2` a scrape reaches one process; its counts must still be the whole server's."""
    from sqlalchemy.orm import Session

    from hub.clients import add_client
    from hub.config import get_settings
    from hub.store.database import make_engine

    reads_per_worker = get_settings().api_concurrency + 4  # hub.api.app's pool for reads
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        token = add_client(session, "two-workers", "reader")
    engine.dispose()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HUB_DATABASE_URL": database_url},
    )
    try:
        _wait_healthy(port, server)
        # Both workers up, not only the first to answer /health: each shows its pools once started.
        deadline = time.monotonic() + 30
        while _scrape(port).get('hub_db_pool_size{pool="reads"}') != 2 * reads_per_worker:
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.2)
        sent = 24
        for _ in range(sent):  # a new connection each: the workers share them out
            _post(f"http://127.0.0.1:{port}/graphql", token, "query WorkersCounted { viewer { role } }")

        # A worker counts a request once its answer has left, a moment after the client has it: on a
        # busy machine a scrape may come between. Then every scrape, whichever worker answers it, must
        # count all of them.
        def counted(samples: dict[str, float]) -> tuple[float, float]:
            total = sum(
                value
                for name, value in samples.items()
                if name.startswith("hub_graphql_requests_total{") and 'operation="WorkersCounted"' in name
            )
            return total, samples["hub_graphql_requests_in_flight"]

        deadline = time.monotonic() + 10
        while counted(_scrape(port)) != (sent, 0):
            assert time.monotonic() < deadline, f"counted, in flight: {counted(_scrape(port))}"
            time.sleep(0.1)
        for _ in range(10):
            samples = _scrape(port)
            assert counted(samples) == (sent, 0)
            # `hub serve` reads and writes through pools of their own, each shown, and the connections
            # of both workers are counted whichever answers
            assert samples['hub_db_pool_size{pool="reads"}'] == 2 * reads_per_worker
            assert samples['hub_db_pool_size{pool="writes"}'] == 2 * 4
            assert samples['hub_db_pool_checked_out{pool="reads"}'] >= 0
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()[-2000:]
