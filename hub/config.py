"""Settings read from `HUB_*` environment variables, resolved once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_DATABASE_FILE", "DEFAULT_INGEST_BATCH", "Settings", "get_settings"]

DEFAULT_DATABASE_FILE = "hub.db"
DEFAULT_INGEST_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Settings:
    """What the hub reads from the environment.

    `HUB_DATABASE_URL`: a SQLAlchemy URL; default a SQLite file `hub.db` in the working directory.
    `HUB_INGEST_BATCH`: records per database round trip during ingestion.
    """

    database_url: str
    ingest_batch: int = DEFAULT_INGEST_BATCH

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("HUB_DATABASE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"
        return cls(database_url=url, ingest_batch=int(env.get("HUB_INGEST_BATCH", DEFAULT_INGEST_BATCH)))


def get_settings() -> Settings:
    """Return the settings of the current environment (read anew on every call; cheap)."""
    return Settings.from_env()
