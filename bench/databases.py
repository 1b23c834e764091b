"""Throwaway databases for the benchmarks (shared by the bench scripts)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from tuotempo_soap.store.engine import build_engine


@contextmanager
def temporary_postgres(server_url: str, prefix: str = "bench") -> Iterator[str]:
    """CREATE DATABASE <prefix>_...; yields its URL; dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    # build_engine: the same URL handling (driver choice) as the application.
    admin = build_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
