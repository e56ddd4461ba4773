"""Settings from `HUB_*` variables: defaults, overrides, and a clear error for a bad value."""

from __future__ import annotations

import pytest

from hub.config import DEFAULT_INGEST_BATCH, Settings, default_ingest_workers
from hub.errors import InputError


def test_defaults_are_a_sqlite_file_here_and_one_worker_per_spare_core() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("/hub.db")
    assert settings.ingest_batch == DEFAULT_INGEST_BATCH
    assert settings.ingest_workers == default_ingest_workers()
    assert 0 <= default_ingest_workers() <= 4


def test_variables_override_the_defaults() -> None:
    settings = Settings.from_env(
        {
            "HUB_DATABASE_URL": "postgresql+psycopg://h/db",
            "HUB_INGEST_BATCH": "200",
            "HUB_INGEST_WORKERS": "0",
        }
    )
    assert (settings.database_url, settings.ingest_batch, settings.ingest_workers) == (
        "postgresql+psycopg://h/db",
        200,
        0,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("HUB_INGEST_BATCH", "0"), ("HUB_INGEST_BATCH", "lots"), ("HUB_INGEST_WORKERS", "-1")],
)
def test_a_bad_number_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(InputError, match=f"{name}='{value}': expected a whole number"):
        Settings.from_env({name: value})
