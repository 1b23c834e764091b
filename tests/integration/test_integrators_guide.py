"""docs/integrators.md is what docs/generate_integrators.py writes today.

The generator captures every example from the application in-process (a fresh
SQLite database, a fixed clock) and builds the field tables from the Spyne
declarations the WSDL comes from, so a change to the contract, a message or a
limit that is not regenerated into the guide fails here.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "docs" / "generate_integrators.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_integrators", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_committed_guide_is_the_generated_one(tmp_path: Path) -> None:
    generator = load_generator()
    generated = generator.render(tmp_path)
    committed = (ROOT / "docs" / "integrators.md").read_text()
    diff = difflib.unified_diff(
        committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm=""
    )
    assert committed == generated, (
        "docs/integrators.md is stale: run .venv/bin/python docs/generate_integrators.py\n"
        + "\n".join(list(diff)[:40])
    )


def test_the_guide_covers_every_operation_and_client() -> None:
    guide = (ROOT / "docs" / "integrators.md").read_text()
    for operation in ("updateReservations", "getReservations", "updateMessages", "searchMessages"):
        assert f"## {operation}\n" in guide
        assert f"<t:{operation}>" in guide  # a real request
        assert f"<tns:{operation}Response>" in guide  # and its answer
    for example in ("python_client", "java_client", "csharp_client", "php_client"):
        assert f"examples/{example}/" in guide
    for example in ("node_client", "gsoap_client", "curl"):
        assert f"examples/{example}/" in guide
