"""Open the store described by the settings, creating and migrating it if asked."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from ..config import Settings
from ..errors import StoreUnavailableError
from .engine import DatabaseTimeouts, HealthProbe, Store, build_engine


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    return DatabaseTimeouts(
        connect=settings.db_connect_timeout,
        statement=settings.db_statement_timeout,
        lock=settings.db_lock_timeout,
        pool=settings.db_pool_timeout,
    )


def open_store(settings: Settings, *, migrate: bool | None = None) -> Store:
    """The store, migrated to the latest schema when ``auto_migrate`` (or ``migrate``) says so.

    The engine's connections are released afterwards, so the store can be
    built in a gunicorn master and used after the fork. A database that cannot
    be reached for the migration fails here, after the connect timeout, with
    ``StoreUnavailableError`` naming where it was looked for.
    """
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    timeouts = database_timeouts(settings)
    url = settings.database_url
    # The health probe gets its own single connection (see HealthProbe).
    probe = HealthProbe(build_engine(url, timeouts=timeouts, pool_size=1, max_overflow=0))
    store = Store(build_engine(url, timeouts=timeouts), probe=probe)
    if settings.auto_migrate if migrate is None else migrate:
        _migrate(url, timeouts)
    return store


def _migrate(url: str, timeouts: DatabaseTimeouts) -> None:
    # A migration may rewrite a large table in one statement: no statement
    # timeout (migrations/env.py sets its own lock timeout).
    from .migrate import upgrade  # Alembic: only in the processes that migrate

    engine = build_engine(url, timeouts=replace(timeouts, statement=0))
    try:
        upgrade(engine)
    except (OperationalError, PoolTimeoutError) as exc:
        raise StoreUnavailableError(_cannot_migrate(url, exc)) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        raise StoreUnavailableError(_cannot_migrate(url, exc)) from exc
    finally:
        engine.dispose()


def _cannot_migrate(url: str, exc: Exception) -> str:
    where = make_url(url).render_as_string(hide_password=True)
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = cause[0] if cause else type(exc).__name__
    return (
        f"The database at {where} is unavailable, so its schema cannot be migrated "
        f"({reason}); retry later, or start with TUOTEMPO_AUTO_MIGRATE=0"
    )
