"""Shared by the tests that drive our WSDL from other languages' SOAP toolkits."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import select

from tests.conftest import Credentials
from tests.e2e.conftest import Server
from tuotempo_soap.services import instances
from tuotempo_soap.store.repositories import ReservationRepository
from tuotempo_soap.store.tables import messages as messages_table


def give_up(require_env: str) -> Callable[[str], NoReturn]:
    """Skip when the toolkit is missing; fail instead when CI requires it (``require_env``)."""
    return pytest.fail if os.environ.get(require_env) else pytest.skip  # type: ignore[return-value]


def run_json_client(command: list[str], cwd: Path, name: str) -> dict[str, Any]:
    """Run an example client that prints one JSON summary; fail clearly otherwise."""
    summary: dict[str, Any] = json.loads(run_client(command, cwd, name))
    return summary


def run_client(command: list[str], cwd: Path, name: str) -> str:
    """Run an example client to the end and return what it printed; fail clearly otherwise."""
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
    return completed.stdout


def build_example(example: Path, wsdl_url: str, build: Path) -> None:
    """Run an example's own ``build.sh`` on the WSDL the server serves, into ``build``."""
    done = subprocess.run(
        ["sh", str(example / "build.sh"), wsdl_url, str(build)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# What examples/java_client/HisClient.java and examples/csharp_client/HisClient.cs
# both do, in their order: the NOTES of the first appointment carry non-ASCII
# text both ways, so a toolkit that mangles UTF-8 fails here.
DAY = "15/03/2027"
NOTES = "Revisión anual, traer informe (1ª visita: 40 €)"


def check_his_client(stdout: str, server: Server, who: Credentials, prefix: str) -> None:
    """Check the tab-separated report of a HisClient run, then the database after it."""
    lines = [line.split("\t") for line in stdout.splitlines()]
    assert lines, "the client printed nothing"
    ids = {row[1]: row[4] for row in lines if row[0] == "item" and row[2] == "OK"}
    sms_id = next((row[4] for row in lines if row[0] == "message" and row[2] == "OK"), "?")
    assert all(value.isdigit() for value in [*ids.values(), sms_id]), stdout
    r1, r2, r3 = (ids.get(f"{prefix}-100{n}", "?") for n in (1, 2, 3))

    def row(round_: int, rid: str, n: int, start: str, phone: str, status: str) -> list[str]:
        lid, notes = f"{prefix}-100{n}", NOTES if n == 1 else "-"
        return ["reservation", str(round_), rid, lid, DAY, start, phone, status, notes]

    fault = lines[-1]
    expected = [
        ["endpoint", server.soap_url],
        ["update", "PARTIAL", "3", "0", "0", "1"],
        ["item", f"{prefix}-1001", "OK", "CREATED", r1, "-", "-"],
        ["item", f"{prefix}-1002", "OK", "CREATED", r2, "-", "-"],
        ["item", f"{prefix}-1003", "OK", "CREATED", r3, "-", "-"],
        ["item", f"{prefix}-1004", "ERROR", "-", "-", "INVALID_DATE", "APP_DATE"],
        # The first delta read: two pages of MAX_RESULTS 2, in change order.
        ["page", "1", "2", "true"],
        row(1, r1, 1, "09:30", "+34612345678", "APPROVED"),
        row(1, r2, 2, "10:00", "+34622334455", "PENDING"),
        ["page", "1", "1", "false"],
        row(1, r3, 3, "10:30", "+34633445566", "PENDING"),
        ["update", "OK", "0", "1", "0", "0"],
        ["item", f"{prefix}-1002", "OK", "UPDATED", r2, "-", "-"],
        # From the kept cursor: the one change, then nothing.
        ["page", "2", "1", "false"],
        row(2, r2, 2, "10:00", "+34622334455", "CANCELLED by USER"),
        ["page", "3", "0", "false"],
        ["messages", "PARTIAL", "1", "0", "1"],
        ["message", f"{prefix}-SMS-1", "OK", "QUEUED", sms_id, "1", "-", "-"],
        ["message", f"{prefix}-MAIL-1", "ERROR", "-", "-", "-", "INVALID_RECIPIENT", "TO"],
        ["search", "OK", "1", "false"],
        ["found", sms_id, f"{prefix}-SMS-1", "SMS", "+34612345678", "QUEUED", "1", "0"],
        ["fault", "Client.ValidationError", "START_DATE", fault[-1]],
    ]
    assert lines == expected, stdout
    assert fault[-1].startswith("START_DATE"), fault

    # What the client reported is what the server stored.
    instance = instances.get_instance(server.store, who.instance)
    lids = [f"{prefix}-100{n}" for n in (1, 2, 3, 4)]
    with server.store.unit_of_work() as connection:
        stored = ReservationRepository(connection).by_app_lids(instance.id, lids)
        queued = connection.execute(
            select(
                messages_table.c.id, messages_table.c.legacy_id, messages_table.c.recipient
            ).where(messages_table.c.instance_id == instance.id)
        ).all()
    assert {lid: str(found.id) for lid, found in stored.items()} == {
        f"{prefix}-1001": r1,
        f"{prefix}-1002": r2,
        f"{prefix}-1003": r3,
    }
    assert stored[f"{prefix}-1001"].notes == NOTES
    assert stored[f"{prefix}-1002"].status == "CANCELLED by USER"
    assert [tuple(found) for found in queued] == [(int(sms_id), f"{prefix}-SMS-1", "+34612345678")]
