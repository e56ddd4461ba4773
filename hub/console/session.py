"""Console sign-in: a client token exchanged for a signed session cookie, and CSRF tokens for forms.

A steward, auditor or admin signs in with the token `hub clients add` gave them. The cookie holds the
token's SHA-256 digest (never the token) and a random nonce, signed and dated; it is HttpOnly,
SameSite=Strict, scoped to `/console` and Secure when the page came over HTTPS. Every request looks
the client up by that digest, so a revoked client is signed out at its next click. Each form carries
a CSRF token derived from the session's nonce; a POST without the right one is refused (403).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from hub.api.permissions import READ_ROLES
from hub.audit import read_key
from hub.clients import ClientInfo, authenticate_connection, authenticate_digest, token_digest

__all__ = ["CONSOLE_ROLES", "COOKIE", "ConsoleSession", "Sessions", "check_console_key", "console_key"]

COOKIE = "hub_console"
# Who may sign in: the roles that read what stands behind entities (a reader has nothing to do here).
CONSOLE_ROLES = READ_ROLES
SESSION_HOURS = 12


def console_key(key_file: str | None) -> bytes:
    """The bytes of the key file (HUB_CONSOLE_KEY_FILE), or without one a random key of this process;
    a file that is missing, unreadable or shorter than 16 bytes is an InputError naming it."""
    if not key_file:
        return secrets.token_bytes(32)
    return read_key(key_file, "HUB_CONSOLE_KEY_FILE", "console.key")


def check_console_key(key_file: str | None) -> None:
    """Read the key as every server process will (`hub serve` calls it before starting): a bad file
    stops the command with one line, rather than each worker as it starts, again and again."""
    console_key(key_file)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """The signed-in client of a request and the CSRF token its forms carry."""

    client: ClientInfo
    csrf: str


class Sessions:
    """Signs session cookies with a key read from `key_file` (shared by every server process) or, without
    one, a random key of this process (sessions then end when the server restarts)."""

    def __init__(self, reader: Engine, key_file: str | None = None) -> None:
        self.reader = reader
        self._key = hashlib.sha256(b"hub-console\0" + console_key(key_file)).digest()
        self._serializer = URLSafeTimedSerializer(self._key, salt="hub-console-session")

    def sign_in(self, token: str) -> tuple[ClientInfo | None, str]:
        """The client of `token` and the cookie value of its new session (None when the token is not a
        live client's)."""
        client = authenticate_connection(self.reader, token.strip())
        if client is None:
            return None, ""
        value = self._serializer.dumps({"d": token_digest(token.strip()), "n": secrets.token_urlsafe(16)})
        return client, str(value)

    def current(self, request: Request) -> ConsoleSession | None:
        """The session of the request's cookie, if it is signed, recent and its client still live."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            payload = self._serializer.loads(raw, max_age=SESSION_HOURS * 3600)
        except BadSignature:
            return None
        client = authenticate_digest(self.reader, str(payload.get("d", "")))
        if client is None:
            return None
        return ConsoleSession(client, self._csrf(str(payload.get("n", ""))))

    def _csrf(self, nonce: str) -> str:
        return hmac.new(self._key, b"csrf\0" + nonce.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def check_csrf(session: ConsoleSession, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf, str(given))

    @staticmethod
    def set_cookie(response: Response, request: Request, value: str) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=SESSION_HOURS * 3600,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear_cookie(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
