"""API clients: who may call, in which role, seeing which kinds and whether personal data unmasked.

A service of its own, below the API (no GraphQL here), so that `hub clients` and the ASGI wrapper
share it without the CLI loading the schema.

Every request carries `Authorization: Bearer <token>` of a registered client. Tokens are random
(256 bits), shown once when the client is added and stored only as a SHA-256 hash; revoking a client
refuses its token from the next request on.

Roles: `reader` (departmental systems), `writer` (a departmental system that also submits records, for
the sources its `source:NAME` scopes name), `steward`, `auditor`, `admin`, `gateway`, which reads
the schema a federation gateway composes and nothing else, and `ops`, which reads `/metrics` and
nothing over GraphQL.

Scopes: `person`, `address`, `legal_entity` (read that kind), `pii:read` (see ID numbers, phones
and birth dates whole, and look up by them) and `pii:lookup` (look up and search by them, seeing them
masked). A client with no kind scope reads all three kinds; without `pii:read` personal fields are
masked; without either PII scope it searches by name and address only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import ForbiddenError, InputError, NotFoundError
from hub.store.models import Client, utcnow
from hub.store.sql import driver_cursor, json_value, placeholder

__all__ = [
    "KIND_SCOPES",
    "OPS_ROLE",
    "PII_LOOKUP_SCOPE",
    "PII_SCOPE",
    "ROLES",
    "SCOPES",
    "SOURCE_SCOPE",
    "ClientInfo",
    "add_client",
    "authenticate",
    "authenticate_connection",
    "authenticate_digest",
    "list_clients",
    "revoke_client",
    "token_digest",
]

# `gateway`: a federation gateway or router reading the subgraph's schema (`_service { sdl }`) and
# nothing else; it forwards each departmental client's own token for everything it queries.
# `ops`: the operators' monitoring, which reads `/metrics` from any address and nothing over GraphQL.
OPS_ROLE = "ops"
ROLES = ("reader", "writer", "steward", "auditor", "admin", "gateway", OPS_ROLE)
PII_SCOPE = "pii:read"
PII_LOOKUP_SCOPE = "pii:lookup"
KIND_SCOPES = {kind.value: kind for kind in Kind}
SCOPES = (*KIND_SCOPES, PII_SCOPE, PII_LOOKUP_SCOPE)
SOURCE_SCOPE = "source:"  # `source:tax`: may submit records of source `tax` (writer)
TOKEN_PREFIX = "hub_"


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The calling client as a request sees it."""

    id: int
    name: str
    role: str
    scopes: tuple[str, ...]
    # The kinds the client may read, from its scopes (all when it names none): asked for by every list
    # a response holds, so worked out once.
    kinds: frozenset[Kind] = field(init=False)

    def __post_init__(self) -> None:
        named = {KIND_SCOPES[s] for s in self.scopes if s in KIND_SCOPES}
        object.__setattr__(self, "kinds", frozenset(named) if named else frozenset(Kind))

    @property
    def sees_pii(self) -> bool:
        return PII_SCOPE in self.scopes

    def require_kind(self, kind: Kind) -> None:
        if kind not in self.kinds:
            raise ForbiddenError(
                f"client {self.name!r} may not read {kind.value} entities; its scopes are"
                f" {', '.join(self.scopes) or 'none'}"
            )


def token_digest(token: str) -> str:
    """The SHA-256 digest a token is kept as."""
    return hashlib.sha256(token.encode()).hexdigest()


def _checked_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    unknown = [s for s in out if s not in SCOPES and not _source_scope(s)]
    if unknown:
        raise InputError(
            f"unknown scope {', '.join(unknown)}; scopes are {', '.join(SCOPES)} and {SOURCE_SCOPE}NAME"
        )
    return out


def _source_scope(scope: str) -> bool:
    name = scope.removeprefix(SOURCE_SCOPE)
    return scope.startswith(SOURCE_SCOPE) and bool(name) and len(name) <= 64 and not name.isspace()


def add_client(session: Session, name: str, role: str, scopes: Iterable[str] = ()) -> str:
    """Register a client and return its token (shown this once; only its hash is kept). Flushes."""
    name = name.strip()
    if not name:
        raise InputError("a client needs a name")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    checked = _checked_scopes(scopes)
    if session.scalar(select(Client.id).where(Client.name == name)) is not None:
        raise InputError(f"a client named {name!r} exists already; revoke it or choose another name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(Client(name=name, token_hash=token_digest(token), role=role, scopes=list(checked)))
    session.flush()
    return token


def revoke_client(session: Session, name: str) -> None:
    """Refuse the client's token from now on (the client row stays, for the access log)."""
    client = session.scalars(select(Client).where(Client.name == name)).one_or_none()
    if client is None:
        raise NotFoundError(f"no client named {name!r}")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        session.flush()


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.name)))


def authenticate_connection(engine: Engine, token: str) -> ClientInfo | None:
    """`authenticate` on a pooled connection of its own, the driver's (a third cheaper than
    SQLAlchemy's around it): it runs before every request."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            return _from_cursor(cursor, placeholder(engine), token_digest(token))
        finally:
            cursor.close()
    finally:
        connection.close()


def authenticate_digest(engine: Engine, digest: str) -> ClientInfo | None:
    """The live client whose token has `digest` (the console's session cookie keeps the digest only)."""
    with engine.connect() as connection:
        return _by_digest(connection, digest)


def authenticate(session: Session, token: str) -> ClientInfo | None:
    """The live client holding `token`, or None."""
    return _client(session.connection(), token)


_BY_TOKEN = "SELECT id, name, role, scopes FROM client WHERE token_hash = ? AND revoked_at IS NULL"


def _client(connection: Connection, token: str) -> ClientInfo | None:
    return _by_digest(connection, token_digest(token))


def _by_digest(connection: Connection, digest: str) -> ClientInfo | None:
    """One plain statement on the driver's cursor, no ORM and no result objects: it runs before every
    request."""
    with driver_cursor(connection) as cursor:
        return _from_cursor(cursor, placeholder(connection), digest)


def _from_cursor(cursor: Any, mark: str, digest: str) -> ClientInfo | None:
    cursor.execute(_BY_TOKEN.replace("?", mark), (digest,))
    row = cursor.fetchone()
    if row is None:
        return None
    client_id, name, role, scopes = row
    if isinstance(scopes, str):  # SQLite's JSON text: the same row gives the same (immutable) client
        return _client_info(client_id, name, role, scopes)
    return ClientInfo(client_id, name, role, tuple(scopes or ()))


@lru_cache(maxsize=256)
def _client_info(client_id: int, name: str, role: str, scopes: str) -> ClientInfo:
    return ClientInfo(client_id, name, role, tuple(json_value(scopes) or ()))
