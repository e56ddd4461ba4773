"""Offline Apollo Federation v2 composition: the hub's subgraph must compose with the departments' subgraphs.

A router composes every subgraph's `_service { sdl }` into one supergraph; a type or key the hub gets
wrong only shows up there, long after the hub's own tests passed. `federation/compose.mjs` runs the
open-source composition library (@theguild/federation-composition) so the check runs here, without a
router or network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from graphql import DocumentNode, ObjectTypeDefinitionNode, ObjectTypeExtensionNode, parse
from sqlalchemy import create_engine

from hub.api.context import HubContext
from hub.api.schema import schema

FEDERATION_DIR = Path(__file__).resolve().parents[1] / "federation"
NODE = shutil.which("node")
FIX = "run `npm ci --prefix federation` in the repository root"

if NODE is None:
    pytest.skip(
        f"node is not on PATH, so subgraphs cannot be composed: install Node.js, then {FIX}",
        allow_module_level=True,
    )
if not (FEDERATION_DIR / "node_modules" / "@theguild" / "federation-composition").is_dir():
    pytest.skip(f"federation/node_modules is missing the composition library: {FIX}", allow_module_level=True)

SOCIAL_SECURITY_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Person @key(fields: "id") {
  id: ID!
  pensionStatus: String
}

type Query {
  pensioners(status: String!): [Person!]!
}
"""

CONFLICTING_ID_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Person @key(fields: "id") {
  id: Int!
  pensionStatus: String
}

type Query {
  pensioners(status: String!): [Person!]!
}
"""

RELAY_DEPARTMENT_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key", "@shareable"])

type PageInfo @shareable {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type Person @key(fields: "id") {
  id: ID!
  benefits(first: Int, after: String): BenefitConnection!
}

type Benefit {
  name: String!
}

type BenefitEdge {
  cursor: String!
  node: Benefit!
}

type BenefitConnection {
  edges: [BenefitEdge!]!
  pageInfo: PageInfo!
}

type Query {
  benefitsPaid(first: Int, after: String): BenefitConnection!
}
"""

UNSHAREABLE_PAGE_INFO_SDL = RELAY_DEPARTMENT_SDL.replace("type PageInfo @shareable", "type PageInfo")

# The federation version each directive first appeared in; the hub declares the highest it uses.
DIRECTIVE_VERSIONS = {
    "@key": (2, 0),
    "@shareable": (2, 0),
    "@inaccessible": (2, 0),
    "@external": (2, 0),
    "@requires": (2, 0),
    "@provides": (2, 0),
    "@override": (2, 0),
    "@tag": (2, 0),
    "@extends": (2, 0),
    "@composeDirective": (2, 1),
    "@interfaceObject": (2, 3),
    "@authenticated": (2, 5),
    "@requiresScopes": (2, 5),
    "@policy": (2, 6),
    "@context": (2, 8),
    "@fromContext": (2, 8),
    "@cost": (2, 9),
    "@listSize": (2, 9),
}

FEDERATION_QUERY_FIELDS = {"_entities", "_service"}
"""The router answers these itself; composition drops them from the supergraph's Query."""


def hub_subgraph_sdl() -> str:
    """The SDL a router fetches from the hub: `_service { sdl }` keeps the federation directives.

    The context is a real one because the unit-of-work extension finishes it; the query touches
    no table, so an in-memory engine that never connects is enough.
    """
    context = HubContext(engine=create_engine("sqlite://"))
    result = schema.execute_sync("{ _service { sdl } }", context_value=context)
    assert not result.errors, result.errors
    assert result.data is not None
    sdl: str = result.data["_service"]["sdl"]
    return sdl


def object_fields(document: DocumentNode) -> dict[str, set[str]]:
    """Field names per object type, definitions and extensions merged, as composition sees them."""
    fields: dict[str, set[str]] = {}
    for node in document.definitions:
        if isinstance(node, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            fields.setdefault(node.name.value, set()).update(field.name.value for field in node.fields or ())
    return fields


def compose(subgraphs: dict[str, str]) -> dict[str, Any]:
    """Run compose.mjs on named subgraph SDLs; a composition failure is an answer, a crash is not."""
    payload = [
        {"name": name, "url": f"http://{name}.invalid/graphql", "sdl": sdl} for name, sdl in subgraphs.items()
    ]
    assert NODE is not None
    process = subprocess.run(
        [NODE, "compose.mjs"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        cwd=FEDERATION_DIR,
        check=False,
    )
    assert process.returncode == 0, f"compose.mjs failed ({process.returncode}):\n{process.stderr}"
    answer: dict[str, Any] = json.loads(process.stdout)
    return answer


HUB_SDL = hub_subgraph_sdl()
HUB_FIELDS = object_fields(parse(HUB_SDL))
needs_person = pytest.mark.skipif(
    "Person" not in HUB_FIELDS,
    reason='the hub\'s subgraph does not define `type Person @key(fields: "id")` yet',
)


@needs_person
def test_hub_composes_with_a_department_that_extends_person() -> None:
    answer = compose({"hub": HUB_SDL, "social_security": SOCIAL_SECURITY_SDL})
    assert answer["ok"], "composition failed:\n" + "\n".join(answer["errors"])
    composed = object_fields(parse(answer["supergraph"]))
    assert HUB_FIELDS["Person"] | {"pensionStatus"} <= composed["Person"]
    assert (HUB_FIELDS["Query"] - FEDERATION_QUERY_FIELDS) | {"pensioners"} <= composed["Query"]
    for name in ("Address", "LegalEntity"):
        assert HUB_FIELDS.get(name, set()) <= composed.get(name, set()), name


@needs_person
def test_a_department_that_retypes_the_person_key_is_rejected() -> None:
    answer = compose({"hub": HUB_SDL, "social_security": CONFLICTING_ID_SDL})
    assert not answer["ok"], "a subgraph declaring Person.id as Int! composed with the hub's ID!"
    assert any("Person.id" in error and "Int!" in error for error in answer["errors"]), answer["errors"]


@needs_person
def test_a_department_with_relay_connections_composes_since_page_info_is_shareable() -> None:
    answer = compose({"hub": HUB_SDL, "benefits": RELAY_DEPARTMENT_SDL})
    assert answer["ok"], "composition failed:\n" + "\n".join(answer["errors"])
    composed = object_fields(parse(answer["supergraph"]))
    assert composed["PageInfo"] == {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}
    assert {"benefits", "addresses"} <= composed["Person"]


@needs_person
def test_page_info_shared_with_a_subgraph_that_does_not_mark_it_is_refused() -> None:
    """The hub's side of the rule holds; a department must mark its own PageInfo shareable too."""
    answer = compose({"hub": HUB_SDL, "benefits": UNSHAREABLE_PAGE_INFO_SDL})
    assert not answer["ok"]
    assert any("PageInfo" in error and "shareable" in error.lower() for error in answer["errors"]), answer


def test_the_hub_declares_the_lowest_federation_version_its_directives_need() -> None:
    link = next(d for d in parse(HUB_SDL).definitions if getattr(d, "directives", None))
    [directive] = [d for d in link.directives if d.name.value == "link"]  # type: ignore[attr-defined]
    arguments = {a.name.value: a.value for a in directive.arguments}
    url = arguments["url"].value
    imported = [v.value for v in arguments["import"].values]
    declared = tuple(int(part) for part in url.rsplit("/v", 1)[1].split("."))
    assert set(imported) <= DIRECTIVE_VERSIONS.keys(), imported
    assert declared == max(DIRECTIVE_VERSIONS[name] for name in imported), (url, imported)
    assert declared == (2, 0)  # what the hub uses today: @key, @shareable, @inaccessible


STEWARD_AND_AUDIT_FIELDS = {
    "Query.reviewItems",
    "Query.reviewItem",
    "Query.auditEvents",
    "Query.accessLog",
    "Entity.history",
    "Person.history",
    "Address.history",
    "LegalEntity.history",
    "SourceRecord.judgements",
    # Stewards' mutations; a department's own, `submitRecords`, stays in the supergraph.
    "Mutation.claimReviewItem",
    "Mutation.decideReviewItem",
    "Mutation.releaseReviewItem",
    "Mutation.mergeEntities",
    "Mutation.splitEntity",
    "Mutation.moveRecords",
    "Mutation.overrideValue",
    "Mutation.undo",
}


def inaccessible(document: DocumentNode) -> tuple[set[str], set[str]]:
    """The type names and `Type.field` names marked @inaccessible."""
    types: set[str] = set()
    fields: set[str] = set()
    for node in document.definitions:
        name = getattr(getattr(node, "name", None), "value", None)
        if any(d.name.value == "inaccessible" for d in getattr(node, "directives", None) or ()):
            types.add(str(name))
        for field in getattr(node, "fields", None) or ():
            if any(d.name.value == "inaccessible" for d in field.directives or ()):
                fields.add(f"{name}.{field.name.value}")
    return types, fields


def test_stewards_and_auditors_fields_are_inaccessible_to_a_supergraph() -> None:
    types, fields = inaccessible(parse(HUB_SDL))
    assert fields == STEWARD_AND_AUDIT_FIELDS
    assert "Mutation" not in types
    assert {
        "ReviewItemNode",
        "AuditEvent",
        "AccessLogEntry",
        "EntityChange",
        "RecordJudgement",
    } <= types
    contract = {"Query", "Person", "Address", "LegalEntity", "SourceRecord", "PersonAddress", "PageInfo"}
    assert not types & contract
    answer = compose({"hub": HUB_SDL, "benefits": RELAY_DEPARTMENT_SDL})
    assert answer["ok"], "composition failed:\n" + "\n".join(answer["errors"])
