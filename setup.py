"""Builds the hub. Its normalizers, the costliest step of ingestion, are compiled to C with mypyc
(from their type annotations; nothing else to maintain); `HUB_COMPILE=0` builds pure Python instead.

In a working tree (`pip install -e .`) a compiled module sits beside its source and is imported in its
place: `hub.normalize` refuses one older than its source (hub/normalize/_compiled.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "hub" / "normalize"
COMPILED = ("address", "companies", "fields", "gazetteer", "home", "identifiers", "names", "records")


def ext_modules() -> list[object]:
    if os.environ.get("HUB_COMPILE", "1") == "0":
        for name in COMPILED:  # an earlier build's, which Python would import in place of the source
            for built in PACKAGE.glob(f"{name}.*.so"):
                built.unlink()
        return []
    from mypyc.build import mypycify

    # Not the project's mypy settings (their plugins need the dependencies, which the build's own
    # environment lacks): the compiler needs only these modules' annotations.
    options = ["--config-file=", "--ignore-missing-imports", "--python-version=3.11"]
    sources = [str((PACKAGE / f"{name}.py").relative_to(ROOT)) for name in COMPILED]
    return mypycify([*options, *sources], opt_level="3")


setup(ext_modules=ext_modules())
