"""Interoperability with a second non-Python toolkit: PHP's SoapClient (ext-soap) against gunicorn.

Runs ``examples/php_client/roundtrip.php`` (the example we hand to HIS vendors)
and checks what it saw, and what the database holds, after it:

- updateReservations with two good items and one dated 31/02/2027 is PARTIAL,
  and the bad item comes back with ERROR_CODE INVALID_DATE;
- getReservations for March 2027 reads both good items back, dates in dd/mm/yyyy;
- getReservations with LAST_REQUEST_TIMESTAMP = NEXT_REQUEST_TIMESTAMP finds nothing new;
- updateMessages queues the SMS (TO in E.164, one segment) and refuses the e-mail
  to a bad address with INVALID_RECIPIENT; searchMessages finds the SMS by LEGACY_ID;
- a wrong password is a SOAP fault whose typed detail ext-soap decodes.

Needs the PHP CLI with ext-soap: ``apt-get install -y php-cli php-soap``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e import toolkits
from tests.e2e.conftest import Server
from tuotempo_soap.services import instances
from tuotempo_soap.store.repositories import ReservationRepository
from tuotempo_soap.store.tables import messages as messages_table

pytestmark = [pytest.mark.e2e, pytest.mark.php]

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "examples" / "php_client"
INSTALL_HINT = "install it with: apt-get install -y php-cli php-soap"
DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")


@pytest.fixture(scope="session")
def php() -> str:
    """The php executable; skips (before any server starts) when the client cannot run."""
    # CI sets TUOTEMPO_REQUIRE_PHP so a missing PHP fails instead of skipping.
    give_up = toolkits.give_up("TUOTEMPO_REQUIRE_PHP")
    executable = shutil.which("php")
    if executable is None:
        give_up(f"PHP is not on PATH: {INSTALL_HINT}")
    modules = subprocess.run(
        [str(executable), "-m"], capture_output=True, text=True, timeout=30, check=False
    )
    if "soap" not in {line.strip().lower() for line in modules.stdout.splitlines()}:
        give_up(f"PHP's soap extension is missing (php -m does not list soap): {INSTALL_HINT}")
    return str(executable)


def run_roundtrip(php: str, server: Server, *credentials: str) -> dict[str, Any]:
    command = [php, str(CLIENT_DIR / "roundtrip.php"), server.wsdl_url, *credentials]
    return toolkits.run_json_client(command, CLIENT_DIR, "roundtrip.php")


def test_php_soapclient_roundtrip(php: str, server: Server) -> None:
    creds = server.new_instance()
    seen = run_roundtrip(php, server, creds.instance, creds.username, creds.password)

    # SoapClient posted to the address the server wrote into the WSDL it served.
    assert seen["endpoint"] == server.soap_url

    update = seen["update"]
    assert update["RESULT"] == "PARTIAL"
    counts = {key: update[key] for key in ("CREATED", "UPDATED", "UNCHANGED", "FAILED")}
    assert counts == {"CREATED": 2, "UPDATED": 0, "UNCHANGED": 0, "FAILED": 1}
    items = {item["APP_LID"]: item for item in update["items"]}
    assert [item["APP_LID"] for item in update["items"]] == ["PHP-1001", "PHP-1002", "PHP-1003"]
    for lid in ("PHP-1001", "PHP-1002"):
        assert items[lid]["RESULT"] == "OK"
        assert items[lid]["ACTION"] == "CREATED"
        assert isinstance(items[lid]["RESERVATION_ID"], int)
        assert items[lid]["ERROR_CODE"] is None
    bad = items["PHP-1003"]
    assert bad["RESULT"] == "ERROR"
    assert bad["ERROR_CODE"] == "INVALID_DATE"
    assert bad["ERROR_FIELD"] == "APP_DATE"
    assert bad["RESERVATION_ID"] is None

    read = seen["read"]
    assert read["RESULT"] == "OK"
    assert read["COUNT"] == 2
    assert read["MORE_RESULTS"] is False
    back = {row["APP_LID"]: row for row in read["reservations"]}
    assert set(back) == {"PHP-1001", "PHP-1002"}
    assert all(DATE.match(row["APP_DATE"]) for row in back.values())
    assert back["PHP-1001"]["APP_DATE"] == "15/03/2027"
    assert back["PHP-1001"]["APP_START_TIME"] == "09:30"
    assert back["PHP-1001"]["USER_MOBILE_PHONE"] == "+34612345678"
    assert back["PHP-1002"]["APP_DATE"] == "16/03/2027"
    assert back["PHP-1002"]["USER_MOBILE_PHONE"] == "+34622334455"
    assert back["PHP-1002"]["STATUS"] == "APPROVED"
    assert read["NEXT_REQUEST_TIMESTAMP"]

    assert seen["delta"] == {"RESULT": "OK", "COUNT": 0, "reservations": 0}

    messages = seen["messages"]
    assert messages["RESULT"] == "PARTIAL"
    counts = {key: messages[key] for key in ("QUEUED", "ALREADY_QUEUED", "FAILED")}
    assert counts == {"QUEUED": 1, "ALREADY_QUEUED": 0, "FAILED": 1}
    sms, mail = messages["items"]
    assert sms["LEGACY_ID"] == "PHP-SMS-1"
    assert (sms["RESULT"], sms["ACTION"], sms["SEGMENTS"]) == ("OK", "QUEUED", 1)
    assert isinstance(sms["MESSAGE_ID"], int)
    assert sms["ERROR_CODE"] is None
    assert mail["LEGACY_ID"] == "PHP-MAIL-1"
    assert (mail["RESULT"], mail["ERROR_CODE"], mail["ERROR_FIELD"]) == (
        "ERROR",
        "INVALID_RECIPIENT",
        "TO",
    )
    assert mail["MESSAGE_ID"] is None

    search = seen["search"]
    assert (search["RESULT"], search["COUNT"], search["MORE_RESULTS"]) == ("OK", 1, False)
    (found,) = search["messages"]
    assert found == {
        "MESSAGE_ID": sms["MESSAGE_ID"],
        "LEGACY_ID": "PHP-SMS-1",
        "CHANNEL": "SMS",
        "TO": "+34612345678",
        "STATUS": "QUEUED",
        "SEGMENTS": 1,
        "ATTEMPTS": 0,
    }

    fault = seen["fault"]
    assert fault["faultcode"].endswith("Client.AuthenticationFailed")
    assert fault["CODE"] == "Client.AuthenticationFailed"
    assert fault["MESSAGE"]

    # What SoapClient reported is what the server stored: the good items only.
    instance = instances.get_instance(server.store, creds.instance)
    with server.store.unit_of_work() as connection:
        repo = ReservationRepository(connection)
        stored = repo.by_app_lids(instance.id, ["PHP-1001", "PHP-1002", "PHP-1003"])
        assert repo.count(instance.id) == 2
        queued = connection.execute(
            select(
                messages_table.c.id,
                messages_table.c.legacy_id,
                messages_table.c.recipient,
                messages_table.c.status,
            ).where(messages_table.c.instance_id == instance.id)
        ).all()
    assert set(stored) == {"PHP-1001", "PHP-1002"}
    assert {lid: row.id for lid, row in stored.items()} == {
        lid: items[lid]["RESERVATION_ID"] for lid in stored
    }
    assert [tuple(row) for row in queued] == [
        (sms["MESSAGE_ID"], "PHP-SMS-1", "+34612345678", "QUEUED")
    ]
