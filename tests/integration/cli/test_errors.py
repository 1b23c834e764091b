"""Every failure of the command is one line naming what to do, with an exit
code, never a traceback; ``--help`` works before any setting is right."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from click.testing import CliRunner

from tests.integration.cli.conftest import Run
from tuotempo_soap.cli import CliContext, main
from tuotempo_soap.services.instances import Instance


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    context = click.Context(group)
    for name in group.list_commands(context):  # the lazy top-level group loads each here
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
        else:
            found.append((*path, name))
    return found


def test_help_of_every_command_touches_neither_settings_nor_database(tmp_path: Path) -> None:
    broken = {
        "TUOTEMPO_MAX_BATCH_ITEMS": "lots",
        "TUOTEMPO_DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}",
    }
    commands = _commands(main)
    assert ("instance", "remove") in commands and ("reservations", "search") in commands
    for command in commands:
        result = CliRunner().invoke(main, [*command, "--help"], obj=CliContext(broken))
        assert result.exit_code == 0 and "Usage:" in result.stdout, (command, result.output)
    assert not (tmp_path / "no-such-dir").exists()


def test_a_bad_setting_is_named(run: Run) -> None:
    result = run("instance", "list", env={"TUOTEMPO_WORKER_CONCURRENCY": "many"})
    assert result.exit_code == 1
    assert "bad setting: TUOTEMPO_WORKER_CONCURRENCY must be a whole number" in result.stderr


def test_an_unreachable_database_exits_3(tmp_path: Path) -> None:
    unreachable = {"TUOTEMPO_DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"}
    result = CliRunner().invoke(main, ["instance", "list"], obj=CliContext(unreachable))
    assert result.exit_code == 3 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


def test_a_missing_user_says_where_to_look(run: Run, fresh: Callable[..., Instance]) -> None:
    name = fresh().name
    missing = run("user", "remove", name, "nobody")
    assert missing.exit_code == 1
    assert f"no user nobody in {name}" in missing.stderr
    assert "tuotempo-soap user list" in missing.stderr
