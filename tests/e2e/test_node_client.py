"""Interoperability with a non-Python toolkit: node-soap (npm ``soap``) against gunicorn.

Runs ``examples/node_client/roundtrip.js`` (the example we hand to HIS vendors)
and checks what it saw, and what the database holds, after it:

- updateReservations with two good items and one dated 31/02/2027 is PARTIAL,
  and the bad item comes back with ERROR_CODE INVALID_DATE;
- getReservations for March 2027 reads both good items back, dates in dd/mm/yyyy;
- getReservations with LAST_REQUEST_TIMESTAMP = NEXT_REQUEST_TIMESTAMP finds nothing new;
- a wrong password is a SOAP fault whose typed detail node-soap can read.

Needs Node.js (20.19+) and the client's packages: ``npm ci --prefix examples/node_client``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import toolkits
from tests.e2e.conftest import Server
from tuotempo_soap.services import instances
from tuotempo_soap.store.repositories import ReservationRepository

pytestmark = [pytest.mark.e2e, pytest.mark.node]

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "examples" / "node_client"
INSTALL_HINT = "install the client with: npm ci --prefix examples/node_client"
DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable; skips (before any server starts) when the client cannot run."""
    # CI sets TUOTEMPO_REQUIRE_NODE so a missing client fails instead of skipping.
    give_up = toolkits.give_up("TUOTEMPO_REQUIRE_NODE")
    executable = shutil.which("node")
    if executable is None:
        give_up(f"Node.js is not on PATH: install Node.js 20.19+, then {INSTALL_HINT}")
    if not (CLIENT_DIR / "node_modules" / "soap").is_dir():
        give_up(f"node-soap is not installed in {CLIENT_DIR / 'node_modules'}: {INSTALL_HINT}")
    return str(executable)


def run_roundtrip(node: str, server: Server, *credentials: str) -> dict[str, Any]:
    command = [node, str(CLIENT_DIR / "roundtrip.js"), server.wsdl_url, *credentials]
    return toolkits.run_json_client(command, CLIENT_DIR, "roundtrip.js")


def test_node_soap_roundtrip(node: str, server: Server) -> None:
    creds = server.new_instance()
    seen = run_roundtrip(node, server, creds.instance, creds.username, creds.password)

    # node-soap posted to the address the server wrote into the WSDL it served.
    assert seen["endpoint"] == server.soap_url

    update = seen["update"]
    assert update["RESULT"] == "PARTIAL"
    counts = {key: update[key] for key in ("CREATED", "UPDATED", "UNCHANGED", "FAILED")}
    assert counts == {"CREATED": 2, "UPDATED": 0, "UNCHANGED": 0, "FAILED": 1}
    items = {item["APP_LID"]: item for item in update["items"]}
    assert [item["APP_LID"] for item in update["items"]] == ["NODE-1001", "NODE-1002", "NODE-1003"]
    for lid in ("NODE-1001", "NODE-1002"):
        assert items[lid]["RESULT"] == "OK"
        assert items[lid]["ACTION"] == "CREATED"
        assert isinstance(items[lid]["RESERVATION_ID"], int)
        assert "ERROR_CODE" not in items[lid]
    bad = items["NODE-1003"]
    assert bad["RESULT"] == "ERROR"
    assert bad["ERROR_CODE"] == "INVALID_DATE"
    assert bad["ERROR_FIELD"] == "APP_DATE"
    assert "RESERVATION_ID" not in bad

    read = seen["read"]
    assert read["RESULT"] == "OK"
    assert read["COUNT"] == 2
    assert read["MORE_RESULTS"] is False
    back = {row["APP_LID"]: row for row in read["reservations"]}
    assert set(back) == {"NODE-1001", "NODE-1002"}
    assert all(DATE.match(row["APP_DATE"]) for row in back.values())
    assert back["NODE-1001"]["APP_DATE"] == "15/03/2027"
    assert back["NODE-1001"]["APP_START_TIME"] == "09:30"
    assert back["NODE-1001"]["USER_MOBILE_PHONE"] == "+34612345678"
    assert back["NODE-1002"]["APP_DATE"] == "16/03/2027"
    assert back["NODE-1002"]["USER_MOBILE_PHONE"] == "+34622334455"
    assert back["NODE-1002"]["STATUS"] == "APPROVED"
    assert read["NEXT_REQUEST_TIMESTAMP"]

    assert seen["delta"] == {"RESULT": "OK", "COUNT": 0, "reservations": 0}

    fault = seen["fault"]
    assert fault["faultcode"].endswith("Client.AuthenticationFailed")
    assert fault["CODE"] == "Client.AuthenticationFailed"
    assert fault["MESSAGE"]

    # What node-soap reported is what the server stored: the two good items only.
    instance = instances.get_instance(server.store, creds.instance)
    with server.store.unit_of_work() as connection:
        repo = ReservationRepository(connection)
        stored = repo.by_app_lids(instance.id, ["NODE-1001", "NODE-1002", "NODE-1003"])
        assert repo.count(instance.id) == 2
    assert set(stored) == {"NODE-1001", "NODE-1002"}
    assert {lid: row.id for lid, row in stored.items()} == {
        lid: items[lid]["RESERVATION_ID"] for lid in stored
    }
