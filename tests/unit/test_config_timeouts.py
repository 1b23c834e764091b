"""The database timeouts and the health deadline: defaults, and refusals naming the variable."""

from __future__ import annotations

import pytest

from tuotempo_soap.config import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (
        settings.db_connect_timeout,
        settings.db_statement_timeout,
        settings.db_lock_timeout,
        settings.db_pool_timeout,
        settings.health_timeout,
    ) == (3.0, 15.0, 5.0, 5.0, 1.5)


def test_values_and_zero_for_no_bound() -> None:
    settings = Settings.from_env(
        {
            "TUOTEMPO_DB_CONNECT_TIMEOUT": "2",
            "TUOTEMPO_DB_STATEMENT_TIMEOUT": "0",
            "TUOTEMPO_DB_LOCK_TIMEOUT": "0.5",
            "TUOTEMPO_DB_POOL_TIMEOUT": "10",
            "TUOTEMPO_HEALTH_TIMEOUT": "1",
        }
    )
    assert settings.db_connect_timeout == 2.0
    assert settings.db_statement_timeout == 0.0
    assert settings.db_lock_timeout == 0.5
    assert settings.db_pool_timeout == 10.0
    assert settings.health_timeout == 1.0


@pytest.mark.parametrize(
    "name, value",
    [
        ("TUOTEMPO_DB_CONNECT_TIMEOUT", "0"),
        ("TUOTEMPO_DB_POOL_TIMEOUT", "0"),
        ("TUOTEMPO_HEALTH_TIMEOUT", "0"),
        ("TUOTEMPO_DB_STATEMENT_TIMEOUT", "-1"),
        ("TUOTEMPO_DB_LOCK_TIMEOUT", "nan"),
        ("TUOTEMPO_DB_LOCK_TIMEOUT", "inf"),
        ("TUOTEMPO_DB_CONNECT_TIMEOUT", "3s"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
