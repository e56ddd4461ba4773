"""The federated GraphQL API on Starlette."""

from hub.api.app import create_app
from hub.api.schema import schema, schema_sdl

__all__ = ["create_app", "schema", "schema_sdl"]
