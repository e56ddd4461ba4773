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
    "link_after",
    "link_cursor",
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


def link_cursor(link_id: int) -> str:
    """The opaque cursor of the item a link gives (lists of links page by link id: keyset)."""
    return base64.urlsafe_b64encode(f"l:{link_id}".encode()).decode()


_MAX_CURSOR = 32  # characters of the longest cursor a list gives out ("l:" and an id below _MAX_ID)
_MAX_ID = 2**63  # a 64-bit key


def link_after(after: str | None) -> int:
    """The link id a page starts after (0: from the first); BAD_INPUT for a cursor no list gave out
    (too long, not base64 or not text, or not a link's)."""
    if after is None:
        return 0
    if len(after) <= _MAX_CURSOR:
        try:
            prefix, _, number = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
            if prefix == "l" and number.isdigit() and int(number) < _MAX_ID:
                return int(number)
        except ValueError:  # not ASCII, not base64, not UTF-8 inside
            pass
    shown = after if len(after) <= 40 else f"{after[:40]}… ({len(after):,} characters)"
    raise InputError(f"after: {shown!r} is not a cursor this list gave out; pass a page's endCursor")


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
