"""`hub clients`: register, list and revoke API clients; loads no GraphQL, so it stays quick."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import actor, open_engine, print_table

app = typer.Typer(help="API clients: tokens, roles and scopes.", no_args_is_help=True)


@app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. the calling department's system.")],
    role: Annotated[
        str,
        typer.Option(
            help="reader, writer (also submits records), steward, auditor, admin, ops (reads /metrics only)"
            " or gateway (reads the schema only)."
        ),
    ] = "reader",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="person, address, legal_entity (kinds it reads; default all three), pii:read (personal"
            " fields unmasked), pii:lookup (look up by ID number, phone or birth date, masked) or"
            " source:NAME (a writer submits that source's records). Repeat for several."
        ),
    ] = None,
) -> None:
    """Register an API client; its token is printed once, alone on the last line."""
    from sqlalchemy.orm import Session

    from hub.audit import record_event
    from hub.clients import add_client

    with Session(open_engine()) as session, session.begin():
        token = add_client(session, name, role, scope or ())
        record_event(
            session, actor(), "client.add", [f"client:{name}"], after={"role": role, "scopes": scope or []}
        )
    scopes = ", ".join(scope or ()) or "all kinds, personal fields masked"
    print(f"client {name!r} added as {role} ({scopes}); keep this token, it is not shown again:")
    print(token)


@app.command("list")
def clients_list() -> None:
    """The registered clients, their roles and scopes (never their tokens)."""
    from rich.box import SIMPLE_HEAD
    from rich.table import Table
    from sqlalchemy.orm import Session

    from hub.clients import list_clients

    with Session(open_engine()) as session:
        clients = list_clients(session)
    table = Table(box=SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("name", overflow="fold")
    table.add_column("role")
    table.add_column("scopes", overflow="fold")
    table.add_column("status")
    for c in clients:
        status = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
        table.add_row(c.name, c.role, ", ".join(c.scopes) or "-", status)
    print_table(table)


@app.command("revoke")
def clients_revoke(name: Annotated[str, typer.Argument(help="The client's name.")]) -> None:
    """Refuse a client's token from the next request on."""
    from sqlalchemy.orm import Session

    from hub.audit import record_event
    from hub.clients import revoke_client

    with Session(open_engine()) as session, session.begin():
        revoke_client(session, name)
        record_event(session, actor(), "client.revoke", [f"client:{name}"])
    print(f"client {name!r} revoked")
