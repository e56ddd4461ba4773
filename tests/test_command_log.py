"""One JSON line per command run on the `hub.command` log, for an operator's log collector: what ran,
with which options, how it ended and its figures; never an argument's value or a personal value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import command_line

ID_NUMBER = "320581199001011234"
PHONE = "13912345678"


def _records(folder: Path) -> Path:
    path = folder / "people-张三.jsonl"
    rows = [
        {"key": "p-1", "name": "张三", "id_number": ID_NUMBER, "phone": PHONE},
        {"key": "p-2", "name": "李四", "id_number": "320581198506061111"},
        {"name": "no key"},  # quarantined
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,  # standard error is no terminal, as under cron or systemd
        text=True,
        env={**os.environ, "HUB_DATABASE_URL": database_url, "HUB_COMMAND_LOG": "auto", **env},
        timeout=120,
    )


def _command_lines(stderr: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "hub.command"]


def test_an_ingest_leaves_one_line_with_its_figures_and_nothing_personal(
    database_url: str, tmp_path: Path
) -> None:
    path = _records(tmp_path)
    done = _run(database_url, "ingest", str(path), "--source", "household", "--kind=person", "-q")
    assert done.returncode == 0, done.stderr
    [line] = _command_lines(done.stderr)
    assert line["command"] == "ingest" and line["exit_code"] == 0 and line["level"] == "INFO"
    assert line["options"] == ["--kind", "--source", "-q"]
    assert (line["read"], line["new"], line["quarantined"]) == (3, 2, 1)
    assert line["source"] == "household" and line["kind"] == "person"
    assert isinstance(line["seconds"], float) and line["time"] and line["pid"]
    text = json.dumps(line, ensure_ascii=False)
    for secret in (ID_NUMBER, PHONE, "张三", str(tmp_path)):
        assert secret not in text


def test_a_failed_command_is_logged_with_its_exit_code(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'hub.db'}"
    done = _run(missing, "clients", "list")
    assert done.returncode == 2
    [line] = _command_lines(done.stderr)
    assert (line["command"], line["exit_code"], line["level"]) == ("clients list", 2, "ERROR")
    assert line["message"] == "command failed"


def test_the_log_goes_to_a_file_or_nowhere_as_configured(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "commands.jsonl"
    for _ in range(2):
        done = _run(database_url, "clients", "list", HUB_COMMAND_LOG=str(log))
        assert done.returncode == 0 and not _command_lines(done.stderr)
    assert [json.loads(line)["command"] for line in log.read_text().splitlines()] == ["clients list"] * 2
    quiet = _run(database_url, "clients", "list", HUB_COMMAND_LOG="off")
    assert quiet.returncode == 0 and not _command_lines(quiet.stderr)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["db", "backup", "city.db", "--force"], ("db backup", ["--force"])),
        (["ingest", "张三.csv", "--source=tax", "-k", "person"], ("ingest", ["--source", "-k"])),
        (["export", "entities", "--limit", "-5"], ("export entities", ["--limit"])),
        (["nonsense", "--help"], ("", ["--help"])),
    ],
)
def test_a_command_line_is_named_by_its_words_and_option_names(
    args: list[str], expected: tuple[str, list[str]]
) -> None:
    assert command_line(args) == expected


def test_a_command_log_that_cannot_be_written_leaves_the_exit_code_alone(
    database_url: str, tmp_path: Path
) -> None:
    """The command's work is done by the time its line is written: a log path that cannot be opened
    (a missing directory, a read-only system) must not turn a good run into a failed one."""
    target = tmp_path / "missing" / "commands.jsonl"
    done = _run(database_url, "clients", "list", HUB_COMMAND_LOG=str(target))
    assert done.returncode == 0, done.stderr
    assert f"cannot append to HUB_COMMAND_LOG={target}" in done.stderr
    assert "Traceback" not in done.stderr
    [line] = _command_lines(done.stderr)
    assert line["command"] == "clients list" and line["exit_code"] == 0


def test_a_resolution_leaves_its_figures_per_night(database_url: str, tmp_path: Path) -> None:
    """What an operator charts per night: the records resolved, the entities, the review queue's
    growth and the links, beside the seconds."""
    path = _records(tmp_path)
    assert _run(database_url, "ingest", str(path), "--source", "household", "--kind=person").returncode == 0
    done = _run(database_url, "resolve")
    assert done.returncode == 0, done.stderr
    [line] = _command_lines(done.stderr)
    assert line["command"] == "resolve" and "person" in str(line["kinds"]).split(",")
    assert (line["records"], line["entities"]) == (2, 2)
    assert isinstance(line["entities_new"], int) and isinstance(line["entities_retired"], int)
    assert str(line["time"]) > "2000"  # the record's own time, not overwritten by a figure
    assert line["review_items"] == 0 and line["links"] == 0
    assert isinstance(line["resolve_seconds"], float)
