"""`submitRecords`: a department hands the hub records and gets each one's entity back at once.

Only a `writer` client (or an admin) may submit, and a writer only for the sources its scopes name
(`source:tax`). The work runs like a steward's edit (`run_edit`): in a worker thread, in a transaction
of its own committed before the answer is built; the process keeps each kind's resolver warm between
submissions (`hub.submit.LiveResolvers`, one per app).
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum

import strawberry
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.api.context import Info
from hub.api.inputs import RecordsInput, records_of
from hub.api.steward import run_edit
from hub.clients import SOURCE_SCOPE
from hub.domain import Kind
from hub.errors import ForbiddenError
from hub.submit import LiveResolvers, Submission, submit_records

__all__ = ["SUBMIT_ROLES", "SubmittedRecord", "submit"]

SUBMIT_ROLES = frozenset({"writer", "admin"})

log = logging.getLogger(__name__)


@strawberry.enum(description="What became of a submitted record.")
class SubmitOutcome(Enum):
    CREATED = strawberry.enum_value("created", description="An entity of its own: the hub knew no match.")
    JOINED = strawberry.enum_value("joined", description="It joined an entity with other records.")
    REVIEW = strawberry.enum_value(
        "review", description="A steward decides on a possible match; meanwhile it is in `entityId`."
    )
    QUARANTINED = strawberry.enum_value("quarantined", description="Set aside with its `reason`.")


@strawberry.type(description="One submitted record: its entity now and what became of it.")
class SubmittedRecord:
    key: str | None
    outcome: SubmitOutcome
    entity_id: strawberry.ID | None
    unchanged: bool = strawberry.field(
        description="The hub had this record with this content already: nothing changed."
    )
    reason: str | None = strawberry.field(description="Why a record was set aside.")
    pending: bool = strawberry.field(
        description="Stored but not yet resolved: a batch resolution was running (or the kind has never"
        " been resolved), so the next resolution matches it. Until then it keeps the entity it had, or"
        " one of its own."
    )


def _may_submit(info: Info, source: str) -> str:
    """The actor to record; FORBIDDEN for a client that may not submit for `source`."""
    client = info.context.client
    if client is None:
        return "local"
    if client.role not in SUBMIT_ROLES:
        raise ForbiddenError(
            f"client {client.name!r} ({client.role}) may not submit records; the roles that may are"
            f" {', '.join(sorted(SUBMIT_ROLES))}"
        )
    if client.role != "admin" and f"{SOURCE_SCOPE}{source}" not in client.scopes:
        mine = [s.removeprefix(SOURCE_SCOPE) for s in client.scopes if s.startswith(SOURCE_SCOPE)]
        raise ForbiddenError(
            f"client {client.name!r} may not submit records of source {source!r}; it submits for"
            f" {', '.join(mine) or 'no source'}"
        )
    return f"client:{client.name}"


def _prepare(live: LiveResolvers, engine: Engine, kind: Kind) -> None:
    """The kind's resolver read ahead, outside the write lock (`LiveResolvers.prepare`). A failure
    here costs only the time: the submission then reads the kind itself."""
    try:
        live.prepare(engine, kind)
    except Exception:
        log.warning("reading %s ahead of a submission failed", kind.value, exc_info=True)


async def submit(info: Info, source: str, records: RecordsInput) -> list[SubmittedRecord]:
    """Store records of `source` (at most `MAX_SUBMITTED`), resolve them at once and answer for each
    in order."""
    actor = _may_submit(info, source)
    wanted, plain = records_of(records)
    info.context.require_kind(wanted)
    live = info.context.live

    def work(session: Session) -> Submission:
        return submit_records(session, source, wanted, plain, actor=actor, live=live)

    if live is not None:
        await asyncio.to_thread(_prepare, live, info.context.engine, wanted)
    # The resolver is kept before the next edit's turn: a submission waiting for this one then finds it.
    submission = await run_edit(info, work, Submission.committed)
    return [
        SubmittedRecord(
            key=r.key,
            outcome=SubmitOutcome(r.outcome.value),
            entity_id=strawberry.ID(r.entity_id) if r.entity_id else None,
            unchanged=r.unchanged,
            reason=r.reason,
            pending=r.pending,
        )
        for r in submission.results
    ]
