"""The hub's whole web application: the GraphQL API with the console beside it."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from hub.api import create_app as create_api
from hub.config import get_settings
from hub.console.app import Console, console_routes
from hub.console.session import Sessions

__all__ = ["create_app"]


def create_app(engine: Engine | None = None) -> Starlette:
    """`/graphql`, `/health` and `/console` on `engine` (default: `HUB_DATABASE_URL`)."""

    def add_console(app: Starlette, engine: Engine, reader: Engine) -> None:
        sessions = Sessions(reader, get_settings().console_key_file)
        app.state.console = Console(engine, reader, sessions)
        app.router.routes.extend(console_routes())
        app.router.routes.append(
            Route("/", lambda _request: RedirectResponse("/console/", status_code=307), methods=["GET"])
        )

    return create_api(engine, extend=add_console)
