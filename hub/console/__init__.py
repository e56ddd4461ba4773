"""The stewards' and auditors' console: server-rendered pages under `/console`, in Chinese by default.

`create_app` is the GraphQL API of `hub.api` with the console mounted beside it; `hub serve` serves it.
"""

from hub.console.server import create_app

__all__ = ["create_app"]
