"""The `hub clients` commands load no GraphQL: they stay fast and work without the API's stack."""

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
