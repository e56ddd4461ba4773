"""Write docs/stewards-and-auditors.md: a steward's and an auditor's GraphQL operations on the demo
city, each with the answer the hub really gave.

    python docs/walkthrough.py > docs/stewards-and-auditors.md

It loads the demo city (`hub demo --no-serve`, 10,000 persons, seed 1) into a throw-away SQLite
database, registers a steward, an auditor and a reader with `pii:read` with `hub clients add`, and
sends each operation over HTTP to the hub's ASGI app. Ids and times change from run to run; the
shapes and the behaviour do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HUB = [sys.executable, "-m", "hub"]


def hub(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"hub {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def token(env: dict[str, str], name: str, role: str, *scopes: str) -> str:
    options = [f"--scope={s}" for s in scopes]
    return hub(env, "clients", "add", name, "--role", role, *options).strip().splitlines()[-1]


class Walk:
    def __init__(self, app: Any) -> None:
        from starlette.testclient import TestClient

        self.app = app
        self.client = TestClient
        self.out: list[str] = []

    def say(self, text: str) -> None:
        self.out.append(text.strip() + "\n")

    def run(self, who: str, bearer: str, query: str, purpose: str | None = None, **variables: Any) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"}
        if purpose:
            headers["X-Purpose"] = purpose
        with self.client(self.app, headers=headers) as client:
            body = client.post("/graphql", json={"query": query, "variables": variables}).json()
        shown = json.dumps(body, ensure_ascii=False, indent=2)
        call = query.strip() + (
            f"\n# variables: {json.dumps(variables, ensure_ascii=False)}" if variables else ""
        )
        self.out.append(f"*{who}:*\n\n```graphql\n{call}\n```\n\n```json\n{shown}\n```\n")
        return body


REVIEW = """query Queue {
  reviewItems(kind: PERSON, state: OPEN, first: 1) {
    totalCount
    edges { node { id state priority score
      explanation { comparison level weight }
      records { source key entityId payload } } }
  }
}"""
CLAIM = "mutation Claim($id: ID!) { claimReviewItem(id: $id) { id state assignee } }"
DECIDE = """mutation Decide($id: ID!, $note: String) {
  decideReviewItem(id: $id, decision: NOT_MATCH, note: $note) { id state decision note assignee }
}"""
VERSIONS = """query Versions($a: ID!, $b: ID!) {
  a: person(id: $a) { id version name }
  b: person(id: $b) { id version name }
}"""
MERGE = """mutation Merge($a: ID!, $av: Int!, $b: ID!, $bv: Int!) {
  mergeEntities(into: $a, intoVersion: $av, other: $b, otherVersion: $bv, note: "one person") {
    eventId
    entity { id ... on Person { version name sourceRecords { source key } } }
  }
}"""
UNDO = 'mutation Undo($e: ID!) { undo(eventId: $e, note: "merged the wrong pair") { eventId entity { id } } }'
EVENTS = """query Trail($actor: String) {
  auditEvents(actor: $actor, first: 10) {
    totalCount
    edges { node { id occurredAt actor action subjectIds after prevHash hash } }
  }
}"""
ON_ENTITY = """query OnEntity($id: ID!) {
  auditEvents(entityId: $id) { totalCount edges { node { id actor action } } }
}"""
PII = "query Case($id: ID!) { person(id: $id) { name idNumber phone } }"
OVERRIDE = """mutation Correct($id: ID!, $v: Int!) {
  overrideValue(id: $id, version: $v, field: "phone", value: "13912345678", note: "confirmed by phone call") {
    eventId
    entity { ... on Person { phone lineage { field value values { value original chosen source } } } }
  }
}"""
RECORDS = """query Records($id: ID!) {
  person(id: $id) { id version name sourceRecords { source key } }
}"""
SPLIT = """mutation Split($id: ID!, $v: Int!, $groups: [[RecordRef!]!]!) {
  splitEntity(id: $id, version: $v, groups: $groups, note: "two people under one name") {
    eventId created
    entity { id ... on Person { version sourceRecords { source key } } }
  }
}"""
HISTORY = """query History($id: ID!) {
  person(id: $id) { id history { version at actor action recordsAdded recordsRemoved eventId } }
}"""
AS_OF = """query Then($id: ID!, $at: DateTime!) {
  person(id: $id, asOf: $at) { id name sourceRecords { source key } addresses { relation address { text } } }
}"""
ACCESS = """query Seen($id: ID!) {
  accessLog(entityId: $id) {
    totalCount edges { node { occurredAt client operationName operation variables fields purpose } } }
}"""


def _person_with_records(url: str, at_least: int) -> str:
    """The first active person entity with at least `at_least` current records."""
    from sqlalchemy import text

    from hub.store.database import make_engine

    with make_engine(url).connect() as connection:
        return str(
            connection.execute(
                text(
                    "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
                    " WHERE m.valid_to IS NULL AND e.kind = 'person' AND e.status = 'active'"
                    " GROUP BY m.entity_id HAVING count(*) >= :n ORDER BY m.entity_id LIMIT 1"
                ),
                {"n": at_least},
            ).scalar_one()
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp}/hub.db", "HUB_ACTOR": "cli:operator"}
        hub(env, "demo", "--no-serve", "--out", f"{tmp}/city")
        steward = token(env, "steward-li", "steward")
        auditor = token(env, "audit-office", "auditor")
        caseworker = token(env, "civil-affairs", "reader", "person", "pii:read")
        os.environ["HUB_DATABASE_URL"] = env["HUB_DATABASE_URL"]

        from hub.api import create_app

        walk = Walk(create_app())
        walk.say(
            "# Stewards and auditors: a walk-through\n\n"
            "The operations a data steward and an auditor run, on the demo city (`hub demo`: 10,000"
            " persons, seed 1), each with the hub's real answer. Written by `python docs/walkthrough.py`"
            " (ids and times differ from run to run). Every request carries the bearer token of a"
            " client registered with `hub clients add NAME --role steward|auditor|...`."
        )
        walk.say("## The steward\n\nThe review queue, most uncertain pair first, with both records and"
                 " each comparison's part of the score (personal values masked: the steward has no"
                 " `pii:read`):")  # fmt: skip
        queue = walk.run("steward", steward, REVIEW)
        item = queue["data"]["reviewItems"]["edges"][0]["node"]
        walk.say("The steward takes the item, so that nobody else works on it at the same time:")
        walk.run("steward", steward, CLAIM, id=item["id"])
        walk.say(
            "and decides it. NOT_MATCH becomes the steward's judgement on the pair: every later"
            " `hub resolve` keeps the two records apart, and the pair never comes back to the queue."
        )
        walk.run("steward", steward, DECIDE, id=item["id"], note="two people: checked with the grid office")

        second = walk.run("steward", steward, REVIEW)["data"]["reviewItems"]["edges"][0]["node"]
        a, b = (r["entityId"] for r in second["records"])
        walk.say(
            "## Merge and undo\n\nThe next item is another pair the model could not decide. Say the"
            " steward merges their two entities by mistake. A merge"
            " states the version of each entity the steward saw, so that an edit made meanwhile by"
            " someone else is never overwritten:"
        )
        versions = walk.run("steward", steward, VERSIONS, a=a, b=b)["data"]
        before_merge = datetime.now(UTC).isoformat()
        merged = walk.run(
            "steward", steward, MERGE, a=a, av=versions["a"]["version"], b=b, bv=versions["b"]["version"]
        )
        walk.say("The same request again, with the versions it saw before, is refused:")
        walk.run(
            "steward", steward, MERGE, a=a, av=versions["a"]["version"], b=b, bv=versions["b"]["version"]
        )
        walk.say(
            "Undo names the audit event of the merge and puts members, status and links back as"
            " they were; the steward's judgement that joined them is withdrawn:"
        )
        walk.run("steward", steward, UNDO, e=merged["data"]["mergeEntities"]["eventId"])
        version = walk.run("steward", steward, VERSIONS, a=a, b=b)["data"]["a"]["version"]
        walk.say(
            "A steward corrects a golden value by hand. The value is the steward's statement: it"
            " outranks every source, and the sources' values stay in the lineage (a steward without"
            " `pii:read` sees them masked):"
        )
        walk.run("steward", steward, OVERRIDE, id=a, v=version)
        walk.say("A steward may not read the audit trail:")
        walk.run("steward", steward, EVENTS)

        several = _person_with_records(env["HUB_DATABASE_URL"], at_least=3)
        walk.say(
            "## Split\n\nThe opposite mistake: one entity holding two people. This person has"
            " several records:"
        )
        shown = walk.run("steward", steward, RECORDS, id=several)["data"]["person"]
        first = shown["sourceRecords"][0]
        walk.say(
            "The steward splits the first record off into an entity of its own, stating the version"
            " seen. Later runs keep the parts as the steward left them: the records split off are"
            " chained to one another, the records that stay likewise, and each pair across gets a"
            " negative judgement (undo withdraws them all):"
        )
        split = walk.run("steward", steward, SPLIT, id=several, v=shown["version"], groups=[[first]])
        created = split["data"]["splitEntity"]["created"][0]
        hub(env, "resolve", "--all")
        walk.say("A batch run of every record anew (`hub resolve --all`) leaves both as they are:")
        walk.run("steward", steward, RECORDS, id=several)
        walk.run("steward", steward, RECORDS, id=created)

        walk.say(
            "## The auditor\n\nA caseworker of civil affairs, whose client may see personal data,"
            " looks a person up for a case:"
        )
        walk.run("caseworker", caseworker, PII, purpose="case", id=a)
        walk.say(
            "Who did what as `steward-li`, in the order it happened, each event chained to the one before:"
        )
        walk.run("auditor", auditor, EVENTS, actor="steward:steward-li")
        walk.say("Everything that touched one entity, by anyone:")
        walk.run("auditor", auditor, ON_ENTITY, id=a)
        walk.say(
            "The history of the entity the steward merged and restored, oldest first: records that came"
            " and went at ingest and in resolution, and each audited edit with the records it moved:"
        )
        walk.run("auditor", auditor, HISTORY, id=b)
        walk.say("And the survivor as it was just before the merge (`asOf`: members, values, links then):")
        walk.run("auditor", auditor, AS_OF, id=a, at=before_merge)
        walk.say("Who saw this person's personal data, when, in which operation and for what:")
        walk.run("auditor", auditor, ACCESS, id=a)
        walk.say("An auditor reads but may not decide:")
        walk.run("auditor", auditor, DECIDE, id=second["id"], note="auditors only read")
        verify = hub(env, "audit", "verify").strip()
        walk.say(
            "## Checking the trail\n\n`hub audit verify` walks the hash chain from the first event:\n\n"
            f"```\n$ hub audit verify\n{verify}\n```\n\n"
            "Changing or deleting any row of `audit_event` (the database refuses both; someone would"
            " have to drop its triggers first) makes it fail and name that row. A chain cannot show on"
            " its own that its newest events were deleted or that it was rewritten with every later hash"
            " recomputed: checkpoints kept outside the database can (below)."
        )
        walk.say((Path(__file__).parent / "audit-reference.md").read_text().strip())
        sys.stdout.write("\n".join(walk.out))


if __name__ == "__main__":
    main()
