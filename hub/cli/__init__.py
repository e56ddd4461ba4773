"""The `hub` command line: ingest (a file or a night's load), resolve, export, clients, audit, serve
and the quick-start demo.

Every command is one unit of work against `HUB_DATABASE_URL`; an empty database is created on first
use, while an older one must be migrated explicitly with `hub db upgrade`. Each command group lives in
a module of its own, and heavy modules (the resolver, strawberry, uvicorn) load only inside the
commands that need them, so `hub clients list` starts quickly.
"""

from __future__ import annotations

import sys
from time import perf_counter
from typing import Any

import typer
from rich.markup import escape

from hub.cli import audit, clients, db, demo, export, ingest, quarantine, resolve, serve, sources
from hub.cli.common import close_engines, console, database_failure
from hub.config import apply_config_file
from hub.errors import HubError
from hub.logs import command_finished

__all__ = ["app", "main"]

app = typer.Typer(
    help="The link hub: links a city's person, address and legal-entity records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(ingest.ingest)
app.command()(ingest.load)
app.command()(demo.generate)
app.command()(ingest.normalize)
app.command()(ingest.renormalize)
app.command()(resolve.resolve)
app.command("settings")(resolve.settings_command)
app.command()(resolve.explain)
app.command()(resolve.evaluate)
app.command()(serve.serve)
app.command()(serve.schema)
app.command()(demo.demo)
app.add_typer(db.app, name="db")
app.add_typer(export.app, name="export")
app.add_typer(clients.app, name="clients")
app.add_typer(sources.app, name="sources")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(audit.app, name="audit")


def main() -> None:
    """Entry point of the `hub` console script: expected errors print a message, not a trace. Every
    run ends with its line on the `hub.command` log (`hub.logs`)."""
    started, code = perf_counter(), 1
    try:
        apply_config_file()  # HUB_CONFIG_FILE's settings, under the environment's
        app()
        code = 0
    except SystemExit as exc:  # how click ends every command, a successful one too
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise
    except HubError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        code = 2
        raise SystemExit(2) from None
    except Exception as exc:
        problem = database_failure(exc)
        if problem is None:
            raise
        console.print(f"[red]error:[/red] {escape(problem)}", highlight=False)
        code = 2
        raise SystemExit(2) from None
    finally:
        close_engines()
        command, options = command_line(sys.argv[1:])
        if command:
            command_finished(command, options, code, perf_counter() - started)


def command_line(args: list[str]) -> tuple[str, list[str]]:
    """The command words of `args` ("db backup") and the names of the options given ("--source"),
    without any value or argument: those can be file names, names or identifiers."""
    group: Any = typer.main.get_command(app)
    words: list[str] = []
    for arg in args:
        commands = getattr(group, "commands", None)
        if arg.startswith("-") or not commands or arg not in commands:
            break
        words.append(arg)
        group = commands[arg]
    options = sorted(
        {
            a.split("=", 1)[0]
            for a in args
            if a.startswith("-") and a not in ("-", "--") and not a[1:2].isdigit()
        }
    )
    return " ".join(words), options
