"""Settings from `HUB_*` variables: defaults, overrides, and a clear error for a bad value."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import (
    CONFIG_FILE_VARIABLE,
    DEFAULT_INGEST_BATCH,
    VARIABLES,
    Settings,
    apply_config_file,
    default_ingest_workers,
)
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
    [
        ("HUB_INGEST_BATCH", "0"),
        ("HUB_INGEST_BATCH", "lots"),
        ("HUB_INGEST_WORKERS", "-1"),
        ("HUB_API_CONCURRENCY", "²"),  # a digit to str.isdigit, not to int()
    ],
)
def test_a_bad_number_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(InputError, match=f"{name}='{value}': expected a whole number"):
        Settings.from_env({name: value})


# --- the configuration file (HUB_CONFIG_FILE) ---------------------------------------------------------


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return {CONFIG_FILE_VARIABLE: str(path)}


def test_a_config_file_sets_what_the_environment_does_not(tmp_path: Path) -> None:
    env = _config(
        tmp_path,
        'database_url = "postgresql+psycopg://hub@db/hub"\napi_concurrency = 24\n'
        'metrics_allow = ["127.0.0.1", "10.0.0.0/8"]\ningest_batch = 100\n',
    )
    env["HUB_INGEST_BATCH"] = "300"  # the environment wins
    applied = apply_config_file(env)
    assert applied == ["HUB_API_CONCURRENCY", "HUB_DATABASE_URL", "HUB_METRICS_ALLOW"]
    settings = Settings.from_env(env)
    assert settings.database_url == "postgresql+psycopg://hub@db/hub"
    assert (settings.api_concurrency, settings.ingest_batch) == (24, 300)
    assert [str(n) for n in settings.metrics_allow] == ["127.0.0.1/32", "10.0.0.0/8"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('databse_url = "x"\n', "unknown setting 'databse_url'"),
        ('DATABASE_URL = "x"\n', "unknown setting 'DATABASE_URL'"),
        ("database_url = \n", "not TOML"),
        ("api_concurrency = true\n", "expected text or a number"),
        ("api_rate = { per_second = 5 }\n", "expected text, a number or a list"),
        ('api_concurrency = "many"\n', "HUB_API_CONCURRENCY='many': expected a whole number"),
    ],
)
def test_a_bad_config_file_is_refused_with_the_reason(tmp_path: Path, text: str, said: str) -> None:
    env = _config(tmp_path, text)
    with pytest.raises(InputError, match=re.escape(said)) as raised:
        apply_config_file(env)
    assert str(tmp_path / "hub.toml") in str(raised.value)


def test_a_variable_set_empty_leaves_the_files_value(tmp_path: Path) -> None:
    """`HUB_DATABASE_URL=` (as an EnvironmentFile line with no value leaves it) is unset for the hub,
    so the file's database must apply, not the default SQLite file."""
    env = _config(tmp_path, 'database_url = "postgresql+psycopg://hub@db/hub"\n')
    env["HUB_DATABASE_URL"] = " "
    assert apply_config_file(env) == ["HUB_DATABASE_URL"]
    assert Settings.from_env(env).database_url == "postgresql+psycopg://hub@db/hub"


def test_a_missing_config_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read it"):
        apply_config_file({CONFIG_FILE_VARIABLE: str(tmp_path / "none.toml")})


def test_every_setting_the_hub_reads_is_known_and_documented() -> None:
    root = Path(__file__).resolve().parents[1]
    documented = set(re.findall(r"^\| `(HUB_[A-Z_]+)` \|", (root / "docs/operations.md").read_text(), re.M))
    assert documented == VARIABLES | {CONFIG_FILE_VARIABLE}
    read = {
        name
        for source in (root / "hub").rglob("*.py")
        for name in re.findall(r"\"(HUB_[A-Z_]+)\"", source.read_text(encoding="utf-8"))
    }
    assert read - {CONFIG_FILE_VARIABLE} <= VARIABLES, read - VARIABLES


def test_the_command_line_refuses_a_bad_config_file_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(_config(tmp_path, 'databse_url = "sqlite:///x.db"\n'), HUB_COMMAND_LOG="off")
    done = subprocess.run(
        [sys.executable, "-m", "hub", "clients", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert "unknown setting 'databse_url'" in done.stdout + done.stderr
