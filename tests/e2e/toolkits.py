"""Shared by the tests that drive our WSDL from other languages' SOAP toolkits."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest


def give_up(require_env: str) -> Callable[[str], NoReturn]:
    """Skip when the toolkit is missing; fail instead when CI requires it (``require_env``)."""
    return pytest.fail if os.environ.get(require_env) else pytest.skip  # type: ignore[return-value]


def run_json_client(command: list[str], cwd: Path, name: str) -> dict[str, Any]:
    """Run an example client that prints one JSON summary; fail clearly otherwise."""
    try:
        completed = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name} did not finish in 60 s; stderr so far: {exc.stderr!r}")
    assert completed.returncode == 0, (
        f"{name} exited {completed.returncode}\n"
        f"stderr:\n{completed.stderr}\nstdout:\n{completed.stdout}"
    )
    summary: dict[str, Any] = json.loads(completed.stdout)
    return summary
