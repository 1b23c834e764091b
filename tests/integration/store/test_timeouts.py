"""Every wait for the database is bounded by a setting: a lock held by someone
else, a statement that runs away, an exhausted pool, a database that never
answers at start-up. Each ends in ``Server.DatabaseUnavailable`` (or
``StoreUnavailableError``) within seconds instead of holding a thread."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.test import Client

from tests.blackhole import Blackhole, answered_within
from tests.conftest import Credentials, make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.errors import StoreUnavailableError
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store, normalise_url
from tuotempo_soap.web.app import create_app

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tuotempo-soap.org/v1"


def settings_for(database_url: str, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"TUOTEMPO_DATABASE_URL": database_url, "TUOTEMPO_DATA_DIR": str(tmp_path / "data"), **env}
    )


def update_envelope(who: Credentials, start: str) -> str:
    return (
        f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:t="{TNS}"><e:Body><t:updateReservations>'
        f"<t:AUTH><t:INSTANCE>{who.instance}</t:INSTANCE><t:USERNAME>{who.username}</t:USERNAME>"
        f"<t:PASSWORD>{who.password}</t:PASSWORD></t:AUTH><t:RESERVATIONS><t:RESERVATION>"
        "<t:APP_LID>LOCKED-1</t:APP_LID><t:APP_DATE>24/02/2027</t:APP_DATE>"
        f"<t:APP_START_TIME>{start}</t:APP_START_TIME><t:RESOURCE_LID>DR-1</t:RESOURCE_LID>"
        "</t:RESERVATION></t:RESERVATIONS></t:updateReservations></e:Body></e:Envelope>"
    )


def soap_result(client: Client, envelope: str) -> tuple[int, str | None, str | None]:
    """(HTTP status, RESULT, fault detail CODE)."""
    response = client.post(
        "/soap", data=envelope, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    root = etree.fromstring(response.data)
    result = root.findtext(f".//{{{TNS}}}RESULT")
    code = root.findtext(f".//{{{TNS}}}ServiceFault/{{{TNS}}}CODE")
    return response.status_code, result, code


def test_a_write_waiting_for_a_lock_gives_database_unavailable(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    """PostgreSQL: the reservation's row is locked by another connection; SQLite:
    another connection holds the write lock. Both wait TUOTEMPO_DB_LOCK_TIMEOUT."""
    who = make_instance(store)
    app = create_app(settings_for(database_url, tmp_path, TUOTEMPO_DB_LOCK_TIMEOUT="1"))
    client = Client(app)
    assert soap_result(client, update_envelope(who, "09:30"))[:2] == (200, "OK")
    with ExitStack() as stack:
        if store.dialect == "postgresql":
            locker = create_engine(normalise_url(database_url))
            stack.callback(locker.dispose)
            connection = stack.enter_context(locker.connect())
            stack.enter_context(connection.begin())  # rolled back on the way out: lock released
            connection.execute(
                text("SELECT id FROM reservations WHERE app_lid = 'LOCKED-1' FOR UPDATE")
            )
        else:
            path = make_url(database_url).database
            raw = sqlite3.connect(str(path), isolation_level=None)
            stack.callback(raw.close)
            raw.execute("BEGIN IMMEDIATE")
            stack.callback(raw.execute, "ROLLBACK")
        (status, result, code), elapsed = answered_within(
            10.0, lambda: soap_result(client, update_envelope(who, "10:30"))
        )
    assert (status, result, code) == (500, None, "Server.DatabaseUnavailable")
    assert 0.9 < elapsed < 6.0
    app.store.dispose()


@pytest.mark.postgres
def test_a_runaway_statement_is_cancelled(postgres_url: str, tmp_path: Path) -> None:
    settings = settings_for(postgres_url, tmp_path, TUOTEMPO_DB_STATEMENT_TIMEOUT="0.5")
    store = open_store(settings, migrate=False)
    try:

        def sleep() -> None:
            with store.unit_of_work() as connection:
                connection.execute(text("SELECT pg_sleep(8)"))

        with pytest.raises(StoreUnavailableError):
            answered_within(6.0, sleep)
        with store.unit_of_work() as connection:  # the pool is fine afterwards
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        store.dispose()


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL database, for running the migrations from scratch."""
    server = make_url(normalise_url(postgres_url)).set(database="postgres")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"tuotempo_fresh_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_migrations_are_not_bound_by_the_statement_timeout(
    fresh_postgres: str, tmp_path: Path
) -> None:
    # 1 ms fails the migrations if it applied to them; the store's own work keeps it.
    settings = settings_for(fresh_postgres, tmp_path, TUOTEMPO_DB_STATEMENT_TIMEOUT="0.001")
    store = open_store(settings, migrate=True)
    try:
        with pytest.raises(StoreUnavailableError), store.unit_of_work() as connection:
            connection.execute(text("SELECT pg_sleep(0.2)"))
    finally:
        store.dispose()


def test_an_exhausted_pool_gives_database_unavailable(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path, TUOTEMPO_DB_POOL_TIMEOUT="0.5")
    store = open_store(settings, migrate=False)
    held = []
    try:
        pool = store.engine.pool
        while pool.checkedout() < pool.size() + pool._max_overflow:  # type: ignore[attr-defined]
            held.append(store.engine.connect())
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError), store.unit_of_work():
            pass
        assert time.monotonic() - started < 5.0
    finally:
        for connection in held:
            connection.close()
        store.dispose()


def test_starting_against_a_silent_database_fails_fast_and_says_why(tmp_path: Path) -> None:
    with Blackhole() as hole:
        url = f"postgresql://postgres:hunter2@127.0.0.1:{hole.port}/nowhere"
        settings = settings_for(url, tmp_path)  # TUOTEMPO_AUTO_MIGRATE defaults to on
        with pytest.raises(StoreUnavailableError) as raised:
            answered_within(10.0, lambda: open_store(settings))
        assert hole.accepted >= 1
    message = raised.value.message
    assert f"127.0.0.1:{hole.port}" in message and "TUOTEMPO_AUTO_MIGRATE=0" in message
    assert "timeout" in message and "hunter2" not in message
