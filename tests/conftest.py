"""Shared fixtures: a database per backend (SQLite always, PostgreSQL when
``TUOTEMPO_TEST_DATABASE_URL`` points at a server), stores built by running the
real migrations, and fresh instances with credentials."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Before any test module imports spyne itself (Spyne 2.14 on Python 3.12+).
import tuotempo_soap.soap.compat  # noqa: F401
from tests.exclusive import MARKER as EXCLUSIVE
from tests.exclusive import ExclusiveRoom, running_under_xdist
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store, normalise_url

PG_ENV = "TUOTEMPO_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def exclusive_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExclusiveRoom | None]:
    """The lock files shared by this session's xdist workers (None without xdist)."""
    if not running_under_xdist():
        yield None
        return
    # Each worker's base temporary directory sits in the one shared by the session.
    room = ExclusiveRoom(tmp_path_factory.getbasetemp().parent)
    yield room
    room.close()


@pytest.fixture(autouse=True)
def _exclusive_when_marked(
    request: pytest.FixtureRequest, exclusive_room: ExclusiveRoom | None
) -> Iterator[None]:
    """A test marked ``exclusive`` runs with no other test beside it (tests/exclusive.py)."""
    if exclusive_room is None:
        yield
        return
    marked = request.node.get_closest_marker(EXCLUSIVE) is not None
    with exclusive_room.alone() if marked else exclusive_room.shared():
        yield


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(PG_ENV)
    if url:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL tests: ON ({shown})"
    return f"PostgreSQL tests: SKIPPED (set {PG_ENV}=postgresql://... to run them)"


@contextmanager
def migrated_postgres(server_url: str, prefix: str = "tuotempo_test") -> Iterator[str]:
    """A new PostgreSQL database on ``server_url``'s server, migrated; dropped afterwards."""
    server_url = normalise_url(server_url)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        migrated = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
        migrated.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (one per xdist worker),
    dropped at the end. Tests share it: each works on instances of its own."""
    configured = os.environ.get(PG_ENV)
    if not configured:
        if os.environ.get("TUOTEMPO_REQUIRE_POSTGRES"):
            pytest.fail(f"TUOTEMPO_REQUIRE_POSTGRES is set but {PG_ENV} is not")
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV}")
    with migrated_postgres(configured) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tuotempo.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {"TUOTEMPO_DATABASE_URL": database_url, "TUOTEMPO_DATA_DIR": str(tmp_path / "data")}
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings, migrate=True)
    yield opened
    opened.dispose()


@dataclass(frozen=True)
class Credentials:
    instance: str
    username: str
    password: str

    def auth(self) -> dict[str, str]:
        return {"INSTANCE": self.instance, "USERNAME": self.username, "PASSWORD": self.password}


def make_instance(store: Store, **options: object) -> Credentials:
    """A new instance with one API user; unique names keep tests apart on a shared database."""
    name = f"tt_test_{secrets.token_hex(4)}"
    instances.create_instance(store, name, **options)  # type: ignore[arg-type]
    password = secrets.token_urlsafe(16)
    instances.add_user(store, name, "his", password)
    return Credentials(name, "his", password)
