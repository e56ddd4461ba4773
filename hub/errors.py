"""The hub's exceptions, one tree so callers can catch as broadly or narrowly as they need.

    HubError                      every error the hub raises on purpose
    ├── InputError                the caller's input is wrong (code BAD_INPUT)
    │   ├── UnreadableFileError   a source file cannot be read as a whole
    │   ├── UnknownKindError      a kind other than person, address, legal_entity
    │   ├── TooLargeError         a request, query or list over the API's size limits (code TOO_LARGE)
    │   ├── QueryTooComplexError  a query whose shape would take too long to check (code QUERY_TOO_COMPLEX)
    │   └── RequestTimeoutError   a request body that did not arrive in time (code REQUEST_TIMEOUT)
    ├── NotFoundError             no such entity, record or source (code NOT_FOUND)
    ├── ForbiddenError            the client may not do or see this (code FORBIDDEN)
    ├── ConflictError             someone changed the thing meanwhile (code CONFLICT)
    ├── RetryLaterError           nothing was done; the same call after `retry_after` seconds will likely pass
    │   ├── BusyError             another edit holds what this one needs (code BUSY)
    │   └── RateLimitedError      the client sent more operations than its rate allows (code RATE_LIMITED)
    ├── AccessLogUnavailableError personal data read but not logged: withheld (code ACCESS_LOG_UNAVAILABLE)
    └── DatabaseStateError        the database is not migrated to this version (code DATABASE_STATE)

Messages name the bad value and say what to do about it.
"""

from __future__ import annotations

import math

__all__ = [
    "AccessLogUnavailableError",
    "BusyError",
    "ConflictError",
    "DatabaseStateError",
    "ForbiddenError",
    "HubError",
    "InputError",
    "NotFoundError",
    "QueryTooComplexError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RetryLaterError",
    "TooLargeError",
    "UnknownKindError",
    "UnreadableFileError",
]


class HubError(Exception):
    """Base of every error the hub raises on purpose; `code` goes into GraphQL `extensions.code`."""

    code = "INTERNAL"


class InputError(HubError):
    code = "BAD_INPUT"


class UnreadableFileError(InputError):
    """The file as a whole cannot be read (missing, wrong format, wrong encoding)."""


class UnknownKindError(InputError):
    pass


class TooLargeError(InputError):
    """A request body, query text or list over the size the API accepts; nothing was done."""

    code = "TOO_LARGE"


class QueryTooComplexError(InputError):
    """A query whose fragments expand beyond what the API checks and runs; nothing was done."""

    code = "QUERY_TOO_COMPLEX"


class RequestTimeoutError(InputError):
    """The request body did not arrive within the time the API waits for it; nothing was done."""

    code = "REQUEST_TIMEOUT"


class NotFoundError(HubError):
    code = "NOT_FOUND"


class ForbiddenError(HubError):
    code = "FORBIDDEN"


class ConflictError(HubError):
    code = "CONFLICT"


class RetryLaterError(HubError):
    """Nothing was done, and the same call after `retry_after` seconds will likely pass (BUSY,
    RATE_LIMITED); `whole_seconds` is the wait as a `Retry-After` header and `extensions.retryAfter`
    give it."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def whole_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


class BusyError(RetryLaterError):
    """The edit waited its limit for a lock another edit holds, or the client its turn for a slot."""

    code = "BUSY"


class AccessLogUnavailableError(HubError):
    """The access log could not be written, so the personal data the operation read is withheld."""

    code = "ACCESS_LOG_UNAVAILABLE"


class DatabaseStateError(HubError):
    code = "DATABASE_STATE"


class RateLimitedError(RetryLaterError):
    """The client sent more operations than its rate allows."""

    code = "RATE_LIMITED"
