"""Helpers of the API tests: a resolved city and HTTP calls to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app
from hub.clients import add_client

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class City:
    engine: Engine
    directory: Path

    def client(self, *scopes: str, role: str = "reader") -> TestClient:
        """An HTTP client of the app with the token of a new client holding `scopes`."""
        with Session(self.engine) as session, session.begin():
            token = add_client(session, f"test-{uuid.uuid4().hex[:8]}", role, scopes)
        return TestClient(create_app(self.engine), headers={"Authorization": f"Bearer {token}"})

    def one(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def column(self, sql: str, **params: Any) -> list[Any]:
        """The first column of every row `sql` returns."""
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params).scalars())


def post(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    body = post(client, query, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def graphql_scope(token: str, body: bytes) -> dict[str, Any]:
    """The ASGI scope of a JSON POST of `body` to /graphql with `token`, for calling the app directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
