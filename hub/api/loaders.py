"""Batched reads for one GraphQL operation: every relationship and reference goes through a DataLoader.

A resolver asks for one entity's members or links; the loader collects every such request of the
same execution step and answers them with one SQL statement, so a query's statement count depends on
its depth, not on how many entities it returns (address → residents → companies → addresses is a
handful of statements however many residents there are). Loaders live for one operation.
"""

from __future__ import annotations

import re
from asyncio import Future
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Connection, Engine
from strawberry.dataloader import DataLoader

from hub.domain import Decision, Kind, LinkRelation
from hub.golden import Golden, claims_of, steward_claim, survive
from hub.store.sql import json_object, placeholder, raw_cursor, stored_time

__all__ = ["EntityRow", "LinkRow", "Loader", "Loaders", "MemberRow", "Missing", "held", "then"]

_CHUNK = 900  # keys per statement, below every database's limit on bound parameters

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


class Missing:
    """What `held` gives for a key whose value is not in hand yet."""


MISSING = Missing()


class Loader(DataLoader[K, V]):
    """A DataLoader that also keeps the values read ahead for it as they are (`ready`): a one-pass
    answer takes them from there, and a future is made only for a key a field loads."""

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[list[V]]]) -> None:
        super().__init__(load_fn)
        self.ready: dict[K, V] = {}

    def load(self, key: K) -> Awaitable[V]:
        if key in self.ready and self.cache_map.get(key) is None:
            future: Future[V] = self.loop.create_future()
            future.set_result(self.ready[key])
            self.cache_map.set(key, future)
        return super().load(key)


def held(loader: Loader[K, V], key: K) -> V | Missing:
    """The value `loader` already holds for `key` (read ahead, or loaded by an earlier field), else
    MISSING; never waits."""
    if key in loader.ready:
        return loader.ready[key]
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return MISSING
    return future.result()


def then(loader: Loader[K, V], key: K, use: Callable[[V], R]) -> R:
    """`use(value)` at once when `loader` holds `key`'s value, else an awaitable of it.

    A resolver returns either, and graphql-core awaits only the awaitable: a field whose data is in
    hand costs no coroutine, no task and no turn of the event loop, which is most of what a field
    costs once a query's answer was read ahead (`hub.api.readahead`). Typed as the value, since the
    schema takes a resolver's return annotation for the field's type."""
    value = held(loader, key)
    if isinstance(value, Missing):
        return cast(R, _later(loader, key, use))
    return use(value)


async def _later(loader: DataLoader[K, V], key: K, use: Callable[[V], R]) -> R:
    return use(await loader.load(key))


# The rows the loaders read are named tuples: as immutable as a frozen dataclass, and four times
# cheaper to make (a frozen dataclass sets each field through `object.__setattr__`), which counts
# where an answer makes dozens of them.


class EntityRow(NamedTuple):
    id: str
    kind: Kind
    status: str
    merged_into_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class MemberRow(NamedTuple):
    """One current member record of an entity, with its current version's features."""

    entity_id: str
    record_id: int
    source: str
    trust: dict[str, Any]
    kind: Kind
    key: str
    version: int
    first_seen_at: datetime
    last_seen_at: datetime
    received_at: datetime
    features: dict[str, Any]
    flags: dict[str, Any]


class LinkRow(NamedTuple):
    id: int
    relation: LinkRelation
    subject_id: str
    object_id: str
    valid_from: datetime


class LinkPage(NamedTuple):
    """One page of an entity's links (by id) and how many links the whole list holds (None: not
    counted)."""

    total: int | None
    links: list[LinkRow]
    more: bool = False  # links follow this page


class Override(NamedTuple):
    """A value a steward set on an entity's attribute (a statement; the source values stay)."""

    id: int
    entity_id: str
    attribute: str
    value: str
    actor: str
    at: datetime


class JudgementRow(NamedTuple):
    """A live judgement on a pair of records: who decided what, with which score and why."""

    id: int
    record_a_id: int
    record_b_id: int
    decision: Decision
    score: float | None
    actor_type: str
    actor: str
    run_id: int | None
    note: str | None
    created_at: datetime
    explanation: dict[str, Any]


_PLACEHOLDERS = re.compile(r"(:keys|:rows|:at)\b")


@lru_cache(maxsize=256)
def _parts(sql: str) -> list[str]:
    """`sql` split at its placeholders (`:keys`, `:rows`, `:at`), kept: the loaders' statements are few."""
    return _PLACEHOLDERS.split(sql)


def _chunks(keys: Sequence[Any]) -> Sequence[Sequence[Any]]:
    """The keys in slices a statement can bind, each key in one of them (in one statement a key given
    twice matches its rows once: `IN`)."""
    if len(keys) <= _CHUNK:
        return (keys,)
    unique = list(dict.fromkeys(keys))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def _prime(loader: Loader[K, V], fetch: Callable[[list[K]], list[V]], keys: Iterable[K]) -> bool:
    """Give `loader` the values of those `keys` it has not been asked for yet, read by one call of
    `fetch` (the body of its batch function): what resolvers then load is in hand at once. Whether
    there were any to read."""
    wanted = _unasked(loader, keys)
    if wanted:
        loader.ready.update(zip(wanted, fetch(wanted), strict=True))
    return bool(wanted)


def _unasked(loader: Loader[K, V], keys: Iterable[K]) -> list[K]:
    """Those of `keys` (once each, in order) that `loader` neither holds nor has been asked for."""
    ready, asked = loader.ready, loader.cache_map
    return [k for k in dict.fromkeys(keys) if k not in ready and asked.get(k) is None]


# Enum members by their stored values: a dict lookup, where calling the enum costs several times more.
_KIND = {kind.value: kind for kind in Kind}
_RELATION = {relation.value: relation for relation in LinkRelation}


@lru_cache(maxsize=1024)
def _parsed(text: str) -> dict[str, Any]:
    return json_object(text)


def _repeated(value: Any) -> dict[str, Any]:
    """A JSON object column whose few distinct values repeat from row to row (a source's trust, a
    version's flags: mostly `{}`), parsed once per text. Shared between rows: read, never changed."""
    return _parsed(value) if isinstance(value, str) else json_object(value)


def _time(value: Any) -> datetime:
    """A stored time as a datetime: PostgreSQL's driver gives one; SQLite gives its text, parsed once
    (the same few instants, a run's or a batch's, recur in row after row)."""
    if value.__class__ is str:
        known = _TIMES.get(value)
        return known if known is not None else _parsed_time(value)
    return value if isinstance(value, datetime) else _parsed_time(str(value))


_TIMES: dict[str, datetime] = {}
_TIMES_MAX = 4096


def _parsed_time(text: str) -> datetime:
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    parsed = _TIMES[text] = datetime.fromisoformat(text)
    return parsed


# The columns `_member` reads, in its order. `{features}`: the version's features as the driver hands
# them over best (`_FEATURES`).
_MEMBER_COLUMNS = (
    "SELECT m.entity_id, r.id, s.name, s.trust, r.kind, r.key, r.version, r.first_seen_at,"
    " r.last_seen_at, v.received_at, {features}, v.flags"
)
# SQLite hands a JSON text over as a `str`, which orjson must encode back to UTF-8 before it parses
# it; as the stored bytes it is parsed as it is (a person's features are about a kilobyte of mostly
# Chinese text). PostgreSQL's driver hands JSONB over parsed.
_FEATURES = {"sqlite": "CAST(v.features AS BLOB)"}


# The entity rows read with the members (`ahead_members`), in the members' columns: id, 0, status, -,
# kind, merged_into_id, version, created_at, updated_at.
_ENTITY_ROWS = (
    " UNION ALL SELECT e.id, 0, e.status, NULL, e.kind, e.merged_into_id, e.version, e.created_at,"
    " e.updated_at, NULL, NULL, NULL FROM entity e WHERE e.id IN :rows"
)


@lru_cache(maxsize=8)
def _members_select(dialect: str) -> str:
    return _MEMBER_COLUMNS.format(features=_FEATURES.get(dialect, "v.features"))


_second = itemgetter(1)


@lru_cache(maxsize=64)
def _relation_list(relations: frozenset[LinkRelation]) -> str:
    """The relations as the list of an SQL `IN` (enum values only: never a caller's text)."""
    return ", ".join(f"'{relation.value}'" for relation in sorted(relations))


def _member(r: Any) -> MemberRow:
    return MemberRow(
        r[0],
        r[1],
        r[2],
        _repeated(r[3]),
        _KIND[r[4]],
        r[5],
        r[6],
        _time(r[7]),
        _time(r[8]),
        _time(r[9]),
        json_object(r[10]),
        _repeated(r[11]),
    )


class Loaders:
    """The DataLoaders of one operation, on its connection."""

    def __init__(
        self, connection: Callable[[], Connection], bind: Engine, as_of: datetime | None = None
    ) -> None:
        """`connection()`: the operation's connection, asked for at each read (the first opens it);
        `bind`: its engine. `as_of`: read entities as they were at that instant (members, their record
        versions then, links); None for now."""
        self.connection = connection
        self.as_of = as_of
        self._members_sql = _members_select(bind.dialect.name)
        self._mark = placeholder(bind)
        self._at: Any = None
        if as_of is not None:
            at = as_of.astimezone(UTC)
            self._at = stored_time(bind, at)
        self._links_from: dict[frozenset[LinkRelation], Loader[str, list[LinkRow]]] = {}
        self._link_pages: dict[
            tuple[str, frozenset[LinkRelation], int, int, bool], Loader[str, LinkPage]
        ] = {}
        self._golden: dict[tuple[str, str | None], dict[str, Golden]] = {}
        self._overrides: dict[str, list[Override]] = {}

    def close(self) -> None:
        """Let go of everything the operation read. Each loader's batch function is a method of this
        object, so the two refer to each other: a cycle that reference counting cannot free and that
        would hold every row, member and golden value read until the cyclic collector came by, each of
        its young collections walking them again."""
        for name in _LOADERS:  # those made
            self.__dict__.pop(name, None)
        self._links_from.clear()
        self._link_pages.clear()
        self._golden.clear()
        self._overrides.clear()

    # Each loader is made when a field first asks for it: an operation uses a few of them.

    @cached_property
    def entities(self) -> Loader[str, EntityRow | None]:
        return Loader(self._entities)

    @cached_property
    def members(self) -> Loader[str, list[MemberRow]]:
        return Loader(self._members)

    @cached_property
    def payloads(self) -> Loader[int, dict[str, Any]]:
        return Loader(self._payloads)

    @cached_property
    def evidence(self) -> Loader[int, list[int]]:
        return Loader(self._evidence)

    @cached_property
    def records(self) -> Loader[int, MemberRow | None]:
        return Loader(self._records)

    @cached_property
    def judgements(self) -> Loader[int, list[JudgementRow]]:
        return Loader(self._judgements)

    @cached_property
    def run_settings(self) -> Loader[int, dict[str, Any] | None]:
        return Loader(self._run_settings)

    async def golden(self, entity_id: str, attribute: str | None = None) -> dict[str, Golden]:
        """The golden values of an entity by attribute: all of them, or just `attribute` (computed once
        per operation; a query asking for a name does not pay for every other field)."""
        cached = self._golden.get((entity_id, attribute))
        if cached is None:
            cached = self._survive(entity_id, attribute, await self.members.load(entity_id))
        return cached

    def golden_held(self, entity_id: str, attribute: str | None = None) -> dict[str, Golden] | None:
        """`golden` without waiting: None when the entity's members are not in hand yet."""
        cached = self._golden.get((entity_id, attribute))
        if cached is None:
            members = held(self.members, entity_id)
            if isinstance(members, Missing):
                return None
            cached = self._survive(entity_id, attribute, members)
        return cached

    def _survive(self, entity_id: str, attribute: str | None, members: list[MemberRow]) -> dict[str, Golden]:
        claims = [
            steward_claim(o.attribute, o.value, o.id, o.actor, o.at)
            for o in self._overrides.get(entity_id, [])
            if attribute is None or o.attribute == attribute
        ]
        claims += [
            claim
            for m in members
            for claim in claims_of(
                m.kind,
                m.features,
                record_id=m.record_id,
                source=m.source,
                key=m.key,
                version=m.version,
                received_at=m.received_at,
                trust=m.trust,
                only=attribute,
            )
        ]
        golden = self._golden[(entity_id, attribute)] = survive(claims)
        return golden

    # ---- reading ahead: a batch function's statement run now for keys known in advance -------------

    def ahead_entities(self, keys: Iterable[str]) -> None:
        """Read the entity rows of `keys` now, for `entities` to hold."""
        _prime(self.entities, self._entity_rows, keys)

    def ahead_members(self, keys: Iterable[str], rows: Iterable[str] = ()) -> None:
        """Read the members (and stewards' values) of the entities `keys` now, for `members` to hold;
        and the entity rows of `rows` (a few: a lookup's entity) in the same statement, for `entities`
        to hold."""
        rows = _unasked(self.entities, rows)
        if not _prime(self.members, lambda chunk: self._member_rows(chunk, rows), keys):
            self.ahead_entities(rows)  # every member in hand already: the rows alone
            return
        ready = self.entities.ready
        for key in rows:  # read with the members, or not found
            ready.setdefault(key, None)

    def ahead_links_from(self, keys: Iterable[str], relations: frozenset[LinkRelation]) -> None:
        """Read the current links of `relations` from the entities `keys` now, for
        `links_from(relations)` to hold."""
        _prime(self.links_from(relations), lambda chunk: self._links(relations, chunk), keys)

    def ahead_link_pages(
        self,
        keys: Iterable[str],
        *,
        outgoing: bool,
        relations: frozenset[LinkRelation],
        after: int,
        size: int,
        counted: bool,
    ) -> Loader[str, LinkPage]:
        """Read the pages `link_pages(...)` gives for `keys` now, for that loader (returned) to hold."""
        loader = self.link_pages(
            outgoing=outgoing, relations=relations, after=after, size=size, counted=counted
        )
        column = "subject_id" if outgoing else "object_id"
        _prime(loader, lambda chunk: self._link_page(column, relations, after, size, counted, chunk), keys)
        return loader

    def _rows(self, sql: str, keys: Sequence[Any], rows: Sequence[Any] = ()) -> list[Any]:
        """Run `sql` for the keys, through the driver's own cursor (SQLAlchemy's statement handling cost
        more than the statements themselves): each `:keys` becomes the list of keys, each `:rows` the
        list `rows` (few: it is repeated in each statement when the keys need several), each `:at` the
        instant the operation reads at."""
        mark = self._mark
        parts = _parts(sql)
        out: list[Any] = []
        cursor = raw_cursor(self.connection())
        try:
            for chunk in _chunks(keys):
                statement: list[str] = []
                params: list[Any] = []
                for part in parts:
                    if part == ":keys":
                        statement.append(f"({', '.join([mark] * len(chunk))})")
                        params.extend(chunk)
                    elif part == ":rows":
                        statement.append(f"({', '.join([mark] * len(rows))})")
                        params.extend(rows)
                    elif part == ":at":
                        statement.append(mark)
                        params.append(self._at)
                    else:
                        statement.append(part)
                cursor.execute("".join(statement), params)
                out += cursor.fetchall()
        finally:
            cursor.close()
        return out

    async def _entities(self, keys: list[str]) -> list[EntityRow | None]:
        return self._entity_rows(keys)

    def _entity_rows(self, keys: list[str]) -> list[EntityRow | None]:
        rows = self._rows(
            "SELECT id, kind, status, merged_into_id, version, created_at, updated_at FROM entity"
            " WHERE id IN :keys",
            keys,
        )
        found = {r[0]: EntityRow(r[0], _KIND[r[1]], r[2], r[3], r[4], _time(r[5]), _time(r[6])) for r in rows}
        return [found.get(k) for k in keys]

    async def _members(self, keys: list[str]) -> list[list[MemberRow]]:
        return self._member_rows(keys)

    def _member_rows(self, keys: list[str], entities: Sequence[str] = ()) -> list[list[MemberRow]]:
        """Each entity's records (as they were at `as_of`, if set); its stewards' values come in the
        same statement, as rows with a negative id, and are kept for `overrides`; so do the entity rows
        of `entities`, as rows with id 0, given to the `entities` loader."""
        if self.as_of is None:
            records = (
                self._members_sql + " FROM membership m"
                " JOIN source_record r ON r.id = m.record_id"
                " JOIN source s ON s.id = r.source_id"
                " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
                " WHERE m.valid_to IS NULL AND m.entity_id IN :keys"
            )
            stated = "o.retracted_at IS NULL"
        else:  # the memberships valid then, each record as its latest version then stated it
            records = (
                self._members_sql.replace("r.version,", "v.version,") + " FROM membership m"
                " JOIN source_record r ON r.id = m.record_id"
                " JOIN source s ON s.id = r.source_id"
                " JOIN record_version v ON v.record_id = r.id AND v.version = (SELECT max(x.version)"
                " FROM record_version x WHERE x.record_id = r.id AND x.received_at <= :at)"
                " WHERE m.valid_from <= :at AND (m.valid_to IS NULL OR m.valid_to > :at)"
                " AND m.entity_id IN :keys"
            )
            stated = "o.created_at <= :at AND (o.retracted_at IS NULL OR o.retracted_at > :at)"
        rows = self._rows(
            records + " UNION ALL SELECT o.entity_id, -o.id, o.actor, NULL, o.attribute, o.value, 0,"
            " o.created_at, o.created_at, o.created_at, NULL, NULL FROM statement o"
            f" WHERE {stated} AND o.entity_id IN :keys" + (_ENTITY_ROWS if entities else ""),
            keys,
            entities,
        )
        # In record id order, the stewards' values first: sorted here, as the database would sort
        # every row with its features in tow.
        rows.sort(key=_second)
        found: dict[str, list[MemberRow]] = {}
        for r in rows:
            if r[1] > 0:
                found.setdefault(r[0], []).append(_member(r))
            elif r[1] < 0:
                self._overrides.setdefault(r[0], []).append(
                    Override(-r[1], r[0], r[4], r[5], r[2], _time(r[7]))
                )
            else:
                self.entities.ready[r[0]] = EntityRow(
                    r[0], _KIND[r[4]], r[2], r[5], r[6], _time(r[7]), _time(r[8])
                )
        return [found.get(k, []) for k in keys]

    async def overrides(self, entity_id: str) -> list[Override]:
        """The values stewards set on the entity (read with its members)."""
        await self.members.load(entity_id)
        return self._overrides.get(entity_id, [])

    def links_from(self, relations: frozenset[LinkRelation]) -> Loader[str, list[LinkRow]]:
        """The loader of entities' current links of `relations` from them, in link id order (lists
        that stay short: a person's places and roles, a legal entity's places)."""
        loader = self._links_from.get(relations)
        if loader is None:

            async def load(keys: list[str]) -> list[list[LinkRow]]:
                return self._links(relations, keys)

            loader = self._links_from[relations] = Loader(load)
        return loader

    def _links(self, relations: frozenset[LinkRelation], keys: list[str]) -> list[list[LinkRow]]:
        valid = (
            "valid_to IS NULL"
            if self.as_of is None
            else "valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)"
        )
        names = _relation_list(relations)
        rows = self._rows(
            f"SELECT id, relation, subject_id, object_id, valid_from FROM link WHERE {valid}"
            f" AND relation IN ({names}) AND subject_id IN :keys ORDER BY id",
            keys,
        )
        found: dict[str, list[LinkRow]] = {}
        for r in rows:
            found.setdefault(r[2], []).append(LinkRow(r[0], _RELATION[r[1]], r[2], r[3], _time(r[4])))
        return [found.get(k, []) for k in keys]

    async def _judgements(self, keys: list[int]) -> list[list[JudgementRow]]:
        """The live judgements on each record (as either side of the pair), newest first."""
        columns = (
            "SELECT id, record_a_id, record_b_id, decision, score, actor_type, actor, run_id, note,"
            " created_at, explanation FROM judgement WHERE deleted_at IS NULL AND "
        )
        rows = {r[0]: r for r in self._rows(columns + "record_a_id IN :keys", keys)}
        rows.update((r[0], r) for r in self._rows(columns + "record_b_id IN :keys", keys))
        found: dict[int, list[JudgementRow]] = {}
        for r in sorted(rows.values(), key=lambda r: r[0], reverse=True):
            row = JudgementRow(
                r[0],
                r[1],
                r[2],
                Decision(r[3]),
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                _time(r[9]),
                json_object(r[10]),
            )
            for record_id in (row.record_a_id, row.record_b_id):
                found.setdefault(record_id, []).append(row)
        return [found.get(k, []) for k in keys]

    async def _run_settings(self, keys: list[int]) -> list[dict[str, Any] | None]:
        found = {
            r[0]: json_object(r[1])
            for r in self._rows("SELECT id, settings FROM resolution_run WHERE id IN :keys", keys)
        }
        return [found.get(k) for k in keys]

    async def _records(self, keys: list[int]) -> list[MemberRow | None]:
        """Records by id, each with the entity it belongs to now."""
        rows = self._rows(
            self._members_sql + " FROM source_record r"
            " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
            " JOIN source s ON s.id = r.source_id"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " WHERE r.id IN :keys",
            keys,
        )
        found = {r[1]: _member(r) for r in rows}
        return [found.get(k) for k in keys]

    def link_pages(
        self,
        *,
        outgoing: bool,
        relations: frozenset[LinkRelation],
        after: int,
        size: int,
        counted: bool = True,
    ) -> Loader[str, LinkPage]:
        """The loader of pages of entities' links: those of `relations` from (or to) each entity, in
        link id order, `size` of them after link id `after` (keyset). The database counts (when
        `counted`; else the pages' totals are None) and cuts the list, so that a legal entity with ten
        thousand employees costs a page, not the list."""
        column = "subject_id" if outgoing else "object_id"
        key = (column, relations, after, size, counted)
        loader = self._link_pages.get(key)
        if loader is None:

            async def load(keys: list[str]) -> list[LinkPage]:
                return self._link_page(column, relations, after, size, counted, keys)

            loader = self._link_pages[key] = Loader(load)
        return loader

    def _link_page(
        self,
        column: str,
        relations: frozenset[LinkRelation],
        after: int,
        size: int,
        counted: bool,
        keys: list[str],
    ) -> list[LinkPage]:
        valid = (
            "valid_to IS NULL"
            if self.as_of is None
            else "valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)"
        )
        names = _relation_list(relations)
        where = f"WHERE {valid} AND relation IN ({names}) AND {column} IN :keys"
        totals: dict[str, int] | None = None
        if counted:
            totals = dict(self._rows(f"SELECT {column}, count(*) FROM link {where} GROUP BY {column}", keys))
        found: dict[str, list[LinkRow]] = {}
        if size > 0 and (totals is None or any(k in totals for k in keys)):
            columns = "id, relation, subject_id, object_id, valid_from"
            where += f" AND id > {int(after)}"
            limit = int(size) + 1  # one more than the page: whether more follow
            if len(keys) == 1:  # one entity's page (a lookup's): half the time of numbering the rows
                sql = f"SELECT {columns} FROM link {where} ORDER BY id LIMIT {limit}"
            else:
                sql = (
                    f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER (PARTITION BY {column}"
                    f" ORDER BY id) AS n FROM link {where}) AS numbered WHERE n <= {limit} ORDER BY id"
                )
            rows = self._rows(sql, keys)
            for r in rows:
                row = LinkRow(r[0], _RELATION[r[1]], r[2], r[3], _time(r[4]))
                found.setdefault(row.subject_id if column == "subject_id" else row.object_id, []).append(row)
        pages = []
        for k in keys:
            links = found.get(k, [])
            total = None if totals is None else int(totals.get(k, 0))
            pages.append(LinkPage(total, links[:size], len(links) > size))
        return pages

    async def _payloads(self, keys: list[int]) -> list[dict[str, Any]]:
        version = (
            "r.version"
            if self.as_of is None
            else "(SELECT max(x.version) FROM record_version x"
            " WHERE x.record_id = r.id AND x.received_at <= :at)"
        )
        rows = self._rows(
            "SELECT r.id, v.payload FROM source_record r"
            f" JOIN record_version v ON v.record_id = r.id AND v.version = {version} WHERE r.id IN :keys",
            keys,
        )
        found = {r[0]: json_object(r[1]) for r in rows}
        return [found.get(k, {}) for k in keys]

    async def _evidence(self, keys: list[int]) -> list[list[int]]:
        rows = self._rows("SELECT link_id, record_id FROM link_evidence WHERE link_id IN :keys", keys)
        found: dict[int, list[int]] = {}
        for link_id, record_id in rows:
            found.setdefault(link_id, []).append(record_id)
        return [sorted(found.get(k, [])) for k in keys]


# The loaders `Loaders` makes on first use (its cached properties).
_LOADERS = tuple(name for name, value in vars(Loaders).items() if isinstance(value, cached_property))
