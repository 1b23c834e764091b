"""Each command is imported when it is run or listed (``cli.COMMANDS``), so a
process loads what its own command needs: the worker starts without Spyne,
Alembic, the back office's templates or the campaign's spreadsheet reader
(zeep it needs: it calls clinics), a large part of its start-up before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from tuotempo_soap.cli import COMMANDS, main
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store


def test_every_listed_command_resolves_under_its_name() -> None:
    context = click.Context(main)
    assert main.list_commands(context) == list(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert command is not None and command.name == name
    assert main.get_command(context, "no-such-command") is None
    listed = CliRunner().invoke(main, ["--help"]).output
    assert all(f"  {name} " in listed for name in COMMANDS)


_PROBE = """
import json, sys
from tuotempo_soap.cli import main
try:
    main(["worker", "--once"], standalone_mode=False)
finally:
    loaded = {name.split(".")[0] for name in sys.modules}
    print(json.dumps(sorted(loaded & {"spyne", "alembic", "jinja2", "openpyxl", "werkzeug"})))
"""


def test_the_worker_starts_without_the_web_side_or_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True).dispose()
    env = {
        **os.environ,
        "TUOTEMPO_DATABASE_URL": url,
        "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
        "TUOTEMPO_AUTO_MIGRATE": "false",
        "TUOTEMPO_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("worker ") and "0 message(s) attempted" in lines[0]
    assert json.loads(lines[-1]) == []
