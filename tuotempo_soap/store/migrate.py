"""Run the Alembic migrations in ``migrations/`` from code, configured from settings.

From a checkout (and an editable install) the scripts are the repository's
``migrations/``; a wheel carries a copy as ``tuotempo_soap/_migrations``
(``setup.py``'s build hook).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_PACKAGE = Path(__file__).resolve().parents[1]
# Where the scripts may be: an installed wheel's copy (looked at first: beside an
# installed package, "../migrations" would be whatever else sits in
# site-packages), then the checkout's.
MIGRATIONS_DIRS = (_PACKAGE / "_migrations", _PACKAGE.parent / "migrations")


def migrations_dir() -> Path:
    """The directory holding ``env.py`` and ``versions/``."""
    for candidate in MIGRATIONS_DIRS:
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError(
        "the migration scripts are missing (looked in "
        + " and ".join(str(path) for path in MIGRATIONS_DIRS)
        + "); reinstall tuotempo-soap"
    )


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # env.py uses this engine instead of building its own.
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def is_up_to_date(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())
