"""A pooled PostgreSQL connection is pinged before use only after it sat idle
(``PING_AFTER_IDLE_SECONDS``); a dead one is replaced without the caller
noticing, and one that died within the window fails one statement only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tuotempo_soap.store.engine import build_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def admin(postgres_url: str) -> Iterator[Engine]:
    engine = build_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(admin: Engine, pid: int) -> None:
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_an_idle_connection_that_died_is_replaced_before_use(
    postgres_url: str, admin: Engine
) -> None:
    engine = build_engine(postgres_url, ping_after_idle=0.0, pool_size=1, max_overflow=0)
    try:
        first = _backend(engine)
        _kill(admin, first)
        assert _backend(engine) != first  # pinged, found dead, reconnected: no error
    finally:
        engine.dispose()


def test_a_connection_that_died_within_the_window_fails_one_statement(
    postgres_url: str, admin: Engine
) -> None:
    engine = build_engine(postgres_url, ping_after_idle=3600.0, pool_size=1, max_overflow=0)
    try:
        first = _backend(engine)
        _kill(admin, first)
        with pytest.raises(DBAPIError) as raised:
            _backend(engine)  # not pinged: re-used as is
        assert raised.value.connection_invalidated
        assert _backend(engine) != first  # the pool replaced it
    finally:
        engine.dispose()


@pytest.mark.parametrize(("window", "pings"), [(3600.0, 0), (0.0, 3)])
def test_a_connection_used_within_the_window_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, window: float, pings: int
) -> None:
    engine = build_engine(postgres_url, ping_after_idle=window, pool_size=1, max_overflow=0)
    seen: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        seen.append(dbapi_connection)
        return bool(ping(dbapi_connection))

    try:
        _backend(engine)  # the connection is made (just made: not pinged)
        monkeypatch.setattr(engine.dialect, "do_ping", counted)
        for _ in range(3):
            _backend(engine)
        assert len(seen) == pings
    finally:
        engine.dispose()
