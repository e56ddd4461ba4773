"""Reads by personal identifiers: a lookup or search by ID number, phone or birth date reads personal
data even when it finds nothing, so it needs a scope for it, is written to the access log and is
rate limited per client.

Without such a gate, lookups undo masking: a reader who sees `320581********123X` and a birth year
can try the few candidate numbers with `personByIdNumber`, and a search's scores answer "how close is
this phone" one digit at a time. So:

- `pii:read` (see whole) or `pii:lookup` (look up by, see masked) is needed to look up or search by a
  personal identifier, or to `match` a record holding one; a reader without either searches by name
  and address only;
- each such argument is noted in `HubContext.lookups`, which the access log records with the value
  hashed (a row per operation, found or not);
- each client may make `HUB_PII_LOOKUP_RATE` such operations per second on average, in bursts of
  `HUB_PII_LOOKUP_BURST` (per server process), then gets RATE_LIMITED with a retry hint.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.access_log import PERSONAL_RECORD_FIELDS
from hub.api.context import Info
from hub.api.limits import RateLimiter
from hub.clients import PII_LOOKUP_SCOPE, PII_SCOPE
from hub.config import get_settings
from hub.errors import ForbiddenError, RateLimitedError

__all__ = ["look_up_personal", "personal_fields_of"]

_limiter: RateLimiter | None = None


def _lookups() -> RateLimiter:
    global _limiter
    if _limiter is None:
        settings = get_settings()
        _limiter = RateLimiter(settings.pii_lookup_rate, settings.pii_lookup_burst)
    return _limiter


def personal_fields_of(record: Mapping[str, object]) -> dict[str, str]:
    """The personal identifiers a `match` record gives (non-empty), by contract field."""
    return {
        name: str(record[name])
        for name in sorted(PERSONAL_RECORD_FIELDS)
        if record.get(name) is not None and str(record[name]).strip()
    }


def look_up_personal(info: Info, what: str, values: Mapping[str, str | None]) -> None:
    """Allow, log and count a read by the personal identifiers in `values` (argument → value; empty
    ones are ignored), or refuse it: FORBIDDEN without the scope, RATE_LIMITED over the client's rate.

    `what` names the read for the refusal ("look up a person by ID number").
    """
    given = {name: value for name, value in values.items() if value is not None and value.strip()}
    if not given:
        return
    client = info.context.client
    if client is not None and PII_SCOPE not in client.scopes and PII_LOOKUP_SCOPE not in client.scopes:
        raise ForbiddenError(
            f"client {client.name!r} may not {what}: {', '.join(sorted(given))} are personal"
            f" identifiers, which need the scope {PII_LOOKUP_SCOPE} or {PII_SCOPE}; search by name or"
            " address instead"
        )
    key = client.name if client is not None else ""
    wait = _lookups().allow(key)
    if wait is not None:
        raise RateLimitedError(
            f"client {key!r} made more lookups by personal identifiers than its rate allows"
            " (HUB_PII_LOOKUP_RATE); retry in a moment",
            retry_after=wait,
        )
    info.context.lookups.extend(given.items())
