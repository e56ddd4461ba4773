"""The normalizers run compiled, and a compiled module older than its source is refused."""

from __future__ import annotations

import importlib
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from hub.normalize._compiled import check_compiled


@pytest.mark.skipif(os.environ.get("HUB_COMPILE") == "0", reason="a pure-Python build (HUB_COMPILE=0)")
@pytest.mark.parametrize("name", ["address", "names", "records", "identifiers", "fields"])
def test_the_installed_normalizers_are_compiled(name: str) -> None:
    module = importlib.import_module(f"hub.normalize.{name}")
    assert module.__file__ is not None
    assert module.__file__.endswith(tuple(EXTENSION_SUFFIXES)), module.__file__


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A working tree's hub/normalize with address.py and its compiled module, built after it."""
    (tmp_path / ".git").mkdir()
    package = tmp_path / "hub" / "normalize"
    package.mkdir(parents=True)
    source, built = package / "address.py", package / f"address{EXTENSION_SUFFIXES[0]}"
    source.write_text("X = 1\n")
    built.write_bytes(b"")
    os.utime(source, (1_000_000, 1_000_000))
    os.utime(built, (2_000_000, 2_000_000))
    return source, built


def test_a_module_compiled_after_its_source_is_accepted(tmp_path: Path) -> None:
    source, _built = _tree(tmp_path)
    check_compiled(source.parent)


def test_a_module_compiled_before_its_source_changed_is_refused(tmp_path: Path) -> None:
    source, _built = _tree(tmp_path)
    source.write_text("X = 2\n")  # now newer than the compiled module
    with pytest.raises(ImportError, match=r"address\.py changed since it was compiled"):
        check_compiled(source.parent)


def test_an_installed_wheel_is_not_checked(tmp_path: Path) -> None:
    source, _built = _tree(tmp_path)
    (tmp_path / ".git").rmdir()
    source.write_text("X = 2\n")
    check_compiled(source.parent)
