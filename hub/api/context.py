"""Per-request context: the calling client, the operation's database session and its loaders, and the
personal data the response contains (for the access log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session
from strawberry.types import Info as _Info

from hub.api.loaders import Loaders
from hub.clients import ClientInfo
from hub.domain import Kind
from hub.errors import HubError, InputError
from hub.submit import LiveResolvers

__all__ = ["HubContext", "Info"]


@dataclass
class HubContext:
    """What resolvers see: the client, the engine, and the session and loaders the operation owns."""

    engine: Engine
    request: Any = None
    client: ClientInfo | None = None
    # Queries read through `reader` (the engine in autocommit) when one is given: no BEGIN and COMMIT
    # round trips for an operation that writes nothing. `UnitOfWork` sets `read_only` once it knows
    # the operation's type; a mutation keeps a transaction.
    reader: Engine | None = None
    read_only: bool = False
    # The instant the operation reads entities at (`asOf`); None for now. One per operation.
    as_of: datetime | None = None
    # Whether lookups read their answer ahead (`hub.api.readahead`) and known shapes are answered in
    # one pass (`hub.api.planned`): off only to check that the answer is the same without them.
    read_ahead: bool = True
    # Set once a one-pass answer met what it cannot answer: the executor answers, field by field.
    given_up: bool = False
    # The app's warm resolvers, for records submitted live (`submitRecords`).
    live: LiveResolvers | None = None
    _session: Session | None = field(default=None, repr=False)
    # A query's connection on the reader, for the loaders' plain reads: no session around it.
    _connection: Connection | None = field(default=None, repr=False)
    _loaders: Loaders | None = field(default=None, repr=False)
    # entity id → personal fields of it in the response ("idNumber" whole, "idNumber:masked" masked)
    personal: dict[str, set[str]] = field(default_factory=dict)
    # (argument, value) of every lookup or search by a personal identifier in this operation, e.g.
    # ("idNumber", "3205..."): a personal-data read even when nothing is found (values hashed in the log)
    lookups: list[tuple[str, str]] = field(default_factory=list)
    # Refusals answered with an empty list instead of an error that nulls the field (`refuse`).
    refusals: list[GraphQLError] = field(default_factory=list)

    @property
    def session(self) -> Session:
        if self._session is None:
            if self._connection is not None:  # the query's connection, which the loaders read on
                self._session = Session(self._connection, expire_on_commit=False)
            else:
                engine = self.reader if self.read_only and self.reader is not None else self.engine
                self._session = Session(engine, expire_on_commit=False)
        return self._session

    def connection(self) -> Connection:
        """The operation's connection: its session's, or for a query on the reader a plain one (a
        session costs several times a pooled connection, and a lookup's reads need none)."""
        if self._session is None and self.read_only and self.reader is not None:
            if self._connection is None:
                self._connection = self.reader.connect()
            return self._connection
        return self.session.connection()

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.connection, self.reader or self.engine, self.as_of)
        return self._loaders

    def read_at(self, as_of: datetime | None) -> None:
        """Read this operation's entities as they were at `as_of` (None: now); one instant per operation."""
        if as_of is not None and as_of.tzinfo is None:
            raise InputError("asOf: give a time zone, e.g. 2026-11-27T09:00:00+08:00")
        if self._loaders is not None and self._loaders.as_of != as_of:
            raise InputError("asOf: one operation reads at one instant; send separate operations")
        self.as_of = as_of

    @property
    def sees_pii(self) -> bool:
        return self.client is not None and self.client.sees_pii

    def require_kind(self, kind: Kind) -> None:
        if self.client is not None:
            self.client.require_kind(kind)

    def refuse(self, path: list[str | int], error: HubError) -> None:
        """Note a refusal at `path` whose field still answers (an empty list): the operation's errors
        get it with its code (`hub.api.extensions.ErrorCodes`)."""
        self.refusals.append(GraphQLError(str(error), path=path, extensions={"code": error.code}))

    def note_personal(self, entity_id: str, field_name: str) -> None:
        """The response shows `field_name` of `entity_id`: whole or masked, by the client's scope."""
        self.personal.setdefault(entity_id, set()).add(
            field_name if self.sees_pii else f"{field_name}:masked"
        )

    def finish(self, *, commit: bool) -> None:
        """End the operation's unit of work: commit or roll back, then release the connection. A query
        on the reader (autocommit) has nothing to end: its connection is released."""
        session, connection, loaders = self._session, self._connection, self._loaders
        self._session = self._connection = self._loaders = None
        if loaders is not None:
            loaders.close()
        try:
            if session is not None and not (self.read_only and self.reader is not None):
                if commit:
                    session.commit()
                else:
                    session.rollback()
        finally:
            try:
                if session is not None:
                    session.close()
            finally:
                if connection is not None:
                    connection.close()


Info = _Info[HubContext, None]
