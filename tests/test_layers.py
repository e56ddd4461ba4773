"""The pure core loads no database or web code (docs/architecture.md, "Layers").

`lint-imports` checks the imports as written; this checks what importing each pure module really
loads, in a fresh interpreter, so that an import hidden from the static check (a dynamic one, or a
third-party package pulling in SQLAlchemy) is caught too.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import hub

ROOT = Path(hub.__file__).parent.parent


def _pure_contract() -> dict[str, Any]:
    """The "pure" contract of pyproject.toml: the one list of pure modules and forbidden packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["id"] == "pure")


PURE = _pure_contract()
FORBIDDEN: list[str] = PURE["forbidden_modules"]


def modules_under(name: str) -> list[str]:
    """`name`, and every module in it when it is a package."""
    path = Path(hub.__file__).parent.joinpath(*name.split(".")[1:])
    if not path.is_dir():
        return [name]
    return [name] + [f"{name}.{info.name}" for info in pkgutil.iter_modules([str(path)])]


def pure_modules() -> list[str]:
    return [module for name in PURE["source_modules"] for module in modules_under(name)]


CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
forbidden = set(sys.argv[2:])
print(sorted({name.split(".")[0] for name in sys.modules} & forbidden))
"""


@pytest.mark.parametrize("module", pure_modules())
def test_a_pure_module_loads_no_database_or_web_code(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, module, *FORBIDDEN], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing {module} loaded {done.stdout.strip()}"


def test_the_contract_names_the_pure_core() -> None:
    # A typo in the contract would check nothing; these must stay pure whatever else moves.
    assert {"hub.domain", "hub.normalize", "hub.errors", "hub.resolve.engine"} <= set(pure_modules())
    assert {"sqlalchemy", "starlette", "strawberry"} <= set(FORBIDDEN)
