"""`hub serve` refuses at once, in one line, what would stop it only after it said where it listens, and
a stop by SIGTERM (systemd's) ends as one by Ctrl+C does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_serve import _free_port, _get, _post, _scrape, _wait_healthy

from hub.console.session import check_console_key
from hub.errors import InputError


def _hub(database_url: str, cwd: Path, *args: str, **env: str) -> tuple[int | None, str, str]:
    """Run `hub ARGS` in `cwd` to its end: (exit code, stdout, stderr); the code is None when it still
    ran after 30 seconds (a server that started: it and its workers are killed)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "HUB_DATABASE_URL": database_url, "HUB_COMMAND_LOG": "off", **env},
        start_new_session=True,  # a process group of its own, its workers with it
    )
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return None, out, err
    return process.returncode, out, err


def _refused(result: tuple[int | None, str, str], *words: str) -> None:
    """The start was refused as an operator needs it: exit 2, nothing said to listen, one line on
    standard error, `error: …` with `words`."""
    code, out, err = result
    assert code == 2, (code, out, err[-3000:])
    assert "listening on" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "65536", "--workers", "2"],
        ["serve", "--port", "0"],
        ["demo", "--no-serve", "--persons", "5", "--port", "70000"],
    ],
)
def test_a_port_out_of_range_is_a_usage_error(database_url: str, tmp_path: Path, args: list[str]) -> None:
    code, out, err = _hub(database_url, tmp_path, *args)
    assert code == 2, (code, out, err[-3000:])
    assert "Invalid value for '--port'" in err
    assert "listening on" not in out and not (tmp_path / "demo-city").exists()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_line_before_the_start_lines(
    database_url: str, tmp_path: Path, taken_port: int, workers: str
) -> None:
    result = _hub(database_url, tmp_path, "serve", "--port", str(taken_port), "--workers", workers)
    _refused(result, f"cannot listen on 127.0.0.1:{taken_port}: ", "in use")


def test_the_demo_says_its_port_is_in_use_before_loading_a_city(
    database_url: str, tmp_path: Path, taken_port: int
) -> None:
    result = _hub(database_url, tmp_path, "demo", "--persons", "5", "--port", str(taken_port))
    _refused(result, f"cannot listen on 127.0.0.1:{taken_port}: ")
    assert not (tmp_path / "demo-city").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_address_not_of_this_machine_is_one_line(database_url: str, tmp_path: Path, workers: str) -> None:
    # 192.0.2.1 is TEST-NET-1, kept for documentation: no machine has it.
    result = _hub(database_url, tmp_path, "serve", "--host", "192.0.2.1", "--workers", workers)
    _refused(result, "cannot listen on 192.0.2.1:8000: ")


@pytest.mark.parametrize("variable", ["HUB_CONSOLE_KEY_FILE", "HUB_ACCESS_LOG_KEY_FILE"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_key_file_that_cannot_be_read_stops_the_start(
    database_url: str, tmp_path: Path, workers: str, variable: str
) -> None:
    """Each worker reads the keys as it starts: a bad file would kill them in a loop the parent
    survives, a service that looks up and answers nothing."""
    missing = tmp_path / "some.key"
    port = str(_free_port())
    result = _hub(
        database_url, tmp_path, "serve", "--port", port, "--workers", workers, **{variable: str(missing)}
    )
    _refused(result, variable, str(missing), "cannot be read")


def test_the_console_key_is_checked_as_the_server_processes_read_it(tmp_path: Path) -> None:
    check_console_key(None)  # a random key per process
    key = tmp_path / "console.key"
    key.write_bytes(os.urandom(32))
    check_console_key(str(key))
    key.write_bytes(b"short")
    with pytest.raises(InputError, match="at least 16"):
        check_console_key(str(key))
    with pytest.raises(InputError, match="cannot be read"):
        check_console_key(str(tmp_path))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_metrics_directory_that_cannot_be_made_stops_the_start(
    database_url: str, tmp_path: Path, workers: str
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    directory = tmp_path / "a-file" / "metrics"  # not even root can make it
    port = str(_free_port())
    result = _hub(
        database_url,
        tmp_path,
        "serve",
        "--port",
        port,
        "--workers",
        workers,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    _refused(result, "PROMETHEUS_MULTIPROC_DIR", str(directory))


def _counted(port: int) -> float:
    samples = _scrape(port)
    return sum(
        value
        for name, value in samples.items()
        if name.startswith("hub_graphql_requests_total{") and 'operation="StartsAtZero"' in name
    )


def test_a_metrics_directory_given_to_one_worker_is_made_and_emptied(
    database_url: str, tmp_path: Path
) -> None:
    """The docs: the directory is emptied at start and the counts start at zero, with one worker too;
    one that does not exist yet is made."""
    from sqlalchemy.orm import Session

    from hub.clients import add_client
    from hub.store.database import make_engine

    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        token = add_client(session, "one-worker-metrics", "reader")
    engine.dispose()
    directory = tmp_path / "run" / "metrics"
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for run, sent in enumerate((3, 0)):
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            _wait_healthy(port, server)
            for _ in range(sent):
                _post(f"http://127.0.0.1:{port}/graphql", token, "query StartsAtZero { viewer { role } }")
            assert _counted(port) == sent, f"run {run + 1}"
        finally:
            server.send_signal(signal.SIGINT)
            _, errors = server.communicate(timeout=30)
        assert server.returncode == 0, errors.decode()[-2000:]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_the_server_with_exit_0_and_its_command_line(
    database_url: str, tmp_path: Path, workers: str
) -> None:
    key = tmp_path / "console.key"
    key.write_bytes(os.urandom(32))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port), "--workers", workers],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "HUB_DATABASE_URL": database_url,
            "HUB_COMMAND_LOG": "auto",  # standard error is no terminal: the line goes there
            "HUB_CONSOLE_KEY_FILE": str(key),
        },
        start_new_session=True,
    )
    try:
        _wait_healthy(port, server)
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()
    assert server.returncode == 0, err[-3000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert "Application shutdown complete." in messages  # the graceful stop ran before the exit
    (finished,) = [line for line in lines if line["logger"] == "hub.command"]
    assert finished["message"] == "command finished" and finished["command"] == "serve"
    assert finished["exit_code"] == 0
    with pytest.raises((urllib.error.URLError, ConnectionError)):  # no worker left answering
        _get(f"http://127.0.0.1:{port}/health")
