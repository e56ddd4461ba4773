"""The access log's key file (`HUB_ACCESS_LOG_KEY_FILE`) is checked when a server starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_city import City

from hub.api import create_app
from hub.errors import InputError


def test_a_key_file_that_cannot_be_used_stops_the_server_at_start(
    city: City, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Found only at the first personal read, it withheld that read's data (ACCESS_LOG_UNAVAILABLE)
    from a server whose /health said all was well."""
    missing = tmp_path / "access-log.key"
    monkeypatch.setenv("HUB_ACCESS_LOG_KEY_FILE", str(missing))
    with pytest.raises(InputError, match="HUB_ACCESS_LOG_KEY_FILE"):
        create_app(city.engine)
    missing.write_bytes(b"short")
    with pytest.raises(InputError):
        create_app(city.engine)
    missing.write_bytes(bytes(range(32)))
    assert create_app(city.engine) is not None
