"""The console's Starlette routes under `/console`: sign-in, the page guard, rendering and the in-process
GraphQL calls every page makes.

A page is an async handler taking a `Page`: the request, the signed-in client and its language. Pages
read and write through the same GraphQL schema departmental systems call (`Page.graph`), executed in
process with the signed-in client as the caller, so roles, masking, coded errors and the access log
apply to the console exactly as to the API. What the API does not serve (the quarantine, the match
statistics, the chain's verification) a page reads through the services below it, under the same
role sets, and logs any personal data it shows with `Page.log_personal`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hub import access_log
from hub.api.context import HubContext
from hub.api.schema import schema
from hub.config import get_settings
from hub.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogue, translate
from hub.console.session import CONSOLE_ROLES, ConsoleSession, Sessions

__all__ = ["Console", "GraphError", "Page", "console_routes", "page_route"]

LANGUAGE_COOKIE = "hub_lang"
STATIC = Path(__file__).parent / "static"
Handler = Callable[["Page"], Awaitable[Response]]


class GraphError(Exception):
    """A GraphQL operation the console made answered with errors; `code` is the first error's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Headers:
    """The request's headers as GraphQL sees them: the console states its purpose itself."""

    def __init__(self, request: Request, purpose: str | None) -> None:
        self._request, self._purpose = request, purpose

    def get(self, name: str, default: Any = None) -> Any:
        if name.lower() == "x-purpose":
            return self._purpose
        return self._request.headers.get(name, default)


class _ConsoleRequest:
    def __init__(self, request: Request, purpose: str | None) -> None:
        self.headers = _Headers(request, purpose)
        self.scope = request.scope
        self.client = request.client


@dataclass
class Console:
    """What every page shares: the engines, the sessions and the template environment."""

    engine: Engine
    reader: Engine
    sessions: Sessions
    templates: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.templates = Environment(
            loader=PackageLoader("hub.console", "templates"),
            autoescape=select_autoescape(("html", "svg")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["urlquote"] = lambda value: quote(str(value), safe="")


@dataclass
class Page:
    """One request to a console page, signed in."""

    request: Request
    console: Console
    session: ConsoleSession
    language: str
    form: FormData | None = None

    @property
    def client(self) -> Any:
        return self.session.client

    @property
    def can_write(self) -> bool:
        from hub.api.permissions import WRITE_ROLES

        return self.session.client.role in WRITE_ROLES

    @property
    def can_audit(self) -> bool:
        from hub.api.permissions import AUDIT_ROLES

        return self.session.client.role in AUDIT_ROLES

    @property
    def console_strings(self) -> dict[str, dict[str, str]]:
        return catalogue()

    def t(self, key: str, **values: Any) -> str:
        return translate(self.language, key, **values)

    def purpose(self) -> str | None:
        """What the console's reads are for, as the access log records it: an auditor audits, a
        steward maintains the data (when the operators' list of purposes has that code)."""
        code = "audit" if self.client.role == "auditor" else "maintenance"
        return code if code in get_settings().purposes else None

    async def graph(self, document: str, **variables: Any) -> dict[str, Any]:
        """Run a GraphQL operation as the signed-in client; its data, or GraphError."""
        context = HubContext(
            engine=self.console.engine,
            reader=self.console.reader,
            request=_ConsoleRequest(self.request, self.purpose()),
            client=self.client,
        )
        result = await schema.execute(document, variable_values=variables, context_value=context)
        if result.errors:
            error = result.errors[0]
            code = str((error.extensions or {}).get("code", "INTERNAL"))
            raise GraphError(code, error.message)
        return dict(result.data or {})

    def db(self) -> Session:
        """A read-only session (autocommit) for what GraphQL does not serve."""
        return Session(self.console.reader)

    def log_personal(self, what: str, entity_ids: Iterable[str], fields: Iterable[str]) -> None:
        """Write an access-log row for personal data a page showed outside GraphQL (`what` names the
        page, as an operation name)."""
        context = HubContext(engine=self.console.engine, client=self.client)
        masked = "" if self.client.sees_pii else ":masked"
        for entity_id in entity_ids:
            context.personal[entity_id] = {f"{name}{masked}" for name in fields}
        if not context.personal:
            context.personal["-"] = {f"{name}{masked}" for name in fields}
        access_log.write(context, f"console {what}", None, what, None, self.purpose())

    def url(self, path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"/console{path}" + (f"?{query}" if query else "")

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        page = self.console.templates.get_template(template)
        body = page.render(
            t=self.t,
            page=self,
            language=self.language,
            languages=LANGUAGES,
            client=self.client,
            csrf=self.session.csrf,
            path=self.request.url.path,
            notice=self.request.query_params.get("notice"),
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=_NO_STORE)

    def redirect(self, path: str, **params: Any) -> RedirectResponse:
        return RedirectResponse(self.url(path, **params), status_code=303)

    def error(self, status: int, code: str, message: str) -> HTMLResponse:
        return self.render("error.html", status=status, code=code, message=message)


# Pages show personal data: no cache keeps them, no frame shows them, no script from elsewhere runs.
_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'self'; form-action 'self'; frame-ancestors 'none'",
}
_STATUS = {
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "BAD_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "BUSY": 503,
}


def language_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def page_route(
    path: str,
    handler: Handler,
    *,
    methods: tuple[str, ...] = ("GET",),
    roles: frozenset[str] = CONSOLE_ROLES,
    name: str | None = None,
) -> Route:
    """A console page at `/console{path}`: signed-in clients of `roles` only (others are sent to sign in,
    or refused with 403); a POST must carry the session's CSRF token (form field `csrf` or header
    `X-CSRF-Token`), else 403. A GraphError the handler lets through is shown as a coded error page."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        language = language_of(request)
        session = console.sessions.current(request)
        if session is None:
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/console/sign-in?{urlencode({'next': target})}", status_code=303)
            return HTMLResponse(translate(language, "error.signed_out"), status_code=401)
        request.scope.setdefault("state", {})["client"] = session.client  # the request log names it
        page = Page(request, console, session, language)
        if request.method == "POST":
            page.form = await request.form()
            given = page.form.get("csrf") or request.headers.get("x-csrf-token")
            if not Sessions.check_csrf(session, str(given) if given else None):
                return page.error(403, "CSRF", page.t("error.csrf"))
        if session.client.role not in roles:
            return page.error(403, "FORBIDDEN", page.t("error.role", role=session.client.role))
        try:
            return await handler(page)
        except GraphError as exc:
            return page.error(_STATUS.get(exc.code, 400), exc.code, exc.message)

    return Route(path, endpoint, methods=list(methods), name=name)


def _safe_next(target: str | None) -> str:
    """Only a console path: a sign-in link cannot send anyone elsewhere."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/"


async def sign_in(request: Request) -> Response:
    console: Console = request.app.state.console
    language = language_of(request)
    template = console.templates.get_template("sign_in.html")
    next_page = _safe_next(request.query_params.get("next"))
    error = None
    if request.method == "POST":
        form = await request.form()
        next_page = _safe_next(str(form.get("next") or ""))
        client, cookie = console.sessions.sign_in(str(form.get("token") or ""))
        if client is None:
            error = translate(language, "sign_in.bad_token")
        elif client.role not in CONSOLE_ROLES:
            error = translate(language, "sign_in.bad_role", role=client.role)
        else:
            response = RedirectResponse(next_page, status_code=303)
            Sessions.set_cookie(response, request, cookie)
            return response
    body = template.render(
        t=lambda key, **values: translate(language, key, **values),
        language=language,
        languages=LANGUAGES,
        error=error,
        next_page=next_page,
    )
    return HTMLResponse(body, status_code=401 if error else 200, headers=_NO_STORE)


async def _sign_out(page: Page) -> Response:
    response = RedirectResponse("/console/sign-in", status_code=303)
    Sessions.clear_cookie(response)
    return response


async def choose_language(request: Request) -> Response:
    language = request.path_params["code"]
    target = _safe_next(request.query_params.get("next"))
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/console", samesite="strict"
        )
    return response


async def _home(page: Page) -> Response:
    return page.render("home.html")


def console_routes() -> list[BaseRoute]:
    """Every route of the console, under `/console` (the app must set `state.console`)."""
    from hub.console import pages

    return [
        Mount(
            "/console",
            routes=[
                Route("/sign-in", sign_in, methods=["GET", "POST"]),
                Route("/lang/{code}", choose_language, methods=["GET"]),
                Mount("/static", StaticFiles(directory=STATIC), name="console-static"),
                page_route("/", _home),
                page_route("/sign-out", _sign_out, methods=("POST",)),
                *pages.routes(),
            ],
        )
    ]
