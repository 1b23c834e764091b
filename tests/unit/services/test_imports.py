"""The services converted to the unit of work know nothing of SQL: they import
neither SQLAlchemy nor a repository, only the typed records of ``store``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tuotempo_soap

PACKAGE = Path(tuotempo_soap.__file__).parent
# Services on ``services.unit_of_work`` only (the others still take a connection).
CONVERTED = (
    "admin_actions",
    "admin_status",
    "answers",
    "audit",
    "batches",
    "clinic_sync",
    "instances",
    "messages",
    "monitoring",
    "operators",
    "portal",
    "reminders",
    "reservations",
    "search",
    "timelines",
)
# The one module of ``store`` a service may import: plain dataclasses.
ALLOWED_STORE = {"tuotempo_soap.store.records"}


def imported(module: str) -> set[str]:
    """The absolute names of the modules ``module`` imports (relative ones resolved)."""
    path = PACKAGE / "services" / f"{module}.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["tuotempo_soap", "services"]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found.add(name)
            if node.module is None:  # from . import x: x is a module of the package
                found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", [*CONVERTED, "unit_of_work"])
def test_a_converted_service_imports_no_sql(module: str) -> None:
    names = imported(module)

    assert not {n for n in names if n == "sqlalchemy" or n.startswith("sqlalchemy.")}
    store = {n for n in names if n.startswith("tuotempo_soap.store")}
    assert store <= ALLOWED_STORE, f"services/{module}.py imports {store - ALLOWED_STORE}"


def test_the_converted_services_load_without_sqlalchemy() -> None:
    """Nor does anything they import, all the way down."""
    modules = [f"tuotempo_soap.services.{m}" for m in (*CONVERTED, "unit_of_work")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'psycopg2'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
