"""The pure core loads no database or web code (docs/architecture.md, "Layers").

`lint-imports` checks the imports as written; this checks what importing each pure module really
loads, in a fresh interpreter, so that an import hidden from the static check (a dynamic one, or a
third-party package pulling in SQLAlchemy) is caught too.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import hub

# The database and web packages, as in the "pure" contract of pyproject.toml.
FORBIDDEN = ("sqlalchemy", "alembic", "psycopg", "starlette", "strawberry", "uvicorn")

# Pure packages: every module in them is checked.
PURE_PACKAGES = ("hub.normalize", "hub.generate")

PURE_MODULES = (
    "hub.errors",
    "hub.config",
    "hub.golden",
    "hub.privacy",
    "hub.resolve.settings",
    "hub.resolve.columns",
    "hub.resolve.blocking",
    "hub.resolve.compare",
    "hub.resolve.model",
    "hub.resolve.cluster",
    "hub.resolve.engine",
    "hub.resolve.incremental",
    "hub.resolve.kinds",
    "hub.resolve.evaluate",
)

# Known exceptions, each listed with its reason in pyproject.toml's ignore_imports too; not strict, so
# that moving the import away needs no change here (then delete the entry).
IMPURE_TODAY = {"hub.contract": "Kind, a name of the contract, is defined with the tables"}


def modules_of(package: str) -> list[str]:
    path = Path(hub.__file__).parent.joinpath(*package.split(".")[1:])
    return [package] + [f"{package}.{info.name}" for info in pkgutil.iter_modules([str(path)])]


def pure_modules() -> list[object]:
    names = [name for package in PURE_PACKAGES for name in modules_of(package)] + list(PURE_MODULES)
    params: list[object] = [pytest.param(name, id=name) for name in names]
    for name, reason in IMPURE_TODAY.items():
        params.append(pytest.param(name, id=name, marks=pytest.mark.xfail(reason=reason, strict=False)))
    return params


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
