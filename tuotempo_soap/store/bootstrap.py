"""Open the store described by the settings, creating and migrating it if asked."""

from __future__ import annotations

from ..config import Settings
from .engine import Store, build_engine
from .migrate import upgrade


def open_store(settings: Settings, *, migrate: bool | None = None) -> Store:
    """The store, migrated to the latest schema when ``auto_migrate`` (or ``migrate``) says so.

    The engine's connections are released afterwards, so the store can be
    built in a gunicorn master and used after the fork.
    """
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(build_engine(settings.database_url))
    if settings.auto_migrate if migrate is None else migrate:
        upgrade(store.engine)
        store.dispose()
    return store
