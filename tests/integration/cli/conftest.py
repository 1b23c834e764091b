"""The ``tuotempo-soap`` command run in-process with click's runner, against the
real database of the test (SQLite, and PostgreSQL when configured): every
command reads its settings from the environment it is given, as it would from
the shell, and opens its own store."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tuotempo_soap.cli import CliContext, main
from tuotempo_soap.services import instances
from tuotempo_soap.store.engine import Store

Run = Callable[..., Result]


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"TUOTEMPO_DATABASE_URL": database_url, "TUOTEMPO_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def run(cli_env: dict[str, str], store: Store) -> Run:
    """``run("instance", "list", input=...)``: the command's Result. Anything
    but a clean exit with a message (a traceback) fails the test."""

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        context = CliContext({**cli_env, **(env or {})})
        result = CliRunner().invoke(
            main, list(args), obj=context, input=input, catch_exceptions=False
        )
        assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture
def fresh(store: Store) -> Callable[..., instances.Instance]:
    """A new instance with a unique name (the PostgreSQL database is shared)."""

    def create(**options: object) -> instances.Instance:
        return instances.create_instance(
            store,
            f"tt_cli_{secrets.token_hex(4)}",
            **options,  # type: ignore[arg-type]
        )

    return create
