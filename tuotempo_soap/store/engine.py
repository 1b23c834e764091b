"""Engine and units of work (``Store.begin``). Nothing connects until a unit of work starts.

Every wait for the database is bounded (``DatabaseTimeouts``): a database that
accepts connections and never answers, a lock held by someone else, or a
statement that runs away become ``StoreUnavailableError`` within seconds, so
request threads are freed instead of piling up behind it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from ..errors import StoreUnavailableError
from .unit_of_work import SqlUnitOfWork

# Without bounds (benches, the plain ``alembic`` command): SQLite waits this
# long for a lock, as it always did.
_UNBOUNDED_SQLITE_BUSY_SECONDS = 30.0
# SQLite's busy timeout is a C int of milliseconds; "no bound" is its largest value.
_SQLITE_BUSY_FOREVER_MS = 2**31 - 1
# TCP keepalive probes on idle PostgreSQL connections: a peer that vanished
# (host down, network cut) is noticed within idle + interval * count seconds
# instead of the kernel's two hours.
_KEEPALIVE_IDLE = 10
_KEEPALIVE_INTERVAL = 3
_KEEPALIVE_COUNT = 3
# Data we sent that the peer has not acknowledged after this long means it is gone.
_TCP_USER_TIMEOUT_MS = 15_000
# A pooled PostgreSQL connection is pinged (SELECT 1) before use only when it sat
# idle longer than this: HikariCP's "alive bypass window" (500 ms there). A busy
# server re-uses connections every few milliseconds, and a ping per checkout
# was a round trip, about 0.1 ms of a 10 ms request, twice per request (the
# login and the write). A connection that broke within the window fails its
# statement instead; SQLAlchemy then invalidates the whole pool, so only that
# request gets "unavailable; retry later".
PING_AFTER_IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class DatabaseTimeouts:
    """Bounds on every wait for the database, in seconds; 0 means "no bound".

    ``connect``: establishing a connection, authentication included (libpq
    ``connect_timeout``, whole seconds, at least 2). ``statement``: one SQL
    statement (PostgreSQL ``statement_timeout``). ``lock``: waiting for a lock
    held by another transaction (PostgreSQL ``lock_timeout``, SQLite busy
    timeout). ``pool``: waiting for a free connection of the pool.
    """

    connect: float = 3.0
    statement: float = 15.0
    lock: float = 5.0
    pool: float = 5.0


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _postgres_connect_args(url: str, timeouts: DatabaseTimeouts) -> dict[str, Any]:
    """libpq parameters bounding the connection, the statements and the lock waits."""
    args: dict[str, Any] = {
        "keepalives": 1,
        "keepalives_idle": _KEEPALIVE_IDLE,
        "keepalives_interval": _KEEPALIVE_INTERVAL,
        "keepalives_count": _KEEPALIVE_COUNT,
        "tcp_user_timeout": _TCP_USER_TIMEOUT_MS,
    }
    if timeouts.connect > 0:
        args["connect_timeout"] = max(2, math.ceil(timeouts.connect))
    # Sent in the startup packet, so they hold from the first statement on
    # (pool pre-ping included) and cost no extra round trip.
    options = [str(make_url(url).query.get("options") or "")]
    if timeouts.statement > 0:
        options.append(f"-c statement_timeout={_milliseconds(timeouts.statement)}")
    if timeouts.lock > 0:
        options.append(f"-c lock_timeout={_milliseconds(timeouts.lock)}")
    joined = " ".join(option for option in options if option)
    if joined:
        args["options"] = joined
    return args


def build_engine(
    url: str,
    *,
    timeouts: DatabaseTimeouts | None = None,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    **kwargs: Any,
) -> Engine:
    """Create the engine; on SQLite, WAL mode and real transactions.

    ``timeouts`` bound every wait for the database (the application passes its
    settings); without them PostgreSQL waits as long as the server lets it.
    ``ping_after_idle``: see ``PING_AFTER_IDLE_SECONDS``.

    pysqlite's own transaction handling starts transactions late and never for
    SELECTs, which breaks snapshot reads and write locking; we take over and
    emit BEGIN ourselves (IMMEDIATE for writers, so a writer takes the lock
    before it reads and never fails later with "database is locked").
    """
    url = normalise_url(url)
    # Statement parameters are patient data: keep them out of SQLAlchemy's
    # messages (its log, and the text of every database exception).
    kwargs.setdefault("hide_parameters", True)
    if timeouts is not None and timeouts.pool > 0:
        kwargs.setdefault("pool_timeout", timeouts.pool)
    if url.startswith("sqlite"):
        if timeouts is None:
            busy_ms = _milliseconds(_UNBOUNDED_SQLITE_BUSY_SECONDS)
        elif timeouts.lock > 0:
            busy_ms = min(_milliseconds(timeouts.lock), _SQLITE_BUSY_FOREVER_MS)
        else:
            busy_ms = _SQLITE_BUSY_FOREVER_MS
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # executemany UPDATEs go in pages of statements, not one round trip per row.
    kwargs.setdefault("executemany_mode", "values_plus_batch")
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    if timeouts is not None and url.startswith("postgresql"):
        connect_args = _postgres_connect_args(url, timeouts)
        connect_args.update(kwargs.pop("connect_args", {}))
        kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        ping_idle_connections(engine, ping_after_idle)
    return engine


def ping_idle_connections(engine: Engine, after_idle: float) -> None:
    """Ping a pooled connection at checkout when it was idle over ``after_idle``
    seconds (0: at every checkout, as ``pool_pre_ping``); a dead one is
    replaced by a new connection before the caller sees it.

    SQLAlchemy's documented pessimistic ping (a ``checkout`` listener raising
    ``DisconnectionError``), with the idle test in front of it.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _fresh_or_checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since <= after_idle:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("the pooled connection is gone") from exc
            raise
        if not alive:
            raise DisconnectionError("the pooled connection is gone")


class _Ping:
    """One health check in flight: its outcome, once ``done`` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class HealthProbe:
    """``SELECT 1`` on its own engine, answered within a deadline whatever the database does.

    The probe has its own one-connection engine, so a pool drained by stuck
    requests does not make the server look dead, and at most one ping runs at
    a time: callers arriving while one is in flight wait for that one (up to
    their deadline) instead of starting more, so a database that never answers
    costs one waiting thread, not one per health check.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._current: _Ping | None = None
        self._pid = os.getpid()

    def check(self, timeout: float) -> bool:
        with self._lock:
            if self._pid != os.getpid():  # forked (gunicorn): the parent's ping is not ours
                self._pid, self._current = os.getpid(), None
            ping = self._current
            if ping is None or ping.done.is_set():
                ping = self._current = _Ping()
                threading.Thread(
                    target=self._run, args=(ping,), name="database-health-probe", daemon=True
                ).start()
        if not ping.done.wait(timeout):
            return False
        return ping.ok

    def _run(self, ping: _Ping) -> None:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            ping.ok = True
        except SQLAlchemyError:
            ping.ok = False
        finally:
            ping.done.set()

    def dispose(self) -> None:
        self.engine.dispose()


class ConnectBreaker:
    """Fail fast while the database is known to be unreachable.

    Once a connection attempt has failed, requests are answered "unavailable"
    at once instead of each waiting out the connect timeout, except for one
    trial attempt at a time, at most every ``pause`` seconds; the first
    connection that succeeds closes the breaker again. During an outage this
    keeps request threads free (health checks, WSDL fetches) and the database
    is not hit by a reconnection storm when it comes back.
    """

    def __init__(self, pause: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pause = pause
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._open = False
        self._trial = False
        self._retry_at = 0.0

    def allow(self) -> bool:
        """Whether to try connecting now; a True must be followed by ``record``."""
        with self._lock:
            if not self._open:
                return True
            if self._trial or self._monotonic() < self._retry_at:
                return False
            self._trial = True
            return True

    def record(self, connected: bool | None) -> None:
        """The outcome of an attempt: ``None`` says nothing about the database."""
        with self._lock:
            self._trial = False
            if connected is None:
                return
            self._open = not connected
            if not connected:
                self._retry_at = self._monotonic() + self.pause


class Store:
    """Hands out units of work (one transaction each) on one engine."""

    def __init__(self, engine: Engine, *, probe: HealthProbe | None = None) -> None:
        self.engine = engine
        self.probe = probe or HealthProbe(engine)
        self.breaker = ConnectBreaker()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def begin(self, *, write: bool = False) -> SqlUnitOfWork:
        """A unit of work with typed repositories (``services.unit_of_work``):
        committed by its ``commit()``, rolled back otherwise."""
        return SqlUnitOfWork(self, write=write)

    @contextmanager
    def unit_of_work(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction on a raw connection: committed when the block ends,
        rolled back on error. Errors are translated as by ``translated_errors``."""
        with (
            self.translated_errors(),
            self.connect(write=write) as connection,
            connection.begin(),
        ):
            yield connection

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        """Driver errors that mean "the database is not there or not usable"
        (refused, connect/statement/lock timeout, connection lost) and a pool
        with no free connection in time become ``StoreUnavailableError``; the
        SOAP layer answers them with a fault the client may retry."""
        try:
            yield
        except PoolTimeoutError as exc:
            raise StoreUnavailableError("The database is busy; retry later") from exc
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise StoreUnavailableError("The database is unavailable; retry later") from exc
            raise

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection of the pool, closed when the block ends (``write``: its
        transactions take SQLite's write lock at BEGIN)."""
        with self._connect() as connection:
            if write and self.dialect == "sqlite":
                connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            yield connection

    def _connect(self) -> Connection:
        if not self.breaker.allow():
            raise StoreUnavailableError("The database is unavailable; retry later")
        connected: bool | None = False
        try:
            connection = self.engine.connect()
            connected = True
        except PoolTimeoutError:
            connected = None  # every connection is busy: nothing learnt about the database
            raise
        finally:
            self.breaker.record(connected)
        return connection

    def ping(self, timeout: float | None = None) -> bool:
        """Whether the database answers ``SELECT 1``; within ``timeout`` seconds when given."""
        if timeout is not None:
            return self.probe.check(timeout)
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
        if self.probe.engine is not self.engine:
            self.probe.dispose()
