"""Settings read from `HUB_*` environment variables, parsed once for each set of their values.

They may also come from a file: `HUB_CONFIG_FILE` names a TOML file whose keys are the variables'
names without `HUB_`, in lower case (`database_url = "..."`, `api_concurrency = 16`, `metrics_allow
= ["127.0.0.1", "10.0.0.0/8"]`). `apply_config_file`, called as each process starts (the command
line, the web app), sets each of them that the environment does not set already: the environment
wins, and processes started later (the server's workers) inherit them.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hub.errors import InputError

__all__ = [
    "CONFIG_FILE_VARIABLE",
    "DEFAULT_API_CONCURRENCY",
    "DEFAULT_API_LIMITS",
    "DEFAULT_DATABASE_FILE",
    "DEFAULT_INGEST_BATCH",
    "DEFAULT_INGEST_COMMIT",
    "DEFAULT_METRICS_ALLOW",
    "DEFAULT_PURPOSES",
    "VARIABLES",
    "ApiLimits",
    "Settings",
    "apply_config_file",
    "default_ingest_workers",
    "default_resolve_workers",
    "get_settings",
]

DEFAULT_DATABASE_FILE = "hub.db"
DEFAULT_INGEST_BATCH = 5000
DEFAULT_INGEST_COMMIT = 50_000
DEFAULT_API_CONCURRENCY = 16
DEFAULT_API_LIMITS: dict[str, float] = {
    "HUB_API_MAX_BODY": 1024 * 1024,
    "HUB_API_BODY_TIMEOUT": 10.0,
    "HUB_API_MAX_QUERY": 64 * 1024,
    "HUB_API_MAX_STRING": 4096,
    "HUB_API_MAX_SEARCH": 200,
    "HUB_API_MAX_REPRESENTATIONS": 1000,
    "HUB_API_MAX_EXPANDED": 5000,
    "HUB_API_RATE": 200.0,
    "HUB_API_BURST": 400,
    "HUB_API_CLIENT_CONCURRENCY": 8,
    "HUB_API_QUEUE_WAIT": 2.0,
}
DEFAULT_EDIT_LOCK_WAIT = 5.0
DEFAULT_PII_LOOKUP_RATE = 0.5
DEFAULT_PII_LOOKUP_BURST = 10
# Who may read `/metrics` without a token: the server itself.
DEFAULT_METRICS_ALLOW = ("127.0.0.1", "::1")
# The purposes a client may give for an operation (`X-Purpose`), as codes.
DEFAULT_PURPOSES = ("service", "case", "statistics", "audit", "maintenance")


# Every setting the hub reads (docs/operations.md describes each), here or where it is used.
VARIABLES = frozenset(
    {
        "HUB_DATABASE_URL", "HUB_INGEST_BATCH", "HUB_INGEST_COMMIT", "HUB_INGEST_WORKERS",
        "HUB_RESOLVE_WORKERS", "HUB_API_CONCURRENCY", *DEFAULT_API_LIMITS, "HUB_EDIT_LOCK_WAIT",
        "HUB_PII_LOOKUP_RATE", "HUB_PII_LOOKUP_BURST", "HUB_PURPOSES", "HUB_ACCESS_LOG_KEY_FILE",
        "HUB_CONSOLE_KEY_FILE", "HUB_AUDIT_KEY_FILE", "HUB_METRICS_ALLOW", "HUB_OTLP_ENDPOINT",
        "HUB_COMMAND_LOG", "HUB_ACTOR", "HUB_HOME_CITY",
    }
)  # fmt: skip
CONFIG_FILE_VARIABLE = "HUB_CONFIG_FILE"


def apply_config_file(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set the settings of the file `HUB_CONFIG_FILE` names (if any) that `environ` (default: this
    process's environment) does not set, or sets empty; the names set. BAD_INPUT naming the file and
    the problem when it cannot be read, is not TOML, or holds a key or a value the hub does not know
    or cannot use."""
    env = os.environ if environ is None else environ
    path = env.get(CONFIG_FILE_VARIABLE, "").strip()
    if not path:
        return []
    try:
        with open(path, "rb") as file:
            table = tomllib.load(file)
    except OSError as exc:
        raise InputError(f"{CONFIG_FILE_VARIABLE}={path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{CONFIG_FILE_VARIABLE}={path}: not TOML ({exc})") from None
    values: dict[str, str] = {}
    for key, value in table.items():
        name = f"HUB_{key.upper()}"
        if name not in VARIABLES or key != key.lower():
            known = ", ".join(sorted(v.removeprefix("HUB_").lower() for v in VARIABLES))
            raise InputError(f"{path}: unknown setting {key!r}; the settings are {known}")
        values[name] = _config_text(path, key, value)
    # A variable set empty is unset, as Settings.from_env reads it: the file's value applies.
    applied = [name for name in sorted(values) if not env.get(name, "").strip()]
    try:
        Settings.from_env({**{k: v for k, v in env.items() if k.startswith("HUB_")}, **values})
    except InputError as exc:  # a value of the file's that the hub cannot use: name the file
        if any(name in str(exc) for name in values):
            raise InputError(f"{path}: {exc}") from None
    for name in applied:
        env[name] = values[name]
    return applied


def _config_text(path: str, key: str, value: object) -> str:
    """A file's value as the variable's text: lists (of addresses, purposes) joined with commas."""
    if isinstance(value, bool):
        raise InputError(f"{path}: {key} = {value!r}: expected text or a number")
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ",".join(str(v) for v in value)
    raise InputError(f"{path}: {key}: expected text, a number or a list of them")


def default_ingest_workers() -> int:
    """One normalizing process per core beyond the one that writes, at most four; none on one core."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def default_resolve_workers() -> int:
    """Processes that resolve kinds side by side while the database writes: two on two cores or more."""
    return 2 if (os.cpu_count() or 1) >= 2 else 0


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """What one request and one client may ask of a GraphQL server process, so none stalls the others.

    `HUB_API_MAX_BODY`: bytes of a request body (413 above). `HUB_API_BODY_TIMEOUT`: seconds to
    receive it (408 after). `HUB_API_MAX_QUERY`: characters of a query text (TOO_LARGE above).
    `HUB_API_MAX_STRING`: characters of any string argument or variable; `HUB_API_MAX_SEARCH`: of
    the arguments of searches, lookups by key and `match` (BAD_INPUT above). `HUB_API_MAX_REPRESENTATIONS`:
    references one `_entities` call resolves (TOO_LARGE above). `HUB_API_MAX_EXPANDED`: selections a
    query holds with every fragment spread expanded (QUERY_TOO_COMPLEX above). `HUB_API_RATE` and
    `HUB_API_BURST`: operations per second one client may send on average and at once (429
    RATE_LIMITED above; rate 0 for no limit). `HUB_API_CLIENT_CONCURRENCY`: operations of one client
    that run at once (0: as many as `HUB_API_CONCURRENCY`); more wait up to `HUB_API_QUEUE_WAIT`
    seconds for their turn, then answer 429 BUSY.
    """

    max_body: int
    body_timeout: float
    max_query: int
    max_string: int
    max_search: int
    max_representations: int
    max_expanded: int
    rate: float
    burst: int
    client_concurrency: int
    queue_wait: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiLimits:
        d = DEFAULT_API_LIMITS

        def count(name: str, least: int = 1) -> int:
            return _count(env, name, int(d[name]), least=least)

        def seconds(name: str, least: float = 0.0) -> float:
            return _seconds(env, name, d[name], least=least)

        return cls(
            max_body=count("HUB_API_MAX_BODY"),
            body_timeout=seconds("HUB_API_BODY_TIMEOUT", 0.1),
            max_query=count("HUB_API_MAX_QUERY"),
            max_string=count("HUB_API_MAX_STRING"),
            max_search=count("HUB_API_MAX_SEARCH"),
            max_representations=count("HUB_API_MAX_REPRESENTATIONS"),
            max_expanded=count("HUB_API_MAX_EXPANDED"),
            rate=seconds("HUB_API_RATE"),
            burst=count("HUB_API_BURST"),
            client_concurrency=count("HUB_API_CLIENT_CONCURRENCY", 0),
            queue_wait=seconds("HUB_API_QUEUE_WAIT"),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """What the hub reads from the environment.

    `HUB_DATABASE_URL`: a SQLAlchemy URL; default a SQLite file `hub.db` in the working directory.
    `HUB_INGEST_BATCH`: records per database round trip during ingestion.
    `HUB_INGEST_COMMIT`: records per commit during ingestion, in whole batches (and at each file's end).
    `HUB_INGEST_WORKERS`: processes that normalize large files while the database writes; 0 for none.
    `HUB_RESOLVE_WORKERS`: processes that load and resolve kinds side by side in `hub resolve` while
    the database stores the kinds already done; 0 resolves one kind after another in one process.
    `HUB_API_CONCURRENCY`: GraphQL operations one server process runs at once (each holds a database
    connection); more wait their turn.
    `ApiLimits`: what one request and one client may ask of a server process (see there).
    `HUB_EDIT_LOCK_WAIT`: seconds a steward's edit waits for a lock another edit holds before it
    answers BUSY (nothing changed; retry).
    `HUB_PII_LOOKUP_RATE` and `HUB_PII_LOOKUP_BURST`: lookups and searches by a personal identifier
    (ID number, phone, birth date) one client may make per second on average and at once.
    `HUB_PURPOSES`: the purpose codes a client may send in `X-Purpose`, comma-separated (default
    service,case,statistics,audit,maintenance); the access log keeps the code.
    `HUB_ACCESS_LOG_KEY_FILE`: a file of random bytes; the access log keeps personal values as
    HMAC-SHA256 digests under it (plain SHA-256 without it).
    `HUB_CONSOLE_KEY_FILE`: a file of random bytes that signs the console's session cookies; give it
    when several server processes serve the console (without it each process signs with a random key
    of its own, and sessions end when the server restarts).
    `HUB_METRICS_ALLOW`: the addresses and networks (`10.0.0.0/8`) that read `/metrics` without a
    token, comma-separated (default 127.0.0.1,::1); others need the token of an `ops` client.
    `HUB_HOME_CITY`: a TOML file naming the home county and its towns with their other and former
    names, for the address parser (`hub.normalize.home`, which reads it; default Changshu).
    """

    database_url: str
    ingest_batch: int = DEFAULT_INGEST_BATCH
    ingest_commit: int = DEFAULT_INGEST_COMMIT
    ingest_workers: int = 0
    resolve_workers: int = 0
    api_concurrency: int = DEFAULT_API_CONCURRENCY
    api_limits: ApiLimits = field(default_factory=lambda: ApiLimits.from_env({}))
    edit_lock_wait: float = DEFAULT_EDIT_LOCK_WAIT
    pii_lookup_rate: float = DEFAULT_PII_LOOKUP_RATE
    pii_lookup_burst: int = DEFAULT_PII_LOOKUP_BURST
    purposes: tuple[str, ...] = DEFAULT_PURPOSES
    access_log_key_file: str | None = None
    console_key_file: str | None = None
    metrics_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default_factory=lambda: _networks({}, "HUB_METRICS_ALLOW", DEFAULT_METRICS_ALLOW)
    )
    otlp_endpoint: str | None = None  # traces go there (OTLP over HTTP) when set

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("HUB_DATABASE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_DATABASE_FILE}"
        return cls(
            database_url=url,
            ingest_batch=_count(env, "HUB_INGEST_BATCH", DEFAULT_INGEST_BATCH, least=1),
            ingest_commit=_count(env, "HUB_INGEST_COMMIT", DEFAULT_INGEST_COMMIT, least=1),
            ingest_workers=_count(env, "HUB_INGEST_WORKERS", default_ingest_workers(), least=0),
            resolve_workers=_count(env, "HUB_RESOLVE_WORKERS", default_resolve_workers(), least=0),
            api_concurrency=_count(env, "HUB_API_CONCURRENCY", DEFAULT_API_CONCURRENCY, least=1),
            api_limits=ApiLimits.from_env(env),
            edit_lock_wait=_seconds(env, "HUB_EDIT_LOCK_WAIT", DEFAULT_EDIT_LOCK_WAIT),
            pii_lookup_rate=_seconds(env, "HUB_PII_LOOKUP_RATE", DEFAULT_PII_LOOKUP_RATE),
            pii_lookup_burst=_count(env, "HUB_PII_LOOKUP_BURST", DEFAULT_PII_LOOKUP_BURST, least=1),
            purposes=_codes(env, "HUB_PURPOSES", DEFAULT_PURPOSES),
            access_log_key_file=env.get("HUB_ACCESS_LOG_KEY_FILE", "").strip() or None,
            console_key_file=env.get("HUB_CONSOLE_KEY_FILE", "").strip() or None,
            metrics_allow=_networks(env, "HUB_METRICS_ALLOW", DEFAULT_METRICS_ALLOW),
            otlp_endpoint=env.get("HUB_OTLP_ENDPOINT", "").strip() or None,
        )


def _count(env: Mapping[str, str], name: str, default: int, *, least: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    # ASCII digits only: `isdigit` also takes "²" and "١", which int() then refuses or reads otherwise.
    if not (raw.isascii() and raw.isdigit()) or int(raw) < least:
        raise InputError(f"{name}={raw!r}: expected a whole number of at least {least}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float, *, least: float = 0.001) -> float:
    """A number of seconds (or a rate) from `least` to 3600."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not least <= value <= 3600:
        raise InputError(f"{name}={raw!r}: expected a number from {least:g} to 3600")
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


def _networks(
    env: Mapping[str, str], name: str, default: tuple[str, ...]
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or networks; an empty value allows none."""
    raw = env.get(name)
    parts = default if raw is None else tuple(p.strip() for p in raw.split(",") if p.strip())
    networks = []
    for part in parts:
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InputError(
                f"{name}={raw!r}: {part!r} is not an address or a network; give e.g. 127.0.0.1,10.0.0.0/8"
            ) from None
    return tuple(networks)


def get_settings() -> Settings:
    """Return the settings of the current environment: parsed once for each set of `HUB_*` values, so
    a request may ask for them freely, and a changed variable is seen at the next call."""
    hub_variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("HUB_")))
    return _settings_of(hub_variables, os.getcwd())  # the default database lives in the working directory


@lru_cache(maxsize=16)
def _settings_of(hub_variables: tuple[tuple[str, str], ...], _cwd: str) -> Settings:
    return Settings.from_env(dict(hub_variables))
