"""Alembic environment, configured in code from the settings object.

``tuotempo_soap.store.migrate`` passes the engine in ``config.attributes``; the
plain ``alembic`` command falls back to ``TUOTEMPO_DATABASE_URL`` via Settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from tuotempo_soap.config import Settings
from tuotempo_soap.store.engine import build_engine
from tuotempo_soap.store.tables import metadata

# Serialises concurrent upgraders (several gunicorn workers starting at once).
_PG_MIGRATION_LOCK = 7346_2026


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        engine = build_engine(Settings.from_env().database_url)
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(text("SET lock_timeout = '15s'"))
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                compare_type=True,
                compare_server_default=True,
                transaction_per_migration=True,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
                connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
