"""Build hook: the wheel carries the Alembic scripts of ``migrations/``.

``migrations/`` stays at the top of the repository (where Alembic's own tools
and the tests read it), and a wheel gets a copy as ``tuotempo_soap/_migrations``,
so a server installed with ``pip install tuotempo-soap`` (not from a checkout)
migrates its database too. Everything else is declared in ``setup.cfg``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class BuildWithMigrations(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads the checkout's
            target = Path(self.build_lib) / "tuotempo_soap" / "_migrations"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )


setup(cmdclass={"build_py": BuildWithMigrations})
