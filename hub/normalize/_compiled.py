"""In a working tree, a compiled normalizer must be newer than the source beside it.

An editable install (`pip install -e .`) compiles these modules in place (setup.py), and Python imports
`address.cpython-311-….so` in place of `address.py`. After an edit or a checkout the compiled module
would run the old code without a word; this refuses it instead, naming the command that rebuilds it.
An installed wheel is not a working tree and is not checked.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

__all__ = ["check_compiled"]

_HERE = Path(__file__).resolve().parent


def check_compiled(directory: Path = _HERE) -> None:
    """Raise ImportError naming the module if a compiled module in `directory` is older than its source."""
    if not (directory.parents[1] / ".git").exists():
        return
    for suffix in EXTENSION_SUFFIXES:
        for built in directory.glob(f"*{suffix}"):
            source = directory / (built.name.removesuffix(suffix) + ".py")
            if source.exists() and source.stat().st_mtime > built.stat().st_mtime:
                raise ImportError(
                    f"hub/normalize/{source.name} changed since it was compiled: rebuild with"
                    " `pip install -e .` (scripts/check and scripts/demo do so themselves), or build"
                    " pure Python with `HUB_COMPILE=0 pip install -e .`"
                )


check_compiled()
