"""A load's manifest: the JSON file that lists a night's source files, for `hub load`.

    {"files": [{"path": "household_registry_person.jsonl", "source": "household_registry",
                "kind": "person", "encoding": "utf-8"}, ...]}

`path` is relative to the manifest's folder (or absolute); `encoding` may be left out (detected).
Other keys are ignored, so the manifest.json that `hub generate` writes beside a city is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from hub.domain import Kind, parse_kind
from hub.errors import InputError
from hub.ingest.service import LoadFile

__all__ = ["read_manifest"]

_EXAMPLE = '{"files": [{"path": "people.jsonl", "source": "household_registry", "kind": "person"}]}'


def read_manifest(path: Path) -> list[LoadFile]:
    """The files `path` lists, in its order; InputError names the entry and what is wrong with it."""
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"manifest {path} does not exist") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"manifest {path} is not JSON: {exc}") from None
    entries = document.get("files") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputError(
            f"manifest {path}: expected an object with a non-empty list 'files', e.g. {_EXAMPLE}"
        )
    files = [_entry(path, number, entry) for number, entry in enumerate(entries, 1)]
    seen: dict[tuple[Path, str, Kind], int] = {}
    for number, f in enumerate(files, 1):
        first = seen.setdefault((f.path.resolve(), f.source, f.kind), number)
        if first != number:
            raise InputError(
                f"manifest {path}: files {first} and {number} are the same file for the same source and kind"
            )
    return files


def _entry(manifest: Path, number: int, entry: Any) -> LoadFile:
    where = f"manifest {manifest}, file {number}"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected an object with path, source and kind, e.g. {_EXAMPLE}")
    missing = [name for name in ("path", "source", "kind") if not isinstance(entry.get(name), str)]
    if missing:
        raise InputError(f"{where}: {', '.join(missing)} missing or not text")
    try:
        kind = parse_kind(entry["kind"])
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    encoding = entry.get("encoding")
    if encoding is not None and not isinstance(encoding, str):
        raise InputError(f"{where}: encoding must be text (utf-8, gb18030 or utf-16) or left out")
    file_path = manifest.parent / entry["path"]
    if not file_path.is_file():
        raise InputError(f"{where}: {file_path} does not exist")
    return LoadFile(file_path, entry["source"], kind, encoding or None)
