"""What commands and processes import: `hub clients` no GraphQL, a normalizing process no database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECK = """
import sys

import hub.cli.clients
from hub.cli import main

assert "strawberry" not in sys.modules

sys.argv = ["hub", "clients", "list"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted(name for name in ("strawberry", "starlette", "uvicorn") if name in sys.modules)
assert not loaded, loaded
"""


def test_clients_commands_do_not_import_strawberry(tmp_path: Path) -> None:
    env = os.environ | {"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_ACTOR": "test"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("name")


NORMALIZING = """
import sys

from hub.domain import Kind
from hub.ingest.prepare import normalize_payloads

assert normalize_payloads(Kind.PERSON, ['{"key": "p1", "name": "王伟", "address": "人民路100号"}'.encode()])
loaded = sorted(name for name in ("sqlalchemy", "pyarrow", "numpy", "strawberry") if name in sys.modules)
assert not loaded, loaded
"""


def test_a_normalizing_process_loads_no_database_or_arrow_code(tmp_path: Path) -> None:
    """What each ingest worker imports: its start is on the load's critical path."""
    done = subprocess.run(
        [sys.executable, "-c", NORMALIZING], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_name_the_ingest_package_offers_is_there() -> None:
    import hub.ingest

    for name in hub.ingest.__all__:
        assert getattr(hub.ingest, name) is not None, name
