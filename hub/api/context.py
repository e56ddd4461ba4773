"""Per-request context: the database session of one GraphQL operation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from strawberry.types import Info as _Info

__all__ = ["HubContext", "Info"]


@dataclass
class HubContext:
    """What resolvers see: the engine and the session that the current operation owns."""

    engine: Engine
    request: Any = None
    _session: Session | None = field(default=None, repr=False)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(self.engine, expire_on_commit=False)
        return self._session

    def finish(self, *, commit: bool) -> None:
        """End the operation's unit of work: commit or roll back, then release the connection."""
        if self._session is None:
            return
        try:
            if commit:
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._session.close()
            self._session = None


Info = _Info[HubContext, None]
