"""Limits that keep one client from stalling the others: a token bucket and a share of the operation
slots per client, a bounded body read, and checks of a request and a query before any work on them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from starlette.types import Message, Receive

from hub.errors import BusyError, InputError, QueryTooComplexError, RequestTimeoutError, TooLargeError

__all__ = [
    "MAX_NESTING",
    "ClientSlots",
    "RateLimiter",
    "VariableCap",
    "argument_caps",
    "check_fields",
    "check_request",
    "check_variables",
    "expanded_size",
    "is_search_field",
    "read_body",
    "replay",
    "too_complex",
]

# Levels of lists and objects a request or a variable may nest; no argument of the schema needs more.
MAX_NESTING = 32


class RateLimiter:
    """A token bucket per key: on average `rate` units per second, in bursts of up to `burst`.

    `allow(key, cost)` takes `cost` units from the key's bucket and returns None, or, when the bucket
    holds less than `cost`, takes nothing and returns the seconds to wait before the same call would
    pass (for a `Retry-After` header). A cost above `burst` can never pass; it is refused with the
    time until the bucket is full. Buckets of the least recently seen keys are forgotten beyond
    `max_keys` (a forgotten key starts full again), so memory stays bounded. Safe to call from any
    thread; each call takes a lock for a few dictionary operations.

        limiter = RateLimiter(rate=5, burst=10)   # 5 per second, 10 at once
        if (wait := limiter.allow(client_id)) is not None:
            refuse(retry_after=wait)
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError(f"rate={rate!r}, burst={burst!r}: both must be positive")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def allow(self, key: Hashable, cost: float = 1.0) -> float | None:
        """Take `cost` from `key`'s bucket and return None, or return the seconds to wait if refused."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait: float | None = None
            if tokens >= cost:
                tokens -= cost
            else:
                wait = (min(cost, self.burst) - tokens) / self.rate
                if cost > self.burst:
                    wait = max(wait, 1.0 / self.rate)
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class ClientSlots:
    """At most `per_key` operations of one key (a client) run at once; one more waits up to `wait`
    seconds for a turn, then `acquire` raises BusyError. Keys without operations take no memory."""

    def __init__(self, per_key: int, wait: float) -> None:
        self.per_key = per_key
        self.wait = wait
        self._slots: dict[Hashable, tuple[asyncio.Semaphore, int]] = {}  # key → (slots, users)

    async def acquire(self, key: Hashable) -> None:
        """Take one of `key`'s slots (release it with `release`), or raise BusyError after `wait`."""
        semaphore, users = self._slots.get(key) or (asyncio.Semaphore(self.per_key), 0)
        self._slots[key] = (semaphore, users + 1)
        if not semaphore.locked():  # a free slot is taken at once: no task and no timer to wait with
            await semaphore.acquire()
            return
        try:
            await asyncio.wait_for(semaphore.acquire(), self.wait)
        except BaseException as exc:
            self._leave(key)
            if not isinstance(exc, TimeoutError):
                raise
            raise BusyError(
                f"this client already runs {self.per_key} operations at once, the most one client may"
                " (HUB_API_CLIENT_CONCURRENCY); retry when one has finished",
                retry_after=1.0,
            ) from None

    def release(self, key: Hashable) -> None:
        """Give back a slot `acquire` took."""
        self._slots[key][0].release()
        self._leave(key)

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Run the body in one of `key`'s slots."""
        await self.acquire(key)
        try:
            yield
        finally:
            self.release(key)

    def _leave(self, key: Hashable) -> None:
        semaphore, users = self._slots[key]
        if users == 1:
            del self._slots[key]
        else:
            self._slots[key] = (semaphore, users - 1)


async def read_body(receive: Receive, content_length: str | None, max_bytes: int, timeout: float) -> bytes:
    """The whole request body, refused once it exceeds `max_bytes` (TooLargeError) or takes longer than
    `timeout` seconds to arrive (RequestTimeoutError), so a slow or huge body holds nothing else."""
    declared = (content_length or "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(_too_large(int(declared), max_bytes))
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestTimeoutError("the client went away before its request body arrived")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError(_too_large(size, max_bytes))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise RequestTimeoutError(
            f"the request body did not arrive within {timeout:g} s (HUB_API_BODY_TIMEOUT); send it at once"
        ) from None


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"the request body has {size:,} bytes or more; at most {max_bytes:,} are accepted"
        " (HUB_API_MAX_BODY): ask for less in one request"
    )


def replay(body: bytes) -> Receive:
    """A `receive` that hands an already read body to the app, then waits as the server's would."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a response is being sent; nothing more will come
        return {"type": "http.disconnect"}  # pragma: no cover

    return receive


def check_request(body: bytes, max_query: int) -> dict[str, Any]:
    """The GraphQL request in a JSON body, checked: an object whose `query` (at most `max_query`
    characters) and `operationName` are strings or null and whose `variables` and `extensions` are
    objects or null. InputError (TooLargeError for a long query) names what is wrong."""
    try:
        data = orjson.loads(body)  # refuses invalid UTF-8, lone surrogates and nesting beyond 1,024
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the request body is not JSON in UTF-8 ({exc}); send a JSON object") from None
    return check_fields(data, max_query)


def check_fields(data: object, max_query: int) -> dict[str, Any]:
    """`check_request` on data already decoded (the parameters of a GET)."""
    if not isinstance(data, dict):
        raise InputError(
            f"the request is a JSON {type(data).__name__}, not an object: send"
            ' {"query": "...", "variables": {...}} (one operation per request)'
        )
    for name, types in (("query", str), ("operationName", str), ("variables", dict), ("extensions", dict)):
        value = data.get(name)
        if value is not None and not isinstance(value, types):
            expected = "a string" if types is str else "an object"
            raise InputError(f"`{name}` is a JSON {type(value).__name__}; give {expected} or null")
    query = data.get("query")
    if isinstance(query, str) and len(query) > max_query:
        raise TooLargeError(
            f"the query has {len(query):,} characters; at most {max_query:,} are accepted"
            " (HUB_API_MAX_QUERY): pass values as variables, ask for less"
        )
    return data


def expanded_size(document: DocumentNode, cap: int) -> tuple[str, int] | None:
    """The operation or fragment of `document` that holds more than `cap` selections with every
    fragment spread expanded, and its size (at least cap + 1); None if none does.

    Linear in the document: each fragment's expanded size is its own selections plus the expanded
    sizes of the fragments it spreads, computed once. Spreads of unknown fragments and cycles count
    nothing here; validation reports them.
    """
    own: dict[str, int] = {}
    spreads: dict[str, dict[str, int]] = {}
    roots: list[str] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            name = definition.name.value
        elif isinstance(definition, OperationDefinitionNode):
            name = f"operation {definition.name.value if definition.name else '(anonymous)'}"
            roots.append(name)
        else:
            continue
        count, spread = _selections(definition.selection_set)
        own[name] = own.get(name, 0) + count
        merged = spreads.setdefault(name, {})
        for fragment, times in spread.items():
            merged[fragment] = merged.get(fragment, 0) + times
    sizes: dict[str, int] = {}
    for start in own:
        # Depth-first without recursion: a long chain of fragments must not exhaust the stack.
        stack: list[tuple[str, bool]] = [(start, False)]
        visiting: set[str] = set()
        while stack:
            name, done = stack.pop()
            if name in sizes or name not in own:
                continue
            if done:
                visiting.discard(name)
                total = own[name]
                for fragment, times in spreads[name].items():
                    total += times * sizes.get(fragment, 0)  # 0: a cycle or an unknown fragment
                sizes[name] = min(total, cap + 1)
                continue
            if name in visiting:
                continue
            visiting.add(name)
            stack.append((name, True))
            stack.extend((f, False) for f in spreads[name] if f not in sizes and f not in visiting)
    worst = max(sizes.items(), key=lambda item: item[1], default=None)
    return worst if worst is not None and worst[1] > cap else None


def _selections(selection_set: SelectionSetNode) -> tuple[int, dict[str, int]]:
    count = 0
    spreads: dict[str, int] = {}
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            count += 1
            if isinstance(selection, FragmentSpreadNode):
                spreads[selection.name.value] = spreads.get(selection.name.value, 0) + 1
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return count, spreads


def is_search_field(name: str) -> bool:
    """Whether a field's string arguments are search or lookup input (the shorter cap applies):
    the searches, the lookups by key (`personByIdNumber`, ...) and `match`."""
    return name.startswith("search") or "By" in name or name == "match"


@dataclass(frozen=True, slots=True)
class VariableCap:
    """A variable used as (part of) an argument whose strings may hold at most `cap` characters."""

    variable: str
    cap: int
    argument: str


def argument_caps(document: DocumentNode, max_string: int, max_search: int) -> list[VariableCap]:
    """The caps of the variables `document` passes as arguments; InputError for a string literal
    over its cap (`max_search` in searches and lookups, `max_string` elsewhere)."""
    caps: list[VariableCap] = []
    stack: list[SelectionSetNode] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            stack.append(definition.selection_set)
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                if variable.default_value is not None:
                    label = f"the default of ${variable.variable.name.value}"
                    _literal_caps(variable.default_value, max_string, label, caps)
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                cap = max_search if is_search_field(selection.name.value) else max_string
                for argument in selection.arguments or ():
                    label = f"argument `{argument.name.value}` of `{selection.name.value}`"
                    _literal_caps(argument.value, cap, label, caps)
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return caps


def _literal_caps(value: ValueNode, cap: int, label: str, caps: list[VariableCap]) -> None:
    values = [value]
    while values:
        node = values.pop()
        if isinstance(node, StringValueNode):
            _check_length(node.value, cap, label)
        elif isinstance(node, VariableNode):
            caps.append(VariableCap(node.name.value, cap, label))
        elif isinstance(node, ListValueNode):
            values.extend(node.values)
        elif isinstance(node, ObjectValueNode):
            values.extend(f.value for f in node.fields)


def check_variables(
    variables: Mapping[str, object] | None, caps: Iterable[VariableCap], max_string: int
) -> None:
    """InputError naming the variable with a string over its cap (its use's, or `max_string`), a
    string that is not valid Unicode, or values nested deeper than MAX_NESTING."""
    if not variables:
        return
    tightest = {name: (max_string, f"${name}") for name in variables}
    for use in caps:
        if use.variable in tightest and use.cap < tightest[use.variable][0]:
            tightest[use.variable] = (use.cap, f"${use.variable} ({use.argument})")
    for name, value in variables.items():
        cap, label = tightest[name]
        _check_value(value, cap, label)


def _check_value(value: object, cap: int, label: str) -> None:
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_length(item, cap, label)
        elif isinstance(item, list | dict):
            if depth >= MAX_NESTING:
                raise InputError(f"{label} nests lists or objects more than {MAX_NESTING} levels deep")
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def _check_length(text: str, cap: int, label: str) -> None:
    if len(text) > cap:
        raise InputError(
            f"{label} has {len(text):,} characters ({text[:20]!r}...); at most {cap:,} are accepted"
        )
    if "\x00" in text:  # no field holds one, and PostgreSQL refuses it in text mid-statement
        raise InputError(f"{label} holds a NUL character (\\0), which no field accepts")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise InputError(f"{label} holds a lone surrogate, not text: send valid Unicode") from None


def too_complex(where: str, size: int, cap: int) -> QueryTooComplexError:
    """The error for a document whose fragments expand beyond `cap` selections."""
    return QueryTooComplexError(
        f"{where} expands to more than {cap:,} selections with its fragments spread"
        f" ({size:,} or more; HUB_API_MAX_EXPANDED): spread each fragment fewer times"
    )
