"""Several processes starting at once on an empty database (a service's replicas, a cron job and a
server) each find no schema and create it: they take turns, and every one of them starts."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Engine, inspect

from hub.store.migrations import current_revision, head_revision

# What `open_engine` does on an empty database: read the revision (none yet), then create the schema.
START = """
import sys

from hub.store.database import make_engine
from hub.store.migrations import current_revision, upgrade

engine = make_engine(sys.argv[1])
assert current_revision(engine) is None
print("ready", flush=True)
sys.stdin.readline()  # all together, once every process has read the revision
upgrade(engine)
engine.dispose()
"""


def test_processes_creating_the_schema_at_once_all_succeed(blank_engine: Engine) -> None:
    url = blank_engine.url.render_as_string(hide_password=False)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", START, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    failures = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        if process.returncode != 0:
            failures.append(err)
    assert failures == []
    assert current_revision(blank_engine) == head_revision()
    assert "audit_event" in inspect(blank_engine).get_table_names()
