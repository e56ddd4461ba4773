"""The hub's engines (`make_engine`): what a failed statement tells the log."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError


def test_a_failed_statement_does_not_carry_its_values(engine: Engine) -> None:
    """A statement's error is logged (an operation's INTERNAL error, a failed access-log write); the
    values it was given are where ID numbers and phones are, so its message leaves them out."""
    number = "32058119610327041X"
    with engine.connect() as connection, pytest.raises(DBAPIError) as failure:
        connection.execute(text("SELECT id FROM no_such_table WHERE key = :key"), {"key": number})
    assert "no_such_table" in str(failure.value)  # the statement is still named
    assert number not in str(failure.value)
    assert number not in repr(failure.value)
