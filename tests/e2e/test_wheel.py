"""A wheel built from this tree carries the migration scripts, and a server
installed from it (not from a checkout) migrates its database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

MIGRATIONS = ROOT / "migrations"


def test_an_installed_wheel_migrates_its_database(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("tuotempo_soap-*.whl")
    expected = {
        "tuotempo_soap/_migrations/" + path.relative_to(MIGRATIONS).as_posix()
        for path in MIGRATIONS.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert expected <= set(archive.namelist())
        archive.extractall(site)

    # A Python that sees the wheel's package and not this checkout: no site
    # processing (so no editable install's finder), the wheel first, then the
    # dependencies of this environment.
    paths = [str(site), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    code = (
        f"import sys; sys.path[:0] = {paths!r}\n"
        "import tuotempo_soap\n"
        "print(tuotempo_soap.__file__)\n"
        "from tuotempo_soap.cli import main\n"
        "main(['db', 'upgrade'])\n"
    )
    database = tmp_path / "installed.db"
    env = {
        **os.environ,
        "TUOTEMPO_DATABASE_URL": f"sqlite:///{database}",
        "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
    }
    upgraded = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert upgraded.stdout.splitlines()[0].startswith(str(site))
    head = max(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("0*.py"))
    with sqlite3.connect(database) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == head
