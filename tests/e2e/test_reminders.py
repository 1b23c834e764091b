"""Automatic reminders end to end, with a clock file shared by the server, the
worker and the CLI: the HIS pushes appointments over SOAP, the real worker
process plans and sends reminders through a local SMS gateway and a real SMTP
server at the right times, patients answer by SMS, by e-mail link and too
late, the HIS reads the answers back with getReservations, and a clinic
integrated by web services receives CancelAppointment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep

from tests.conftest import Credentials, make_instance, migrated_postgres
from tests.e2e.conftest import ROOT, _free_port, start_gunicorn
from tests.e2e.peers import SECRETS, SmsGateway, SmtpServer, senders_config
from tests.e2e.test_clinic_integration import ClinicPeer, _start_clinic
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store

pytestmark = pytest.mark.e2e

MADRID = ZoneInfo("Europe/Madrid")
RULES = {
    "offsets_hours": [24],
    "quiet_start": "21:00",
    "quiet_end": "09:00",
    "clinic_name": "Clinica Sol",
    "clinic_phone": "910000000",
}


@dataclass
class World:
    url: str
    env: dict[str, str]
    store: Store
    client: zeep.Client
    sms: SmsGateway
    smtp: SmtpServer
    clock: Path
    clinic: ClinicPeer

    def at(self, local: datetime) -> None:
        """Move everyone's clock to this Madrid wall time."""
        self.clock.write_text(local.replace(tzinfo=MADRID).isoformat())

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tuotempo_soap.cli", *args],
            input=stdin,
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def work(self) -> None:
        done = self.cli("worker", "--once")
        assert done.returncode == 0, done.stdout + done.stderr

    def push(self, who: Credentials, *items: dict[str, Any]) -> Any:
        result = self.client.service.updateReservations(
            AUTH=who.auth(), RESERVATIONS={"RESERVATION": list(items)}
        )
        assert result.RESULT == "OK", result
        return result

    def reservations(self, who: Credentials) -> dict[str, Any]:
        page = self.client.service.getReservations(AUTH=who.auth(), MAX_RESULTS=500)
        return {r.APP_LID: r for r in (page.RESERVATIONS.RESERVATION if page.RESERVATIONS else [])}

    def texts_to(self, number: str) -> list[str]:
        return [b["text"] for b in self.sms.accepted.values() if b["to"] == number]

    def reply(self, sender: str, text: str) -> dict[str, Any]:
        answer = requests.post(
            f"{self.url}/inbound/sms/sms-gw",
            data={"from": sender, "text": text},
            headers={"X-Receipt-Secret": SECRETS["TEST_SMS_RECEIPT_SECRET"]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def new_instance(self) -> Credentials:
        who = make_instance(self.store, email_from="citas@sol.example")
        rules = self.cli("reminders", "rules", who.instance, "--set", "-", stdin=json.dumps(RULES))
        assert rules.returncode == 0, rules.stderr
        return who


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("reminders")
    sms, smtp = SmsGateway(), SmtpServer()
    clinic_process, clinic = _start_clinic(tmp_path_factory.mktemp("reminder-clinic"))
    clock = workdir / "clock.txt"
    clock.write_text(datetime(2027, 3, 1, 8, 0, tzinfo=MADRID).isoformat())
    senders = workdir / "senders.json"
    config = senders_config(sms, smtp)
    config["routes"]["*"]["VOICE"] = "sms-gw"  # calls through the gateway that takes keypads
    senders.write_text(json.dumps(config))
    port = _free_port()
    scope = ExitStack()
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    else:
        # A database of its own: the worker sends whatever is due in the whole
        # database, and other tests' leftovers must not reach this world's gateway.
        database_url = scope.enter_context(
            migrated_postgres(str(request.getfixturevalue("postgres_url")), "reminders_world")
        )
    extra = {
        **SECRETS,
        "TUOTEMPO_SENDERS_FILE": str(senders),
        "TUOTEMPO_CLOCK_FILE": str(clock),
        "TUOTEMPO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TUOTEMPO_SECRET_KEY": "test-secret-key-for-links",
        "TEST_CLINIC_PASSWORD": "clinic-secret",
    }
    process, url, _ = start_gunicorn(database_url, workdir, extra, port=port)
    env = {
        **os.environ,
        **extra,
        "TUOTEMPO_DATABASE_URL": database_url,
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
    }
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        yield World(url, env, store, zeep.Client(f"{url}/soap?wsdl"), sms, smtp, clock, clinic)
    finally:
        process.terminate()
        process.wait(timeout=15)
        clinic_process.terminate()
        clinic_process.wait(timeout=15)
        store.dispose()
        sms.close()
        smtp.close()
        scope.close()


def appointment(lid: str, day: str, start: str, **fields: Any) -> dict[str, Any]:
    return {
        "APP_LID": lid,
        "APP_DATE": day,
        "APP_START_TIME": start,
        "RESOURCE_LID": "DR1",
        "RESOURCE_NAME": "Dra. Rossi",
        "LOCATION_NAME": "Centro",
        "STATUS": "APPROVED",
        **fields,
    }


def test_reminders_replies_and_the_answer_back(world: World) -> None:
    his = world.new_instance()
    world.at(datetime(2027, 3, 1, 8, 0))  # Monday 08:00 in Madrid: quiet hours until 09:00
    world.push(
        his,
        # P1: two appointments on Tuesday, prefers SMS, Spanish: one reminder for both.
        appointment(
            "A1",
            "02/03/2027",
            "10:00",
            USER_LID="P1",
            USER_MOBILE_PHONE="611111111",
            COMMUNICATION_PREFERENCES="100",
            USER_LANGUAGE="es",
        ),
        appointment(
            "A1b",
            "02/03/2027",
            "12:00",
            USER_LID="P1",
            USER_MOBILE_PHONE="611111111",
            COMMUNICATION_PREFERENCES="100",
            USER_LANGUAGE="es",
        ),
        # P2: e-mail only, Italian.
        appointment(
            "A2",
            "02/03/2027",
            "11:00",
            USER_LID="P2",
            USER_EMAIL="paola@example.org",
            COMMUNICATION_PREFERENCES="010",
            USER_LANGUAGE="it",
        ),
        # P5: due Monday 08:00, inside quiet hours: moves to 09:00.
        appointment(
            "A5",
            "02/03/2027",
            "08:00",
            USER_LID="P5",
            USER_MOBILE_PHONE="655555555",
            USER_LANGUAGE="es",
        ),
        # P4: the HIS will move it before its reminder goes out.
        appointment(
            "A4",
            "02/03/2027",
            "09:30",
            USER_LID="P4",
            USER_MOBILE_PHONE="644444444",
            USER_LANGUAGE="en",
        ),
        # P3: Wednesday; will answer after the appointment.
        appointment(
            "A3",
            "03/03/2027",
            "09:30",
            USER_LID="P3",
            USER_MOBILE_PHONE="633333333",
            USER_LANGUAGE="en",
        ),
    )
    world.work()
    assert world.sms.accepted == {} and world.smtp.messages == []  # nothing during quiet hours

    plan = world.cli(
        "reminders", "plan", his.instance, "--from", "01/03/2027", "--to", "04/03/2027"
    )
    assert plan.returncode == 0 and "01/03/2027 09:00\treminder\tSMS" in plan.stdout

    world.push(
        his,
        appointment(
            "A4",
            "02/03/2027",
            "16:00",
            USER_LID="P4",
            USER_MOBILE_PHONE="644444444",
            USER_LANGUAGE="en",
        ),
    )
    world.at(datetime(2027, 3, 1, 11, 5))
    world.work()
    world.work()  # the first run queues, a second catches anything queued mid-run
    p1 = world.texts_to("+34611111111")
    assert len(p1) == 1, p1  # one reminder per patient and day
    assert "10:00" in p1[0] and "12:00" in p1[0] and "Recordatorio" in p1[0]
    assert len(world.texts_to("+34655555555")) == 1
    assert world.texts_to("+34644444444") == []  # moved to 16:00: its reminder is due at 16:00
    (mail,) = world.smtp.messages
    assert mail["To"] == "paola@example.org" and "appuntamento" in mail["Subject"].lower()
    body = mail.get_payload(decode=True).decode()
    links = re.findall(r"http://127\.0\.0\.1:\d+/answer/[\w.\-]+", body)
    assert len(links) == 2 and "paola" not in "".join(links)

    # P1 answers "NO" by SMS: both appointments that day are cancelled by the patient.
    assert world.reply("+34 611 111 111", "NO, no puedo ir")["result"] == "cancelled"
    # P5 writes something unclear: a help answer, nothing changes.
    assert world.reply("655555555", "a que hora abren?")["result"] == "help"
    # A number we never wrote to: ignored.
    assert world.reply("699999999", "SI")["result"] == "unknown_sender"
    # P2 opens the cancel link: the page shows the appointment, the POST cancels.
    cancel = next(link for link in links if link == links[1])
    page = requests.get(cancel, timeout=10)
    assert page.status_code == 200 and "02/03/2027 11:00" in page.text and "<form" in page.text
    form_token = re.search(r'name="form_token" value="([0-9a-f]{64})"', page.text)
    assert form_token is not None
    assert requests.post(cancel, timeout=10).status_code == 403  # not from the page
    posted = requests.post(cancel, data={"form_token": form_token.group(1)}, timeout=10)
    assert posted.status_code == 200
    again = requests.post(cancel, data={"form_token": form_token.group(1)}, timeout=10)
    assert again.status_code == 409  # a link answers once
    forged = requests.get(cancel[:-3] + "abc", timeout=10)
    assert forged.status_code == 404

    world.work()
    acks = world.texts_to("+34611111111")
    assert len(acks) == 2 and "anulada" in acks[1]
    assert any("No hemos entendido" in t for t in world.texts_to("+34655555555"))

    rows = world.reservations(his)
    for lid, channel in (("A1", "SMS"), ("A1b", "SMS"), ("A2", "EMAIL")):
        assert rows[lid].STATUS == "CANCELLED by USER", lid
        assert (
            rows[lid].PATIENT_ANSWER == "CANCELLED" and channel == rows[lid].PATIENT_ANSWER_CHANNEL
        )
        assert rows[lid].PATIENT_ANSWER_TIME and rows[lid].STATUS_CHANGED_BY == "PATIENT"
    assert rows["A5"].STATUS == "APPROVED" and rows["A5"].PATIENT_ANSWER is None

    # The HIS moves P5's appointment after the reminder went out: the patient is told.
    world.push(
        his,
        appointment(
            "A5",
            "02/03/2027",
            "09:15",
            USER_LID="P5",
            USER_MOBILE_PHONE="655555555",
            USER_LANGUAGE="es",
        ),
    )
    world.work()
    world.work()
    p5 = world.texts_to("+34655555555")
    assert len(p5) == 3 and "09:15" in p5[-1] and "08:00" in p5[-1], p5

    # 16:05: P4's reminder follows the new time.
    world.at(datetime(2027, 3, 1, 16, 5))
    world.work()
    (p4,) = world.texts_to("+34644444444")
    assert "16:00" in p4

    # A late booking (tomorrow 10:00, past its 24 h offset) still gets one reminder now.
    world.push(
        his,
        appointment(
            "A6",
            "02/03/2027",
            "10:00",
            USER_LID="P6",
            USER_MOBILE_PHONE="666666666",
            USER_LANGUAGE="es",
        ),
    )
    world.work()
    world.work()
    assert len(world.texts_to("+34666666666")) == 1

    # Tuesday 22:00: quiet hours, P3's reminder (due Tuesday 09:30) went out in the morning.
    world.at(datetime(2027, 3, 2, 9, 35))
    world.work()
    assert len(world.texts_to("+34633333333")) == 1
    # Wednesday 10:00, after the appointment: a "yes" changes nothing, and says so.
    world.at(datetime(2027, 3, 3, 10, 0))
    assert world.reply("633333333", "yes")["result"] == "too_late"
    world.work()
    assert "passed" in world.texts_to("+34633333333")[-1]
    assert world.reservations(his)["A3"].PATIENT_ANSWER is None

    log = world.cli("reminders", "log", his.instance, str(rows["A1"].RESERVATION_ID))
    assert "PLANNED" in log.stdout and "QUEUED" in log.stdout and "ANSWER" in log.stdout


def test_cancellation_reaches_a_clinic_with_web_services(world: World) -> None:
    who = world.new_instance()
    done = world.cli(
        "clinic",
        "set",
        who.instance,
        "--wsdl",
        world.clinic.wsdl,
        "--username",
        "platform",
        "--password-env",
        "TEST_CLINIC_PASSWORD",
        "--center",
        "C1",
    )
    assert done.returncode == 0, done.stderr
    world.at(datetime(2027, 3, 1, 12, 0))
    booked = world.clinic.desk.book_at_desk(
        resource_lid="C1-DR2",
        activity_lid="VISIT",
        day=date(2027, 3, 2),
        start="10:00",
        user_lid="P000001",
        mobile_phone="677777777",
    )
    rules = {**RULES, "cancellation_email": "desk@sol.example"}
    assert (
        world.cli(
            "reminders", "rules", who.instance, "--set", "-", stdin=json.dumps(rules)
        ).returncode
        == 0
    )
    assert world.cli("poll", "--instance", who.instance).returncode == 0
    world.at(datetime(2027, 3, 1, 13, 5))
    world.work()
    world.work()
    polled = world.reservations(who)[booked]
    phone = polled.USER_MOBILE_PHONE  # the clinic's record of P000001 wins over the desk's input
    assert len(world.texts_to(phone)) == 1
    assert world.reply(phone, "no")["result"] == "cancelled"
    world.work()  # CancelAppointment goes to the clinic
    client = zeep.Client(world.clinic.wsdl)
    result = client.service.checkAppointment(
        AUTH={"USERNAME": "platform", "PASSWORD": "clinic-secret"}, CENTER_LID="C1", APP_LID=booked
    )
    assert result.APPOINTMENT.STATUS == "Cancelled", result
    assert world.reservations(who)[booked].STATUS == "CANCELLED by USER"
    (to_center,) = [m for m in world.smtp.messages if m["To"] == "desk@sol.example"]
    assert booked in to_center.get_payload(decode=True).decode()


def test_voice_keypad_answer(world: World) -> None:
    his = world.new_instance()
    world.at(datetime(2027, 3, 1, 12, 0))
    # Landline only, and only the landline allowed: the reminder is a voice call.
    world.push(
        his,
        appointment(
            "V1",
            "03/03/2027",
            "10:00",
            USER_LID="V1",
            USER_LANDLINE_PHONE="912345678",
            COMMUNICATION_PREFERENCES="001",
        ),
    )
    # No worker runs until after the reminder was due (an outage): it still goes out.
    world.at(datetime(2027, 3, 2, 10, 5))
    world.work()
    world.work()
    found = world.client.service.searchMessages(AUTH=his.auth(), TO="912345678")
    (call,) = found.MESSAGES.MESSAGE
    assert call.CHANNEL == "VOICE" and call.STATUS == "SENT"
    # The provider quotes the reference it got for the call, not our message id.
    (placed,) = [b for b in world.sms.accepted.values() if b["to"] == call.TO]
    guessed = requests.post(
        f"{world.url}/inbound/voice/sms-gw",
        data={"reference": str(call.MESSAGE_ID), "digits": "2"},
        headers={"X-Receipt-Secret": SECRETS["TEST_SMS_RECEIPT_SECRET"]},
        timeout=30,
    )
    assert guessed.status_code == 200 and guessed.json()["result"] == "unknown_sender"
    answer = requests.post(
        f"{world.url}/inbound/voice/sms-gw",
        data={"reference": placed["client_ref"], "digits": "1"},
        headers={"X-Receipt-Secret": SECRETS["TEST_SMS_RECEIPT_SECRET"]},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["result"] == "confirmed"
    row = world.reservations(his)["V1"]
    assert (row.STATUS, row.PATIENT_ANSWER, row.PATIENT_ANSWER_CHANNEL) == (
        "APPROVED",
        "CONFIRMED",
        "VOICE",
    )
