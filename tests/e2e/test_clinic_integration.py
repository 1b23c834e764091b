"""Clinics integrated through their own web services, end to end: the reference
clinic server runs for real, our CLI configures and polls it, our SOAP server
serves what the poller brought in, and the portal searches and books across
centers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep

from examples.clinic_server.backend import ClinicBackend
from examples.clinic_server.options import ServerOptions
from tests.e2e.conftest import ROOT, Server, _free_port
from tests.e2e.test_clinic_server import _wait_until_healthy

pytestmark = pytest.mark.e2e

TODAY = date(2027, 2, 22)  # a Monday: the clinics' "today"
# Desk bookings take distinct slots: the clinics outlive one backend's run.
_DESK_SLOTS = iter(f"{hour:02}:{minute:02}" for hour in (9, 10, 11, 12) for minute in (0, 20, 40))
PASSWORD_ENV = "TEST_CLINIC_PASSWORD"


@dataclass
class ClinicPeer:
    url: str
    desk: ClinicBackend  # the clinic's own software, on the same database

    @property
    def wsdl(self) -> str:
        return f"{self.url}/clinic?wsdl"

    def control(self, **changes: Any) -> None:
        answer = requests.post(f"{self.url}/_control", json=changes, timeout=10)
        assert answer.status_code == 200, answer.text


def _start_clinic(workdir: Path) -> tuple[subprocess.Popen[bytes], ClinicPeer]:
    port = _free_port()
    db_path = workdir / "clinic.db"
    env = {
        **os.environ,
        "CLINIC_ENABLE_CONTROL": "1",
        "CLINIC_TODAY": TODAY.isoformat(),
        "CLINIC_USERNAME": "platform",
        "CLINIC_PASSWORD": "clinic-secret",
    }
    log = workdir / "clinic.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.clinic_server",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(db_path),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_until_healthy(process, url, log)
    return process, ClinicPeer(url, ClinicBackend(db_path, ServerOptions(today=TODAY)))


@pytest.fixture(scope="module")
def clinics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClinicPeer, ClinicPeer]]:
    started = [_start_clinic(tmp_path_factory.mktemp(f"clinic-{n}")) for n in ("a", "b")]
    try:
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(autouse=True)
def healthy(clinics: tuple[ClinicPeer, ClinicPeer]) -> None:
    for peer in clinics:
        peer.control(reset=True)


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TUOTEMPO_DATABASE_URL": server.database_url,
        PASSWORD_ENV: "clinic-secret",
    }
    return subprocess.run(
        [sys.executable, "-m", "tuotempo_soap.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def integrate(server: Server, peer: ClinicPeer, *, center: str | None = None) -> Any:
    who = server.new_instance()
    args = [
        "clinic",
        "set",
        who.instance,
        "--wsdl",
        peer.wsdl,
        "--username",
        "platform",
        "--password-env",
        PASSWORD_ENV,
        "--timeout",
        "5",
    ]
    if center:
        args += ["--center", center]
    done = cli(server, *args)
    assert done.returncode == 0, done.stderr
    return who


def reservations_of(server: Server, who: Any) -> dict[str, Any]:
    client = zeep.Client(server.wsdl_url)
    page = client.service.getReservations(AUTH=who.auth(), MAX_RESULTS=500)
    return {r.APP_LID: r for r in (page.RESERVATIONS.RESERVATION if page.RESERVATIONS else [])}


def test_poller_brings_clinic_appointments_into_get_reservations(
    server: Server, clinics: tuple[ClinicPeer, ClinicPeer]
) -> None:
    peer = clinics[0]
    who = integrate(server, peer, center="C1")
    booked = peer.desk.book_at_desk(
        resource_lid="C1-DR1",
        activity_lid="VISIT",
        day=date(2027, 2, 24),
        start=next(_DESK_SLOTS),
        first_name="Ana",
        mobile_phone="612345678",
    )
    first = cli(server, "poll", "--instance", who.instance)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "entities" in first.stdout  # KeyEntities on the first poll of the day
    rows = reservations_of(server, who)
    assert booked in rows
    got = rows[booked]
    assert (got.APP_DATE, got.RESOURCE_LID, got.STATUS) == ("24/02/2027", "C1-DR1", "APPROVED")
    assert got.USER_MOBILE_PHONE == "+34612345678"
    assert got.USER_FIRST_NAME is None  # the clinic never sends it, and we would not keep it

    peer.desk.cancel_at_desk(booked)
    again = cli(server, "poll", "--instance", who.instance)
    assert again.returncode == 0
    assert reservations_of(server, who)[booked].STATUS == "CANCELLED by ADMIN"

    shown = cli(server, "clinic", "show", who.instance)
    assert "resources: " in shown.stdout and "resources: 0" not in shown.stdout
    assert "last_success_at" in shown.stdout


def test_a_clinic_down_for_a_while_loses_no_change(
    server: Server, clinics: tuple[ClinicPeer, ClinicPeer]
) -> None:
    peer = clinics[0]
    who = integrate(server, peer, center="C2")
    assert cli(server, "poll", "--instance", who.instance).returncode == 0
    peer.control(fail_http_500=True)
    during = peer.desk.book_at_desk(
        resource_lid="C2-DR1",
        activity_lid="VISIT",
        day=date(2027, 2, 25),
        start=next(_DESK_SLOTS),
        mobile_phone="622222222",
    )
    down = cli(server, "poll", "--instance", who.instance)
    assert down.returncode == 4 and "failed" in down.stderr
    assert "Traceback" not in down.stderr
    assert during not in reservations_of(server, who)
    shown = cli(server, "clinic", "show", who.instance).stdout
    assert "consecutive_failures: 1" in shown
    peer.control(reset=True)
    back = cli(server, "poll", "--instance", who.instance)
    assert back.returncode == 0, back.stderr
    assert during in reservations_of(server, who)
    assert "consecutive_failures: 0" in cli(server, "clinic", "show", who.instance).stdout


def test_portal_searches_all_centers_and_forwards_bookings(
    server: Server, clinics: tuple[ClinicPeer, ClinicPeer]
) -> None:
    a, b = clinics
    via_a = integrate(server, a)
    via_b = integrate(server, b)
    portal = server.new_instance()
    for center, via in (("C1", via_a), ("C3", via_a), ("C2", via_b)):
        done = cli(server, "portal", "add-center", portal.instance, center, "--via", via.instance)
        assert done.returncode == 0, done.stderr
    search = [
        "availability",
        "search",
        portal.instance,
        "--activity",
        "VISIT",
        "--from",
        "01/03/2027",
        "--to",
        "01/03/2027",
        "--max",
        "60",
    ]
    found = cli(server, *search)
    assert found.returncode == 0, found.stderr
    lines = [line.split("\t") for line in found.stdout.splitlines()]
    assert {line[1] for line in lines} == {"C1", "C2", "C3"}
    starts = [line[0] for line in lines]
    assert starts == sorted(starts)  # merged by date and time

    b.control(delay_seconds=4, delay_operations=["searchAvailabilities"])
    partial = cli(server, *search, "--timeout", "1.5")
    assert partial.returncode == 0
    centers = {line.split("\t")[1] for line in partial.stdout.splitlines()}
    assert centers == {"C1", "C3"}
    assert "center C2: Server.ClinicTimeout" in partial.stderr
    b.control(reset=True)

    slot = next(line for line in lines if line[1] == "C2")
    day, start = slot[0].split(" ")
    booked = cli(
        server,
        "appointment",
        "add",
        portal.instance,
        "--center",
        "C2",
        "--availability-lid",
        slot[4],
        "--date",
        day,
        "--time",
        start,
        "--activity",
        slot[3],
        "--resource",
        slot[2],
        "--mobile",
        "633333333",
    )
    assert booked.returncode == 0, booked.stderr
    app_lid = booked.stdout.split()[1]
    twice = cli(
        server,
        "appointment",
        "add",
        portal.instance,
        "--center",
        "C2",
        "--availability-lid",
        slot[4],
        "--date",
        day,
        "--time",
        start,
        "--activity",
        slot[3],
        "--resource",
        slot[2],
        "--mobile",
        "644444444",
    )
    assert twice.returncode == 1 and "refused" in twice.stderr
    after = cli(server, *search).stdout
    assert slot[4] not in after
    deleted = cli(server, "appointment", "delete", portal.instance, app_lid, "--center", "C2")
    assert deleted.returncode == 0, deleted.stderr
    assert slot[4] in cli(server, *search).stdout
