"""Pages of long lists: Relay-style connections with opaque keyset cursors, and the page sizes allowed.

Cursors are checked before they reach the database: one no list gave out is BAD_INPUT.
"""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

import strawberry

from hub.errors import InputError

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "Connection",
    "Edge",
    "PageInfo",
    "cursor_key",
    "id_after",
    "is_row_id",
    "link_after",
    "link_cursor",
    "not_a_cursor",
    "opaque_cursor",
    "page_connection",
    "page_size",
]

MAX_PAGE = 500  # the hard cap on any page
DEFAULT_PAGE = 100


# Shareable: every department with Relay connections defines its own `PageInfo` (and may name its
# connections alike); a type two subgraphs define must be shareable in both, or composition fails.
# All four fields of the Relay specification: a router must be able to answer each field of the
# composed type from whichever subgraph a page came from.
@strawberry.federation.type(shareable=True, description="Where a page lies in its list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


T = TypeVar("T")


@strawberry.federation.type(shareable=True)
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.federation.type(
    shareable=True, description="A page of a list that can be long; `totalCount` counts the whole list."
)
class Connection(Generic[T]):
    total_count: int
    edges: list[Edge[T]]
    page_info: PageInfo


def opaque_cursor(prefix: str, key: object) -> str:
    """The opaque cursor of `key` in a list whose cursors are marked `prefix` (`l` links, `k` entities,
    `i` audit and access-log rows)."""
    return base64.urlsafe_b64encode(f"{prefix}:{key}".encode()).decode()


_MAX_CURSOR = 64  # characters of the longest cursor any list gives out (an entity id's: 40)


def cursor_key(after: str, prefix: str) -> str | None:
    """The key a cursor of `prefix` carries; None for anything else: too long, not base64 or not text
    inside, or another list's."""
    if len(after) > _MAX_CURSOR:
        return None
    try:
        marked, _, key = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
    except ValueError:  # not ASCII, not base64, not UTF-8 inside
        return None
    return key if marked == prefix else None


def not_a_cursor(after: str) -> InputError:
    """BAD_INPUT for a cursor no list gave out."""
    shown = after if len(after) <= 40 else f"{after[:40]}… ({len(after):,} characters)"
    return InputError(f"after: {shown!r} is not a cursor this list gave out; pass a page's endCursor")


def id_after(after: str | None, prefix: str) -> int:
    """The row id a keyset page starts after (0: from the first); BAD_INPUT for a cursor no list of
    `prefix` gave out or an id beyond a 64-bit key (the cursor's length bounds the digits)."""
    if after is None:
        return 0
    key = cursor_key(after, prefix)
    if key is None or not is_row_id(key):
        raise not_a_cursor(after)
    return int(key)


def is_row_id(text: str) -> bool:
    """Whether `text` is a row id: ASCII digits (`isdigit` also takes "²", which int() refuses) of a
    number within a 64-bit key (a larger one overflows the database's integer)."""
    return text.isascii() and text.isdigit() and int(text) < 2**63


def link_cursor(link_id: int) -> str:
    """The opaque cursor of the item a link gives (lists of links page by link id: keyset)."""
    return opaque_cursor("l", link_id)


def link_after(after: str | None) -> int:
    """The link id a page starts after (0: from the first); BAD_INPUT for a cursor no list gave out."""
    return id_after(after, "l")


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise InputError(f"first: {first} is out of range; ask for 0 to {MAX_PAGE} at a time")
    return first


def page_connection(items: list[T], keys: list[int], total: int, after: int, more: bool) -> Connection[T]:
    """The connection of one page `items` (the database cut it), each with the link id `keys` gives,
    after link `after` (0: the first page) of a list of `total` items; `more`: items follow it."""
    edges = [Edge(cursor=link_cursor(key), node=item) for key, item in zip(keys, items, strict=True)]
    return Connection(
        total_count=total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
