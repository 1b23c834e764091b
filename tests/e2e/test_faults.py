"""Faults and logs through a real gunicorn: a fault Spyne raises reaches a
generated client (zeep) as the typed ServiceFault the WSDL declares, and a fuzz
run at DEBUG leaves no patient data in the server's log (gunicorn's error and
access log and the application's, one file)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from zeep.exceptions import Fault

from tests.e2e.conftest import Server, start_gunicorn, stop_process
from tests.fuzz_envelopes import Patient, corpus
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store

pytestmark = pytest.mark.e2e
TNS = "http://tuotempo-soap.org/v1"


@pytest.fixture(scope="module")
def client(server: Server) -> zeep.Client:
    return zeep.Client(server.wsdl_url)


def detail_of(fault: Fault) -> dict[str, str | None]:
    element = fault.detail.find(f"{{{TNS}}}ServiceFault")
    assert element is not None, "no typed detail"
    return {name: element.findtext(f"{{{TNS}}}{name}") for name in ("CODE", "FIELD", "MESSAGE")}


def test_a_value_spyne_refuses_reaches_zeep_as_a_typed_fault(
    client: zeep.Client, server: Server
) -> None:
    """zeep sends 99999999999 as an xs:int; Spyne's reading of it is refused, typed."""
    who = server.new_instance()
    with pytest.raises(Fault) as info:
        client.service.getReservations(AUTH=who.auth(), MAX_RESULTS=99999999999)
    assert info.value.code == "soap:Client.ValidationError"
    assert detail_of(info.value) == {
        "CODE": "Client.ValidationError",
        "FIELD": "MAX_RESULTS",
        "MESSAGE": info.value.message,
    }


class _SoapActionOf:
    """A zeep plugin sending another operation's SOAPAction, as a misrouting
    gateway or a hand-edited client would."""

    def __init__(self, action: str) -> None:
        self.action = action

    def egress(self, envelope: Any, http_headers: dict[str, str], *_: Any) -> Any:
        http_headers["SOAPAction"] = f'"{self.action}"'
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        return envelope, http_headers


def test_a_soap_action_mismatch_reaches_zeep_as_a_typed_fault(server: Server) -> None:
    who = server.new_instance()
    client = zeep.Client(server.wsdl_url, plugins=[_SoapActionOf("updateReservations")])
    with pytest.raises(Fault) as info:
        client.service.getReservations(AUTH=who.auth())
    assert info.value.code == "soap:Client.SOAPActionMismatch"
    assert detail_of(info.value)["FIELD"] == "SOAPAction"


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A gunicorn of its own, everything at DEBUG: gunicorn's log level and ours."""
    workdir = tmp_path_factory.mktemp("server-debug")
    database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    process, url, log = start_gunicorn(
        database_url,
        workdir,
        extra_env={
            "TUOTEMPO_LOG_LEVEL": "DEBUG",
            "GUNICORN_CMD_ARGS": "--log-level debug",
            # The corpus signs in wrongly a few dozen times from 127.0.0.1; the
            # throttle would then answer every later request before reading it.
            "TUOTEMPO_AUTH_FAILURES_BEFORE_DELAY": "100000",
            "TUOTEMPO_AUTH_FAILURES_BEFORE_LOCK": "100000",
        },
    )
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        yield Server(url=url, store=store, log=log, database_url=database_url)
    finally:
        stop_process(process)
        store.dispose()


def test_a_fuzz_run_leaves_no_patient_data_in_the_server_log(debug_server: Server) -> None:
    who = debug_server.new_instance()
    patient = Patient.invent(seed=88)
    statuses: Counter[int] = Counter()
    with requests.Session() as session:
        for request in corpus(who.auth(), patient, seed=88, size=400):
            try:
                response = session.post(
                    debug_server.soap_url, data=request.body, headers=request.headers, timeout=60
                )
                statuses[response.status_code] += 1
            except requests.ConnectionError:
                # gunicorn may close the connection of a refused oversized body
                # before reading it all; that is an answer too.
                statuses[0] += 1
    log = Path(debug_server.log).read_text(errors="replace")
    assert statuses[200] >= 4 and statuses[500] >= 100, statuses
    # The log is the real one: JSON access lines, DEBUG lines.
    assert '"message": "POST /soap HTTP/1.1 500"' in log and '"level": "DEBUG"' in log
    assert "soap fault Client.ValidationError field=MAX_RESULTS" in log
    leaked = sorted(needle for needle in patient.needles() if needle.lower() in log.lower())
    assert leaked == [], f"patient data in the server log: {leaked}"
    assert who.password not in log
