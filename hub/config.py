"""Settings read from `HUB_*` environment variables, resolved once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.errors import InputError

__all__ = [
    "DEFAULT_API_CONCURRENCY",
    "DEFAULT_DATABASE_FILE",
    "DEFAULT_INGEST_BATCH",
    "DEFAULT_PURPOSES",
    "Settings",
    "default_ingest_workers",
    "default_resolve_workers",
    "get_settings",
]

DEFAULT_DATABASE_FILE = "hub.db"
DEFAULT_INGEST_BATCH = 5000
DEFAULT_API_CONCURRENCY = 16
# The purposes a client may give for an operation (`X-Purpose`), as codes.
DEFAULT_PURPOSES = ("service", "case", "statistics", "audit", "maintenance")
DEFAULT_EDIT_LOCK_WAIT = 5.0
DEFAULT_PII_LOOKUP_RATE = 0.5
DEFAULT_PII_LOOKUP_BURST = 10


def default_ingest_workers() -> int:
    """One normalizing process per core beyond the one that writes, at most four; none on one core."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def default_resolve_workers() -> int:
    """Processes that resolve kinds side by side while the database writes: two on two cores or more."""
    return 2 if (os.cpu_count() or 1) >= 2 else 0


@dataclass(frozen=True, slots=True)
class Settings:
    """What the hub reads from the environment.

    `HUB_DATABASE_URL`: a SQLAlchemy URL; default a SQLite file `hub.db` in the working directory.
    `HUB_INGEST_BATCH`: records per database round trip during ingestion.
    `HUB_INGEST_WORKERS`: processes that normalize large files while the database writes; 0 for none.
    `HUB_RESOLVE_WORKERS`: processes that load and resolve kinds side by side in `hub resolve` while
    the database stores the kinds already done; 0 resolves one kind after another in one process.
    `HUB_API_CONCURRENCY`: GraphQL operations one server process runs at once (each holds a database
    connection); more wait their turn.
    `HUB_EDIT_LOCK_WAIT`: seconds a steward's edit waits for a lock another edit holds before it
    answers BUSY (nothing changed; retry).
    `HUB_PII_LOOKUP_RATE` and `HUB_PII_LOOKUP_BURST`: lookups and searches by a personal identifier
    (ID number, phone, birth date) one client may make per second on average and at once.
    `HUB_PURPOSES`: the purpose codes a client may send in `X-Purpose`, comma-separated (default
    service,case,statistics,audit,maintenance); the access log keeps the code.
    `HUB_ACCESS_LOG_KEY_FILE`: a file of random bytes; the access log keeps personal values as
    HMAC-SHA256 digests under it (plain SHA-256 without it).
    """

    database_url: str
    ingest_batch: int = DEFAULT_INGEST_BATCH
    ingest_workers: int = 0
    resolve_workers: int = 0
    api_concurrency: int = DEFAULT_API_CONCURRENCY
    edit_lock_wait: float = DEFAULT_EDIT_LOCK_WAIT
    pii_lookup_rate: float = DEFAULT_PII_LOOKUP_RATE
    pii_lookup_burst: int = DEFAULT_PII_LOOKUP_BURST
    purposes: tuple[str, ...] = DEFAULT_PURPOSES
    access_log_key_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("HUB_DATABASE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"
        return cls(
            database_url=url,
            ingest_batch=_count(env, "HUB_INGEST_BATCH", DEFAULT_INGEST_BATCH, least=1),
            ingest_workers=_count(env, "HUB_INGEST_WORKERS", default_ingest_workers(), least=0),
            resolve_workers=_count(env, "HUB_RESOLVE_WORKERS", default_resolve_workers(), least=0),
            api_concurrency=_count(env, "HUB_API_CONCURRENCY", DEFAULT_API_CONCURRENCY, least=1),
            edit_lock_wait=_seconds(env, "HUB_EDIT_LOCK_WAIT", DEFAULT_EDIT_LOCK_WAIT),
            pii_lookup_rate=_seconds(env, "HUB_PII_LOOKUP_RATE", DEFAULT_PII_LOOKUP_RATE),
            pii_lookup_burst=_count(env, "HUB_PII_LOOKUP_BURST", DEFAULT_PII_LOOKUP_BURST, least=1),
            purposes=_codes(env, "HUB_PURPOSES", DEFAULT_PURPOSES),
            access_log_key_file=env.get("HUB_ACCESS_LOG_KEY_FILE", "").strip() or None,
        )


def _count(env: Mapping[str, str], name: str, default: int, *, least: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < least:
        raise InputError(f"{name}={raw!r}: expected a whole number of at least {least}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InputError(f"{name}={raw!r}: expected a number more than 0 and at most 3600")
    return value


def _codes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    codes = tuple(dict.fromkeys(c.strip().lower() for c in raw.split(",") if c.strip()))
    bad = [c for c in codes if not c.replace("-", "").replace("_", "").isalnum() or len(c) > 64]
    if not codes or bad:
        raise InputError(
            f"{name}={raw!r}: expected comma-separated codes of letters, digits, - and _ (at most 64"
            f" characters each), e.g. {','.join(default)}"
        )
    return codes


def get_settings() -> Settings:
    """Return the settings of the current environment (read anew on every call; cheap)."""
    return Settings.from_env()
