"""The database built by the migrations is exactly what the code declares."""

from __future__ import annotations

from alembic import command

from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.migrate import alembic_config, is_up_to_date


def test_migrations_match_the_tables(store: Store) -> None:
    assert is_up_to_date(store.engine)
    # Raises if autogenerate would find any difference between tables.py and the database.
    command.check(alembic_config(store.engine))


def test_upgrade_is_idempotent(store: Store) -> None:
    command.upgrade(alembic_config(store.engine), "head")
    assert is_up_to_date(store.engine)
