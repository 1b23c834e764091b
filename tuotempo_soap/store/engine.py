"""Engine and unit-of-work factory. Nothing connects until a unit of work starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from ..errors import StoreUnavailableError


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def build_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; on SQLite, WAL mode and real transactions.

    pysqlite's own transaction handling starts transactions late and never for
    SELECTs, which breaks snapshot reads and write locking; we take over and
    emit BEGIN ourselves (IMMEDIATE for writers, so a writer takes the lock
    before it reads and never fails later with "database is locked").
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # executemany UPDATEs go in pages of statements, not one round trip per row.
    kwargs.setdefault("executemany_mode", "values_plus_batch")
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    return create_engine(url, **kwargs)


class Store:
    """Hands out units of work (one transaction each) on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on error.

        Driver errors that mean "the database is not there or not usable" become
        ``StoreUnavailableError``; the SOAP layer answers them with a fault the
        client may retry.
        """
        try:
            with self.engine.connect() as connection:
                if write and self.dialect == "sqlite":
                    connection = connection.execution_options(sqlite_begin="IMMEDIATE")
                with connection.begin():
                    yield connection
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise StoreUnavailableError("The database is unavailable; retry later") from exc
            raise

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except DBAPIError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
