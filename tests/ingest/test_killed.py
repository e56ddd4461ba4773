"""`kill -9` of `hub ingest` leaves no process behind: its normalizing workers follow it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# It asserts how soon the workers are gone: run alone, not beside other tests (scripts/check).
pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)"),
    pytest.mark.timed,
]


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a live process, None when it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = text[text.rindex(")") + 2 :].split()[:2]
    return None if state in "ZX" else (int(parent), state)


def descendants(root: int) -> set[int]:
    """Every live process below `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def big_file(path: Path, records: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            record = {
                "key": f"p{i}",
                "name": f"王{chr(0x4E00 + i % 20000)}{chr(0x4E00 + i // 7 % 20000)}",
                "id_number": f"3205811985{i % 10000:04d}123X",
                "phone": f"139{i:08d}",
                "address": f"江苏省苏州市常熟市虞山街道海虞北路{i % 997}号{i % 31}幢{i % 5}单元{i % 1201}室",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def test_kill_9_of_ingest_takes_its_workers_along(database_url: str, tmp_path: Path) -> None:
    path = big_file(tmp_path / "persons.jsonl", 200_000)
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_INGEST_WORKERS": "2"}
    command = [sys.executable, "-m", "hub", "ingest", str(path), "--source", "grid_collection"]
    ingest = subprocess.Popen(
        [*command, "--kind", "person", "--quiet"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    below: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(below) < 3:  # two workers and the resource tracker
            assert ingest.poll() is None, "ingest ended before its workers started; make the file larger"
            assert time.monotonic() < deadline, f"no workers started: {below}"
            time.sleep(0.1)
            below = descendants(ingest.pid)
        time.sleep(1.0)  # normalizing by now
        assert ingest.poll() is None
        below = descendants(ingest.pid)
        os.kill(ingest.pid, signal.SIGKILL)
        ingest.wait()
        deadline = time.monotonic() + 5
        while (alive := {pid for pid in below if _stat(pid) is not None}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"left running after kill -9 of ingest: {sorted(alive)}"
    finally:  # whatever this test started and is still there, so that a failure leaves nothing behind
        for pid in below | descendants(ingest.pid) | ({ingest.pid} if ingest.poll() is None else set()):
            if _stat(pid) is not None:
                os.kill(pid, signal.SIGKILL)
        ingest.wait()
