"""`hub audit`: check that the audit trail's hash chain holds and anchor its head outside the database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli.common import open_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="The audit trail of changes: check that it holds, anchor it outside the database.",
    no_args_is_help=True,
)

_KEY_FILE_HELP = "The checkpoint key (default: the file HUB_AUDIT_KEY_FILE names)."


@app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint file: the trail must still reach each of its signed heads."),
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help=_KEY_FILE_HELP)] = None,
) -> None:
    """Walk the audit trail's hash chain (and check its checkpoints); exit 1 naming what does not hold."""
    from sqlalchemy.orm import Session

    from hub.audit import check_checkpoint, load_key, read_checkpoints, verify

    points, key = [], b""
    if checkpoint is not None:
        key = load_key(key_file)
        points = read_checkpoints(checkpoint)
    with Session(_existing_database()) as session:
        check = verify(session)
        failures = [problem for point in points if (problem := check_checkpoint(session, point, key))]
    if check.ok:
        print(f"ok: {check.checked:,} events hold; head {check.head_hash}")
    else:
        print(f"BROKEN at event {check.broken_id}: {check.reason} ({check.checked:,} events before it hold)")
    for problem in failures:
        print(f"BROKEN: {problem}")
    if points and not failures:
        newest = points[-1]
        print(f"ok: {len(points):,} checkpoints hold, the newest the {newest.describe()}")
        if check.ok and check.checked > newest.events:
            later = check.checked - newest.events
            print(f"note: {later:,} events came after it; checkpoint again to anchor them")
    if failures or not check.ok:
        raise typer.Exit(1)


def _existing_database() -> Engine:
    """The configured database, which must hold the hub's schema: checking a trail never creates one
    (an empty database after a failed restore would otherwise pass as a trail of no events)."""
    from hub.store.database import make_engine
    from hub.store.migrations import existing_revision

    probe = make_engine()
    try:
        existing_revision(probe)
    finally:
        probe.dispose()
    return open_engine(create_if_empty=False)


@app.command("checkpoint")
def audit_checkpoint(
    output: Annotated[
        Path | None,
        typer.Option(help="Append the checkpoint to this JSON Lines file (default: print it)."),
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help=_KEY_FILE_HELP)] = None,
) -> None:
    """Sign the trail's head (count, head event and hash, time) with a key kept outside the database."""
    from sqlalchemy.orm import Session

    from hub.audit import checkpoint as sign_head
    from hub.audit import load_key

    key = load_key(key_file)
    with Session(open_engine()) as session:
        check, point = sign_head(session, key)
    if point is None:
        print(
            f"BROKEN at event {check.broken_id}: {check.reason} ({check.checked:,} events before it hold);"
            " no checkpoint written"
        )
        raise typer.Exit(1)
    if output is None:
        sys.stdout.write(point.line())
        return
    with output.open("a", encoding="utf-8") as handle:
        handle.write(point.line())
    print(f"{point.describe()} appended to {output}")
