"""Reading a query's answer ahead: the links of every hop and the members of every entity it names,
set at a time, before its fields resolve.

GraphQL resolves a query field by field. The loaders batch each level's reads into one statement
(`hub.api.loaders`), but every field still costs a coroutine and a turn of the event loop, and every
level its own statements. A lookup (`address(id:)`, `person(id:)`, a search) knows from the query's
selection every hop its answer takes. It takes them first (`read_ahead`): level by level, one statement
per hop for all the entities at that level, then one for the members of every entity named whose
values are asked for. It gives the loaders what it read, so that the fields find their data in hand
and resolve at once (`hub.api.loaders.then`).

Whatever it does not follow (connections, evidence, lineage, history, a field under a directive) the
fields read as before. Reading ahead changes what an answer costs, never the answer: it reads only what
the fields would read, with the loaders' own statements, and leaves refusals and masking to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from hub.api.context import Info
from hub.api.loaders import LinkRow, Loader, Loaders, Missing, held
from hub.api.pagination import page_size
from hub.domain import Kind, LinkRelation
from hub.errors import HubError

__all__ = [
    "COMPANY_PLACES",
    "FROM_MEMBERS",
    "FROM_ROW",
    "HOPS",
    "PERSON_PLACES",
    "ROLES",
    "Hop",
    "Wanted",
    "links_of",
    "read_ahead",
    "read_wanted",
]

PERSON_PLACES = frozenset({LinkRelation.LIVES_AT, LinkRelation.HOUSEHOLD_REGISTERED_AT})
ROLES = frozenset({LinkRelation.LEGAL_REPRESENTATIVE, LinkRelation.EMPLOYED_BY})
COMPANY_PLACES = frozenset({LinkRelation.REGISTERED_AT, LinkRelation.OPERATES_AT})


@dataclass(frozen=True, slots=True)
class Hop:
    """A list field of an entity type that follows links: which links, and what is at their other end."""

    relations: frozenset[LinkRelation]
    end: str  # the field of the list's items that holds the entity at the other end
    kind: Kind  # that entity's kind
    # A page of the links to the entity, cut by the database at `first` (lists that can be long, as
    # `Address.residents`); else every link from it.
    paged: bool


V = TypeVar("V")

# At most so many entity rows are read in the members' statement (repeated in each, when the members
# take several); more are read in statements of their own.
_WITH_MEMBERS = 100

HOPS: dict[tuple[Kind, str], Hop] = {
    (Kind.ADDRESS, "residents"): Hop(PERSON_PLACES, "person", Kind.PERSON, paged=True),
    (Kind.ADDRESS, "legalEntities"): Hop(COMPANY_PLACES, "legalEntity", Kind.LEGAL_ENTITY, paged=True),
    (Kind.PERSON, "addresses"): Hop(PERSON_PLACES, "address", Kind.ADDRESS, paged=False),
    (Kind.PERSON, "legalEntities"): Hop(ROLES, "legalEntity", Kind.LEGAL_ENTITY, paged=False),
    (Kind.LEGAL_ENTITY, "addresses"): Hop(COMPANY_PLACES, "address", Kind.ADDRESS, paged=False),
}

# The fields whose values come from the entity's members (its golden values, its records).
FROM_MEMBERS: dict[Kind, frozenset[str]] = {
    Kind.PERSON: frozenset({"name", "idNumber", "birthDate", "gender", "phone", "sourceRecords"}),
    Kind.ADDRESS: frozenset({"text", "doorplateCode", "components", "sourceRecords"}),
    Kind.LEGAL_ENTITY: frozenset(
        {"name", "uscc", "legalForm", "branch", "establishedOn", "phone", "sourceRecords"}
    ),
}
FROM_ROW = frozenset({"version", "updatedAt"})  # read from the entity's own row

# The GraphQL types a fragment may name to apply to an entity of each kind.
_TYPES: dict[Kind, frozenset[str]] = {
    Kind.PERSON: frozenset({"Person", "Entity", "Node"}),
    Kind.ADDRESS: frozenset({"Address", "Entity", "Node"}),
    Kind.LEGAL_ENTITY: frozenset({"LegalEntity", "Entity", "Node"}),
}


@dataclass(slots=True)
class Wanted:
    """What a selection asks of the entities at one level: their members (for golden values and
    records), their own rows (version, time of change), and the hops it takes from them, each with its
    page size (for a paged hop) and what it asks of the entities at the other end."""

    members: bool = False
    row: bool = False
    hops: list[tuple[Hop, int, Wanted]] = field(default_factory=list)


def read_ahead(info: Info, kind: Kind, entity_ids: Sequence[str], path: Sequence[str] = ()) -> None:
    """Read now what the current field's selection will ask of the entities `entity_ids` (of `kind`):
    `path` names the fields from the current field's type down to where those entities are (e.g.
    `("person",)` for the matches of `searchPersons`)."""
    if not entity_ids or not info.context.read_ahead:
        return
    selections: list[Selection] = list(info.selected_fields)
    for name in ("", *path):  # "" : the current field itself
        fields = [f for f in _fields(selections, None) if not name or f.name == name]
        selections = [s for f in fields for s in f.selections]
    read_wanted(info.context.loaders, kind, entity_ids, _wanted(info, kind, selections))


def read_wanted(
    loaders: Loaders, kind: Kind, entity_ids: Sequence[str], wanted: Wanted, rows: Sequence[str] = ()
) -> None:
    """Read what `wanted` asks of the entities `entity_ids` (of `kind`), and of those its hops reach,
    for the loaders to hold: one statement per hop and level, one for every entity's members and the
    entity rows asked for (those `wanted` asks, and `rows`)."""
    members: dict[str, None] = {}
    entities = dict.fromkeys(rows)
    _read(loaders, kind, list(dict.fromkeys(entity_ids)), wanted, members, entities)
    if members and len(entities) <= _WITH_MEMBERS:
        loaders.ahead_members(members, entities)
        return
    if entities:
        loaders.ahead_entities(entities)
    if members:
        loaders.ahead_members(members)


def _read(
    loaders: Loaders,
    kind: Kind,
    entity_ids: list[str],
    wanted: Wanted,
    members: dict[str, None],
    rows: dict[str, None],
) -> None:
    if wanted.members:
        members.update(dict.fromkeys(entity_ids))
    if wanted.row:
        rows.update(dict.fromkeys(entity_ids))
    for hop, size, inner in wanted.hops:
        ends = [
            link.subject_id if hop.paged else link.object_id
            for link in links_of(loaders, hop, size, entity_ids)
        ]
        if ends:
            _read(loaders, hop.kind, list(dict.fromkeys(ends)), inner, members, rows)


def links_of(loaders: Loaders, hop: Hop, size: int, entity_ids: list[str]) -> list[LinkRow]:
    """The links `hop` lists for the entities (a page of `size` for a paged hop), in their order, read
    now where the loaders do not hold them yet."""
    if len(entity_ids) == 1:  # one entity's, as an answer is built: most often in hand already
        held_links = _held_links(loaders, hop, size, entity_ids[0])
        if held_links is not None:
            return held_links
    if hop.paged:
        loader = loaders.ahead_link_pages(
            entity_ids, outgoing=False, relations=hop.relations, after=0, size=size, counted=False
        )
        return [link for page in _in_hand(loader, entity_ids) for link in page.links]
    loaders.ahead_links_from(entity_ids, hop.relations)
    return [link for links in _in_hand(loaders.links_from(hop.relations), entity_ids) for link in links]


def _held_links(loaders: Loaders, hop: Hop, size: int, entity_id: str) -> list[LinkRow] | None:
    """The links `hop` lists for the entity when the loaders hold them, else None."""
    if hop.paged:
        page = held(
            loaders.link_pages(outgoing=False, relations=hop.relations, after=0, size=size, counted=False),
            entity_id,
        )
        return None if isinstance(page, Missing) else page.links
    links = held(loaders.links_from(hop.relations), entity_id)
    return None if isinstance(links, Missing) else links


def _wanted(info: Info, kind: Kind, selections: list[Selection]) -> Wanted:
    fields = _fields(selections, kind)
    names = {f.name for f in fields}
    wanted = Wanted(members=bool(names & FROM_MEMBERS[kind]), row=bool(names & FROM_ROW))
    for f in fields:
        hop = HOPS.get((kind, f.name))
        if hop is None or not _may_read(info, kind, hop.kind):
            continue
        first = f.arguments.get("first")
        try:  # a literal comes as its text, a variable as its value
            size = page_size(None if first is None else int(first))
        except (HubError, TypeError, ValueError):
            continue  # the field refuses it, and says why
        inner = [s for end in _fields(f.selections, None) if end.name == hop.end for s in end.selections]
        wanted.hops.append((hop, size, _wanted(info, hop.kind, inner)))
    return wanted


def _in_hand(loader: Loader[str, V], keys: list[str]) -> Iterator[V]:
    """The values `loader` holds for `keys` (one asked for by a field before, and not read yet, is not)."""
    for key in keys:
        value = held(loader, key)
        if not isinstance(value, Missing):
            yield value


def _fields(selections: Iterable[Selection], kind: Kind | None) -> list[SelectedField]:
    """The fields of `selections`, those of fragments that apply to an entity of `kind` included (of
    every fragment when `kind` is None); none under a directive, which may skip them."""
    out: list[SelectedField] = []
    for selection in selections:
        if selection.directives:
            continue
        if isinstance(selection, SelectedField):
            out.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            condition = selection.type_condition
            if kind is None or condition is None or condition in _TYPES[kind]:
                out += _fields(selection.selections, kind)
    return out


def _may_read(info: Info, *kinds: Kind) -> bool:
    client = info.context.client
    return client is None or all(kind in client.kinds for kind in kinds)
