"""The console's entity pages: one person, address or legal entity with its golden values and their
lineage, its members, its history (any instant viewable with `asOf`), the relationship picture, and
the stewards' edits (merge, split, move, override, undo).

Everything is read and written through GraphQL, so masking, scopes, the access log and the audit trail
are the API's. Each edit form carries the version the page showed: when the entity moved on meanwhile
the API answers CONFLICT and the page says so plainly, with a link to the current state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from hub.api.permissions import WRITE_ROLES
from hub.console.app import GraphError, Page, page_route
from hub.domain import Kind
from hub.golden import ATTRIBUTES, RULE

__all__ = ["ENTITY_PAGES", "ROUTES"]

# The kind of each entity page, by path and by the GraphQL root field and id prefix.
ENTITY_PAGES = {"person": "person", "address": "address", "legal-entity": "legalEntity"}
PAGE_OF_PREFIX = {"per": "person", "adr": "address", "leg": "legal-entity"}
# The fields a steward may override, by page kind: every golden attribute, with a value yet or not.
FIELDS = {
    "person": list(ATTRIBUTES[Kind.PERSON]),
    "address": list(ATTRIBUTES[Kind.ADDRESS]),
    "legal": list(ATTRIBUTES[Kind.LEGAL_ENTITY]),
}
RING = 8  # related entities drawn per ring; the rest are counted

_COMMON = """
  id version updatedAt redirectedFrom
  history { version at actor action recordsAdded recordsRemoved eventId details }
  lineage { field value rule values { value chosen source key version receivedAt trust valid original } }
  sourceRecords { source key version receivedAt lastSeenAt flags { field reason } }
"""
_QUERIES = {
    "person": """query($id: ID!, $asOf: DateTime) { entity: person(id: $id, asOf: $asOf) {"""
    + _COMMON
    + """ name idNumber birthDate gender phone
      addresses { relation address { id text legalEntities(first: 8) { legalEntity { id name } } } }
      legalEntities { role legalEntity { id name addresses { address { id text } } } } } }""",
    "address": """query($id: ID!, $asOf: DateTime) { entity: address(id: $id, asOf: $asOf) {"""
    + _COMMON
    + """ text doorplateCode
      residents(first: 40) { relation person { id name
        legalEntities { role legalEntity { id name addresses { address { id text } } } } } }
      legalEntities(first: 20) { relation legalEntity { id name } } } }""",
    "legalEntity": """query($id: ID!, $asOf: DateTime) { entity: legalEntity(id: $id, asOf: $asOf) {"""
    + _COMMON
    + """ name uscc legalForm branch establishedOn phone
      legalRepresentative { id name addresses { address { id text } } }
      employees(first: 20) { edges { node { role person { id name } } } }
      addresses { relation address { id text } } } }""",
}
_VERSION = "query($id: ID!) { node(id: $id) { ... on Entity { id version } } }"
# The other side of a merge, shown before the steward confirms: which entity, at which version.
_OTHER = """query($id: ID!) { node(id: $id) { ... on Entity { id version }
  ... on Person { name kind: __typename sourceRecords { key } }
  ... on Address { text kind: __typename sourceRecords { key } }
  ... on LegalEntity { name kind: __typename sourceRecords { key } } } }"""
_EDIT = "eventId created entity { ... on Entity { id } }"
MERGE = f"""mutation($into: ID!, $iv: Int!, $other: ID!, $ov: Int!, $note: String) {{
  mergeEntities(into: $into, intoVersion: $iv, other: $other, otherVersion: $ov, note: $note) {{
    {_EDIT} }} }}"""
SPLIT = f"""mutation($id: ID!, $v: Int!, $groups: [[RecordRef!]!]!, $note: String) {{
  splitEntity(id: $id, version: $v, groups: $groups, note: $note) {{ {_EDIT} }} }}"""
MOVE = f"""mutation($id: ID!, $v: Int!, $records: [RecordRef!]!, $to: ID!, $tv: Int!, $note: String) {{
  moveRecords(id: $id, version: $v, records: $records, to: $to, toVersion: $tv, note: $note) {{
    {_EDIT} }} }}"""
OVERRIDE = f"""mutation($id: ID!, $v: Int!, $field: String!, $value: String, $note: String) {{
  overrideValue(id: $id, version: $v, field: $field, value: $value, note: $note) {{ {_EDIT} }} }}"""
UNDO = f"""mutation($event: ID!, $note: String) {{ undo(eventId: $event, note: $note) {{ {_EDIT} }} }}"""
# Errors a steward can act on, shown on the entity page rather than as an error page.
REFUSALS = ("BAD_INPUT", "NOT_FOUND", "BUSY")  # BUSY: a batch resolution runs, or another edit holds the lock
UNDOABLE = ("entity.merge", "entity.split", "entity.move", "entity.override")


def entity_path(entity_id: str) -> str:
    """The console page of an entity id (by its kind's prefix)."""
    return f"/console/{PAGE_OF_PREFIX.get(entity_id[:3], 'person')}/{entity_id}"


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    label: str
    ring: int
    x: float = 0.0
    y: float = 0.0


def _picture(kind: str, entity: dict[str, Any]) -> tuple[list[Node], list[tuple[str, str]], int]:
    """The relationship picture: the entity in the middle, what it links to on the first ring, what
    those link to on the second; at most RING per ring, the rest counted."""
    centre = Node(entity["id"], _label(kind, entity), 0)
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    edges: list[tuple[str, str]] = []

    dropped: set[str] = set()

    def add(ring: dict[str, str], item: dict[str, Any], text: str, parent: str) -> None:
        if item["id"] == centre.id or (item["id"] in first and ring is second):
            return
        if item["id"] not in ring and len(ring) >= RING:
            dropped.add(item["id"])
            return
        ring[item["id"]] = text or item["id"]
        edges.append((parent, item["id"]))

    if kind == "person":
        for link in entity["addresses"]:
            add(first, link["address"], link["address"]["text"], centre.id)
            for company in link["address"]["legalEntities"]:
                add(second, company["legalEntity"], company["legalEntity"]["name"], link["address"]["id"])
        for link in entity["legalEntities"]:
            add(first, link["legalEntity"], link["legalEntity"]["name"], centre.id)
            for place in link["legalEntity"]["addresses"]:
                add(second, place["address"], place["address"]["text"], link["legalEntity"]["id"])
    elif kind == "address":
        for link in entity["residents"]:
            add(first, link["person"], link["person"]["name"], centre.id)
            for role in link["person"]["legalEntities"]:
                company = role["legalEntity"]
                add(second, company, company["name"], link["person"]["id"])
        for link in entity["legalEntities"]:
            add(first, link["legalEntity"], link["legalEntity"]["name"], centre.id)
        for link in entity["residents"]:
            for role in link["person"]["legalEntities"]:
                for place in role["legalEntity"]["addresses"]:
                    if len(second) < 2 * RING:
                        add(second, place["address"], place["address"]["text"], role["legalEntity"]["id"])
    else:
        people = [entity["legalRepresentative"]] if entity["legalRepresentative"] else []
        people += [edge["node"]["person"] for edge in entity["employees"]["edges"]]
        for person in people:
            add(first, person, person["name"], centre.id)
        for link in entity["addresses"]:
            add(first, link["address"], link["address"]["text"], centre.id)
        if entity["legalRepresentative"]:
            for place in entity["legalRepresentative"]["addresses"]:
                add(second, place["address"], place["address"]["text"], entity["legalRepresentative"]["id"])
    # The first ring evenly round the centre; the second in the order of the first-ring nodes they
    # hang from, turned to sit as near them as it can, so that few lines cross.
    for node_id in first:  # drawn once, on the nearer ring
        second.pop(node_id, None)
    angles = {node_id: 2 * math.pi * index / max(len(first), 1) for index, node_id in enumerate(first)}
    parents = {b: a for a, b in reversed(edges)}
    for node_id in second:
        parent = parents.get(node_id, centre.id)
        angles.setdefault(node_id, angles.get(parent, 0.0) + 0.01)
    outer = sorted(second, key=lambda node_id: angles[node_id])
    step = 2 * math.pi / max(len(outer), 1)
    turn = math.atan2(
        sum(math.sin(angles[node_id] - step * index) for index, node_id in enumerate(outer)),
        sum(math.cos(angles[node_id] - step * index) for index, node_id in enumerate(outer)),
    )
    angles.update({node_id: step * index + turn for index, node_id in enumerate(outer)})
    nodes = [Node(centre.id, centre.label, 0, 360, 230)]
    for ring, members, radius in ((1, first, 120), (2, {node_id: second[node_id] for node_id in outer}, 200)):
        for node_id, label in members.items():
            angle = angles[node_id]
            x, y = 360 + radius * 1.4 * math.cos(angle), 230 + radius * math.sin(angle)
            nodes.append(Node(node_id, label, ring, x, y))
    shown = {node.id for node in nodes}
    return nodes, [(a, b) for a, b in edges if a in shown and b in shown], len(dropped - shown)


def _kind_of(page: Page) -> str:
    """The page's kind, from its path: /console/<kind>/<id>."""
    return page.request.url.path.split("/")[2]


def _label(kind: str, entity: dict[str, Any]) -> str:
    value = entity.get("name") if kind != "address" else entity.get("text")
    return str(value or entity["id"])


def _as_of(page: Page) -> str | None:
    raw = page.request.query_params.get("as_of")
    if not raw:
        return None
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise GraphError("BAD_INPUT", f"as_of: {raw!r} is not an ISO instant") from None
    return instant.isoformat() if instant.tzinfo else instant.isoformat() + "+00:00"


async def _entity_page(page: Page) -> Response:
    path_kind = _kind_of(page)
    field = ENTITY_PAGES.get(path_kind)
    if field is None:
        return page.error(404, "NOT_FOUND", path_kind)
    entity_id = page.request.path_params["id"]
    as_of = _as_of(page)
    data = await page.graph(_QUERIES[field], id=entity_id, asOf=as_of)
    entity = data["entity"]
    if entity is None:
        return page.error(404, "NOT_FOUND", page.t("entity.not_found", id=entity_id))
    kind = "legal" if field == "legalEntity" else field
    can_edit = page.client.role in WRITE_ROLES and as_of is None
    refused = page.request.query_params.get("refused")
    merging = None
    try:
        merging = await _merge_preview(page, entity["id"]) if can_edit else None
    except GraphError as exc:
        if exc.code not in REFUSALS:
            raise
        refused = exc.message
    nodes, edges, hidden = _picture(field if field != "legalEntity" else "legal", entity)
    positions = {node.id: node for node in nodes}
    return page.render(
        "entities/entity.html",
        kind=kind,
        path_kind=path_kind,
        entity=entity,
        as_of=as_of,
        nodes=nodes,
        edges=[(positions[a], positions[b]) for a, b in edges],
        hidden=hidden,
        entity_path=entity_path,
        undoable=UNDOABLE,
        conflict=page.request.query_params.get("conflict"),
        refused=refused,
        merging=merging,
        fields=FIELDS[kind],
        survivorship=RULE,
        can_edit=can_edit,
    )


async def _merge_preview(page: Page, entity_id: str) -> dict[str, Any] | None:
    """The entity named in `?merge=`, so the steward sees both versions the merge will use before
    confirming; its version then travels with the form like the page's own."""
    other = page.request.query_params.get("merge", "").strip()
    if not other:
        return None
    found = (await page.graph(_OTHER, id=other))["node"]
    if not found:
        raise GraphError("NOT_FOUND", page.t("entity.not_found", id=other))
    if found["id"] == entity_id:
        raise GraphError("BAD_INPUT", page.t("entity.merge_self"))
    found["label"] = found.get("name") or found.get("text") or found["id"]
    return found


def _refs(page: Page) -> list[dict[str, str]]:
    assert page.form is not None
    refs = []
    for value in page.form.getlist("record"):
        source, _, key = str(value).partition("/")
        refs.append({"source": source, "key": key})
    return refs


async def _edit(page: Page) -> Response:
    """One edit from the entity page; CONFLICT comes back to the page as a plain notice."""
    assert page.form is not None
    form = page.form
    path_kind, entity_id = _kind_of(page), page.request.path_params["id"]
    action = str(form.get("action") or "")
    version = int(str(form.get("version") or 0))
    note = str(form.get("note") or "") or None
    try:
        if action == "merge":
            other = str(form.get("other") or "").strip()
            result = await page.graph(
                MERGE,
                into=entity_id,
                iv=version,
                other=other,
                ov=int(str(form.get("other_version") or 0)),
                note=note,
            )
            target = result["mergeEntities"]["entity"]["id"]
        elif action == "split":
            refs = _refs(page)
            result = await page.graph(SPLIT, id=entity_id, v=version, groups=[refs], note=note)
            target = entity_id
        elif action == "move":
            to = str(form.get("to") or "").strip()
            found = (await page.graph(_VERSION, id=to))["node"]
            if not found:
                raise GraphError("NOT_FOUND", page.t("entity.not_found", id=to))
            await page.graph(
                MOVE,
                id=entity_id,
                v=version,
                records=_refs(page),
                to=found["id"],
                tv=found["version"],
                note=note,
            )
            target = entity_id
        elif action == "override":
            value = str(form.get("value") or "")
            await page.graph(
                OVERRIDE,
                id=entity_id,
                v=version,
                field=str(form.get("field")),
                value=value or None,
                note=note,
            )
            target = entity_id
        elif action == "undo":
            result = await page.graph(UNDO, event=str(form.get("event")), note=note)
            entity = result["undo"]["entity"]
            target = entity["id"] if entity else entity_id
        else:
            return page.error(400, "BAD_INPUT", action)
    except GraphError as exc:
        # What the steward can act on comes back to the page; anything else is the coded error page.
        if exc.code == "CONFLICT":
            return page.redirect(f"/{path_kind}/{entity_id}", conflict=exc.message)
        if exc.code in REFUSALS:
            return page.redirect(f"/{path_kind}/{entity_id}", refused=exc.message)
        raise
    return page.redirect(entity_path(target).removeprefix("/console"), notice=f"edit.{action}")


ROUTES: list[BaseRoute] = [
    route
    for kind in ENTITY_PAGES
    for route in (
        page_route(f"/{kind}/{{id:str}}", _entity_page),
        page_route(f"/{kind}/{{id:str}}/edit", _edit, methods=("POST",), roles=WRITE_ROLES),
    )
]
