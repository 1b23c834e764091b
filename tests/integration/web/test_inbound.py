"""Tenants stay apart on every inbound endpoint: SMS replies, voice answers,
delivery receipts and e-mail answer links, through the in-process WSGI app on
a real database, with reminders sent by the real worker through real HTTP
senders to local gateways.

The world: one patient (one mobile, one landline) of three clinics. Clinics A
and B send through provider ``sms-a``, clinic C through ``sms-b``. C's
reminder goes out first, A's and B's later, so "the latest reminder sent to
that number" is never C's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from werkzeug.test import Client, TestResponse

from tests.conftest import make_instance
from tests.e2e.peers import SmsGateway
from tuotempo_soap import clock
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch.config import ConfigurationError, load_dispatch_config
from tuotempo_soap.dispatch.worker import OutboxWorker
from tuotempo_soap.services import messages, reminders, reservations
from tuotempo_soap.services.instances import Instance, get_instance
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.tables import messages as messages_table
from tuotempo_soap.store.tables import reservations as reservations_table
from tuotempo_soap.web.app import TuotempoApp, create_app

PUBLIC_URL = "https://memo.clinic.example"
SECRET_A, SECRET_B = "receipt-secret-of-a", "hmac-key-of-b"
MOBILE, LANDLINE, MAIL = "611111111", "912345678", "ana@example.org"
T0 = datetime(2027, 3, 1, 8, 30)  # UTC; Madrid 09:30, after quiet hours
T1 = datetime(2027, 3, 1, 9, 5)  # C's reminders are due (24 h before 10:00 Madrid)
T2 = datetime(2027, 3, 1, 15, 5)  # A's and B's are due (12:00 and 16:00 Madrid)
T3 = datetime(2027, 3, 1, 15, 30)  # the patient answers


@dataclass
class World:
    app: TuotempoApp
    client: Client
    settings: Settings
    store: Store
    gateway_a: SmsGateway
    gateway_b: SmsGateway
    a: Instance
    b: Instance
    c: Instance
    clock_file: Path
    pa: str  # the provider of clinics A and B
    pb: str  # clinic C's

    def at(self, moment: datetime) -> None:
        self.clock_file.write_text(moment.isoformat())

    def run(self, moment: datetime) -> None:
        """The worker's loop at this time: plan, queue, send."""
        self.at(moment)
        reminders.plan_changes(self.store, now=moment)
        reminders.queue_due(self.store, signer=self.app.signer, public_url=PUBLIC_URL, now=moment)
        worker = OutboxWorker(self.store, self.app.dispatch, self.settings, clock=lambda: moment)
        # Until the queue is empty (bounded): on PostgreSQL the database is shared
        # with other tests, whose leftover messages may fill the first batch.
        for _ in range(100):
            if worker.run_once() == 0:
                break

    def sms_a(self, fields: dict[str, str]) -> TestResponse:
        return self.client.post(
            f"/inbound/sms/{self.pa}", data=fields, headers={"X-Receipt-Secret": SECRET_A}
        )

    def sms_b(self, fields: dict[str, str]) -> TestResponse:
        return _signed(self.client, f"/inbound/sms/{self.pb}", fields)

    def voice_a(self, reference: str, digits: str = "2") -> TestResponse:
        return self.client.post(
            f"/inbound/voice/{self.pa}",
            data={"reference": reference, "digits": digits},
            headers={"X-Receipt-Secret": SECRET_A},
        )

    def receipt_a(self, fields: dict[str, str]) -> TestResponse:
        return self.client.post(
            f"/receipts/{self.pa}", data=fields, headers={"X-Receipt-Secret": SECRET_A}
        )

    def reservation(self, instance: Instance, app_lid: str) -> dict[str, Any]:
        with self.store.unit_of_work() as connection:
            row = (
                connection.execute(
                    select(reservations_table).where(
                        reservations_table.c.instance_id == instance.id,
                        reservations_table.c.app_lid == app_lid,
                    )
                )
                .mappings()
                .one()
            )
        return dict(row)

    def message(self, instance: Instance, legacy_id: str) -> dict[str, Any]:
        with self.store.unit_of_work() as connection:
            row = (
                connection.execute(
                    select(messages_table).where(
                        messages_table.c.instance_id == instance.id,
                        messages_table.c.legacy_id == legacy_id,
                    )
                )
                .mappings()
                .one()
            )
        return dict(row)

    def reminder_message(self, instance: Instance, channel: str) -> dict[str, Any]:
        """The reminder the worker sent for this instance on this channel."""
        with self.store.unit_of_work() as connection:
            rows = (
                connection.execute(
                    select(messages_table).where(
                        messages_table.c.instance_id == instance.id,
                        messages_table.c.channel == channel,
                        messages_table.c.legacy_id.like("rem-%"),
                    )
                )
                .mappings()
                .all()
            )
        (row,) = rows
        return dict(row)

    def texts(self, gateway: SmsGateway) -> list[str]:
        return [str(body["text"]) for body in gateway.accepted.values()]


def _signed(client: Client, path: str, fields: dict[str, str], key: str = SECRET_B) -> TestResponse:
    body = json.dumps(fields).encode()
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        path, data=body, headers={"X-Signature": signature, "Content-Type": "application/json"}
    )


def _provider(name: str, url: str, receipts: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "http",
        "url": url,
        "fields": {"to": "to", "text": "text", "reference": "client_ref"},
        "static_fields": {"account": name},
        "message_id_path": "messages.0.id",
        "timeout_seconds": 5,
        "receipts": receipts,
    }


def appointment(lid: str, start: str, **contact: str) -> dict[str, str]:
    return {
        "APP_LID": lid,
        "APP_DATE": "02/03/2027",
        "APP_START_TIME": start,
        "RESOURCE_LID": "DR1",
        "STATUS": "APPROVED",
        "USER_LID": "P1",
        "USER_LANGUAGE": "es",
        **contact,
    }


@pytest.fixture
def world(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    gateway_a, gateway_b = SmsGateway(), SmsGateway()
    monkeypatch.setenv("TEST_SECRET_A", SECRET_A)
    monkeypatch.setenv("TEST_SECRET_B", SECRET_B)
    bootstrap = create_app(settings)  # migrates; the instances exist before routes name them
    names = [make_instance(bootstrap.store).instance for _ in range(3)]
    bootstrap.store.dispose()
    a, b, c = names
    # Names of their own: on PostgreSQL every test shares one database.
    suffix = secrets.token_hex(3)
    pa, pb = f"sms-a-{suffix}", f"sms-b-{suffix}"
    senders = tmp_path / "senders.json"
    senders.write_text(
        json.dumps(
            {
                "providers": {
                    pa: _provider(
                        "a",
                        gateway_a.url,
                        {
                            "secret_env": "TEST_SECRET_A",
                            "auth": "shared-secret",
                            "secret_header": "X-Receipt-Secret",
                            "format": "form",
                            "reference_field": "client_ref",
                            "status_field": "stat",
                        },
                    ),
                    pb: _provider(
                        "b",
                        gateway_b.url,
                        {"secret_env": "TEST_SECRET_B", "reference_field": "client_ref"},
                    ),
                    "console": {"type": "file", "path": "outbox-sent.log"},
                },
                "routes": {
                    a: {"SMS": pa, "VOICE": pa},
                    b: {"SMS": pa, "VOICE": pa},
                    c: {"SMS": pb, "VOICE": pb},
                    "*": {"*": "console"},
                },
            }
        )
    )
    clock_file = tmp_path / "clock.txt"
    clock_file.write_text(T0.isoformat())
    tuned = replace(
        settings,
        senders_file=senders,
        public_url=PUBLIC_URL,
        secret_key="a-test-key-for-answer-links",
        clock_file=clock_file,
    )
    app = create_app(tuned)
    store = app.store
    rules = {"offsets_hours": [24], "ask_confirmation": True}
    for name, clinic in zip(names, ("Clinica A", "Clinica B", "Clinica C"), strict=True):
        reminders.set_rules(store, name, {**rules, "clinic_name": clinic})
    instances = [get_instance(store, name) for name in names]
    starts = {a: "12:00", b: "16:00", c: "10:00"}
    for instance in instances:
        start = starts[instance.name]
        done = reservations.update_reservations(
            store,
            instance,
            [
                appointment(
                    "SMS-1",
                    start,
                    USER_MOBILE_PHONE=MOBILE,
                    COMMUNICATION_PREFERENCES="100",
                ),
                appointment(
                    "CALL-1",
                    start,
                    USER_LANDLINE_PHONE=LANDLINE,
                    USER_LID="P2",
                    COMMUNICATION_PREFERENCES="001",
                ),
                appointment(
                    "MAIL-1", start, USER_EMAIL=MAIL, USER_LID="P3", COMMUNICATION_PREFERENCES="010"
                ),
            ],
            max_items=10,
            now=T0,
        )
        assert all(item.ok for item in done.items), done
    built = World(
        app,
        Client(app),
        tuned,
        store,
        gateway_a,
        gateway_b,
        *instances,
        clock_file=clock_file,
        pa=pa,
        pb=pb,
    )
    built.run(T0)
    built.run(T1)
    built.run(T2)
    try:
        yield built
    finally:
        # On PostgreSQL the database outlives the test: leave no acknowledgement
        # or question in the queue for another test's worker to pick up.
        with store.unit_of_work(write=True) as connection:
            connection.execute(
                update(messages_table)
                .where(
                    messages_table.c.instance_id.in_([i.id for i in instances]),
                    messages_table.c.status == "QUEUED",
                )
                .values(status="CANCELLED")
            )
        clock.configure(None)
        store.dispose()
        app.dispatch.close()
        gateway_a.close()
        gateway_b.close()


def test_the_world_is_as_described(world: World) -> None:
    for instance, provider in ((world.a, world.pa), (world.b, world.pa), (world.c, world.pb)):
        for channel in ("SMS", "VOICE"):
            sent = world.reminder_message(instance, channel)
            assert (sent["status"], sent["provider"]) == ("SENT", provider)
            assert sent["reference"] and not sent["reference"].isdigit()
    c_sent = world.reminder_message(world.c, "SMS")["sent_at"]
    assert c_sent < world.reminder_message(world.a, "SMS")["sent_at"]
    assert len(world.texts(world.gateway_a)) == 4 and len(world.texts(world.gateway_b)) == 2


# --- SMS replies -------------------------------------------------------------


def test_a_no_through_one_provider_never_cancels_a_clinic_on_another(world: World) -> None:
    world.at(T3)
    # Through sms-b only clinic C ever wrote to this number: its appointment, no other.
    answer = world.sms_b({"from": "+34611111111", "text": "NO"})
    assert answer.status_code == 200 and answer.get_json() == {"result": "cancelled"}
    assert world.reservation(world.c, "SMS-1")["status"] == "CANCELLED by USER"
    for instance in (world.a, world.b):
        row = world.reservation(instance, "SMS-1")
        assert (row["status"], row["patient_answer"]) == ("APPROVED", None)


def test_a_number_with_two_clinics_on_one_provider_is_asked_which(world: World) -> None:
    world.at(T3)
    asked = world.sms_a({"from": "611 11 11 11", "text": "NO, no puedo ir"})
    assert asked.get_json() == {"result": "ask_which"}
    for instance in (world.a, world.b, world.c):  # nothing applied on a guess
        row = world.reservation(instance, "SMS-1")
        assert (row["status"], row["patient_answer"]) == ("APPROVED", None)
    world.run(T3)  # the question goes out, through the same provider
    question = world.texts(world.gateway_a)[-1]
    assert "1: 02/03/2027 12:00 Clinica A" in question
    assert "2: 02/03/2027 16:00 Clinica B" in question
    assert "Clinica C" not in question and world.texts(world.gateway_b)[-1] != question

    # Still unnumbered: asked again, still nothing changes.
    assert world.sms_a({"from": "+34611111111", "text": "NO"}).get_json() == {"result": "ask_which"}
    assert world.reservation(world.b, "SMS-1")["patient_answer"] is None
    # "2 NO" is clinic B's appointment, and only that one.
    assert world.sms_a({"from": "+34611111111", "text": "2 NO"}).get_json() == {
        "result": "cancelled"
    }
    assert world.reservation(world.b, "SMS-1")["status"] == "CANCELLED by USER"
    assert world.reservation(world.a, "SMS-1")["status"] == "APPROVED"
    # "1 SI" confirms clinic A's.
    assert world.sms_a({"from": "+34611111111", "text": "1 SI"}).get_json() == {
        "result": "confirmed"
    }
    row = world.reservation(world.a, "SMS-1")
    assert (row["status"], row["patient_answer"]) == ("APPROVED", "CONFIRMED")
    assert world.reservation(world.c, "SMS-1")["patient_answer"] is None
    # Only one clinic still waits for an answer now: a plain reply is B's? No: B's is
    # cancelled, so it is A's, the one appointment still open.
    assert world.sms_a({"from": "+34611111111", "text": "no"}).get_json() == {"result": "cancelled"}
    assert world.reservation(world.a, "SMS-1")["status"] == "CANCELLED by USER"


def test_the_conversation_the_provider_names_is_answered(world: World) -> None:
    world.at(T3)
    a_ref = world.reminder_message(world.a, "SMS")["reference"]
    c_ref = world.reminder_message(world.c, "SMS")["reference"]
    # Another provider's reference does not pick clinic C: the rule applies (ask).
    mixed = world.sms_a({"from": "+34611111111", "text": "NO", "in_reply_to": c_ref})
    assert mixed.get_json() == {"result": "ask_which"}
    assert world.reservation(world.c, "SMS-1")["patient_answer"] is None
    named = world.sms_a({"from": "+34611111111", "text": "NO", "in_reply_to": a_ref})
    assert named.get_json() == {"result": "cancelled"}
    assert world.reservation(world.a, "SMS-1")["status"] == "CANCELLED by USER"
    assert world.reservation(world.b, "SMS-1")["status"] == "APPROVED"


def test_the_number_the_patient_wrote_to_names_the_clinic(world: World) -> None:
    world.at(T3)
    # A reminder sent from clinic B's own sender id: a reply to it names clinic B.
    with world.store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.id == world.reminder_message(world.b, "SMS")["id"])
            .values(sender="ClinicaB")
        )
    answer = world.sms_a({"from": "+34611111111", "text": "NO", "to": "ClinicaB"})
    assert answer.get_json() == {"result": "cancelled"}
    assert world.reservation(world.b, "SMS-1")["status"] == "CANCELLED by USER"
    assert world.reservation(world.a, "SMS-1")["status"] == "APPROVED"


def test_a_number_only_another_provider_wrote_to_is_unknown(world: World) -> None:
    world.at(T3)
    # Only sms-a's clinics ever wrote to the landline... by voice, not SMS.
    assert world.sms_a({"from": LANDLINE, "text": "NO"}).get_json() == {"result": "unknown_sender"}
    assert world.sms_b({"from": "699999999", "text": "SI"}).get_json() == {
        "result": "unknown_sender"
    }


# --- voice -------------------------------------------------------------------


def test_a_voice_answer_reaches_only_a_call_placed_through_that_provider(world: World) -> None:
    world.at(T3)
    c_call = world.reminder_message(world.c, "VOICE")
    a_call = world.reminder_message(world.a, "VOICE")
    a_mail = world.reminder_message(world.a, "EMAIL")
    a_sms = world.reminder_message(world.a, "SMS")
    for reference in (
        str(c_call["id"]),  # another tenant's call, by our sequential id
        str(a_mail["id"]),  # an e-mail reminder is not a call
        str(a_call["id"]),  # even our own call: sequential ids are not references
    ):
        answer = world.voice_a(reference, "2")
        assert answer.status_code == 200 and answer.get_json() == {"result": "unknown_sender"}
    for reference in (
        c_call["reference"],  # another tenant's call: it went through the other provider
        a_mail["reference"],
        a_sms["reference"],  # an SMS is not a call either
    ):
        answer = world.voice_a(reference, "2")
        assert answer.status_code == 200 and answer.get_json() == {"result": "unknown_sender"}
    for instance, lid in ((world.c, "CALL-1"), (world.a, "CALL-1"), (world.a, "MAIL-1")):
        assert world.reservation(instance, lid)["status"] == "APPROVED"
    ok = world.voice_a(a_call["reference"], "2")
    assert ok.get_json() == {"result": "cancelled"}
    assert world.reservation(world.a, "CALL-1")["status"] == "CANCELLED by USER"
    assert world.reservation(world.b, "CALL-1")["status"] == "APPROVED"


@pytest.mark.parametrize("reference", ["²", "١٢", "12 OR 1=1", "x" * 65])
def test_a_malformed_voice_reference_is_a_json_400(world: World, reference: str) -> None:
    answer = world.voice_a(reference, "1")
    assert answer.status_code == 400
    assert answer.get_json() == {
        "result": "error",
        "reason": "reference is not one we sent",
        "field": "reference",
    }


def test_a_voice_answer_for_a_call_sent_before_references_existed(world: World) -> None:
    """Backward compatible where harmless: our numeric id, for a call that went out
    through this provider before it had a reference."""
    world.at(T3)
    a_call = world.reminder_message(world.a, "VOICE")
    with world.store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table).where(messages_table.c.id == a_call["id"]).values(reference=None)
        )
    c_call = world.reminder_message(world.c, "VOICE")
    assert world.voice_a(str(c_call["id"])).get_json() == {"result": "unknown_sender"}
    assert world.voice_a(str(a_call["id"]), "1").get_json() == {"result": "confirmed"}


# --- receipts ----------------------------------------------------------------


def test_a_receipt_for_another_tenants_unsent_message_changes_nothing(world: World) -> None:
    world.at(T3)
    queued = messages.update_messages(
        world.store,
        world.c,
        [
            {
                "LEGACY_ID": "later",
                "CHANNEL": "SMS",
                "TO": MOBILE,
                "TEXT": "x",
                "SEND_AT": "10/03/2027 10:00",
            }
        ],
        max_items=1,
    ).items[0]
    by_id = world.receipt_a({"client_ref": str(queued.message_id), "stat": "UNDELIV"})
    assert by_id.status_code == 200 and by_id.get_json()["result"] == "unknown"
    row = world.message(world.c, "later")
    assert row["status"] == "QUEUED" and row["reference"]
    by_reference = world.receipt_a({"client_ref": row["reference"], "stat": "UNDELIV"})
    assert by_reference.get_json()["result"] == "unknown"
    # The same through its own provider: still waiting to be sent, still nothing.
    answer = _signed(
        world.client, f"/receipts/{world.pb}", {"client_ref": row["reference"], "status": "UNDELIV"}
    )
    assert answer.get_json()["result"] == "unknown"
    assert world.message(world.c, "later")["status"] == "QUEUED"


def test_a_receipt_reaches_only_what_that_provider_sent(world: World) -> None:
    world.at(T3)
    c_sms = world.reminder_message(world.c, "SMS")
    a_mail = world.reminder_message(world.a, "EMAIL")
    a_sms = world.reminder_message(world.a, "SMS")
    for fields in (
        {"client_ref": c_sms["reference"], "stat": "UNDELIV"},  # sent through sms-b
        {"id": c_sms["provider_message_id"], "stat": "UNDELIV"},
        {"client_ref": str(c_sms["id"]), "stat": "UNDELIV"},
        {"client_ref": a_mail["reference"], "stat": "UNDELIV"},  # another channel's provider
        {"client_ref": str(a_sms["id"]), "stat": "UNDELIV"},  # sequential ids are not refs
    ):
        assert world.receipt_a(fields).get_json()["result"] == "unknown", fields
    assert world.reminder_message(world.c, "SMS")["status"] == "SENT"
    assert world.reminder_message(world.a, "EMAIL")["status"] == "SENT"
    applied = world.receipt_a({"client_ref": a_sms["reference"], "stat": "DELIVRD"})
    assert applied.get_json()["result"] == "applied"
    assert world.reminder_message(world.a, "SMS")["status"] == "DELIVERED"
    by_their_id = _signed(
        world.client,
        f"/receipts/{world.pb}",
        {"id": c_sms["provider_message_id"], "status": "DELIVRD"},
    )
    assert by_their_id.get_json()["result"] == "applied"


# --- credentials -------------------------------------------------------------


def test_each_provider_endpoint_takes_only_its_own_credentials(world: World) -> None:
    a_ref = world.reminder_message(world.a, "VOICE")["reference"]
    for path in (f"/inbound/sms/{world.pa}", f"/inbound/voice/{world.pa}", f"/receipts/{world.pa}"):
        # sms-b's valid signature, under sms-a's header and under its own.
        forged = _signed(world.client, path, {"from": MOBILE, "text": "NO", "reference": a_ref})
        assert forged.status_code == 401, path
        body = b"from=611111111&text=NO&reference=" + a_ref.encode() + b"&digits=2"
        signature = hmac.new(SECRET_B.encode(), body, hashlib.sha256).hexdigest()
        for header in ("X-Receipt-Secret", "X-Signature"):
            refused = world.client.post(
                path,
                data=body,
                headers={header: signature, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert refused.status_code == 401, (path, header)
        assert (
            world.client.post(
                path, data={"from": MOBILE, "text": "NO"}, headers={"X-Receipt-Secret": SECRET_B}
            ).status_code
            == 401
        )
    for path in (f"/inbound/sms/{world.pb}", f"/inbound/voice/{world.pb}", f"/receipts/{world.pb}"):
        refused = world.client.post(
            path,
            json={"from": MOBILE, "text": "NO"},
            headers={"X-Receipt-Secret": SECRET_A, "X-Signature": SECRET_A},
        )
        assert refused.status_code == 401, path
    for instance in (world.a, world.b, world.c):
        for lid in ("SMS-1", "CALL-1"):
            assert world.reservation(instance, lid)["status"] == "APPROVED"


def test_two_providers_may_not_share_a_receipt_secret(tmp_path: Path) -> None:
    config = tmp_path / "senders.json"
    receipts = {"secret_env": "ONE", "auth": "shared-secret"}
    config.write_text(
        json.dumps(
            {
                "providers": {
                    "sms-a": _provider("a", "http://127.0.0.1:9/sms", receipts),
                    "sms-b": _provider(
                        "b", "http://127.0.0.1:9/sms", {**receipts, "secret_env": "TWO"}
                    ),
                },
                "routes": {"*": {"*": "sms-a"}},
            }
        )
    )
    with pytest.raises(ConfigurationError) as refused:
        load_dispatch_config(config, tmp_path, env={"ONE": "same", "TWO": "same"})
    assert refused.value.field == "providers.sms-b.receipts.secret_env"
    load_dispatch_config(config, tmp_path, env={"ONE": "one", "TWO": "two"})


# --- e-mail answer links -----------------------------------------------------


def _links(world: World, instance: Instance) -> dict[str, str]:
    """confirm/cancel link paths of the instance's e-mail reminder, from the file provider."""
    log = world.settings.data_dir / "outbox-sent.log"
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["instance"] == instance.name and record["channel"] == "EMAIL":
            found = re.findall(re.escape(PUBLIC_URL) + r"(/answer/[\w.\-]+)", record["text"])
            confirm, cancel = found
            return {"confirm": confirm, "cancel": cancel}
    raise AssertionError("no e-mail reminder")


def _form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([0-9a-f]{64})"', page)
    return match.group(1) if match else ""


def test_answer_pages_send_the_security_headers(world: World) -> None:
    links = _links(world, world.a)
    for response in (
        world.client.get(links["confirm"]),
        world.client.get(links["confirm"][:-3] + "abc"),  # the "not valid" page too
        world.client.post(links["confirm"], data={"form_token": "0" * 64}),
    ):
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "form-action 'self'" in csp
        assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", csp)
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_answer_link_answers_once_for_its_own_clinic(world: World) -> None:
    world.at(T3)
    links = _links(world, world.a)
    page = world.client.get(links["confirm"])
    assert page.status_code == 200 and "<form" in page.text
    assert world.reservation(world.a, "MAIL-1")["patient_answer"] is None  # GET changes nothing
    token = _form_token(page.text)
    first = world.client.post(
        links["confirm"], data={"form_token": token}, headers={"Origin": PUBLIC_URL}
    )
    assert first.status_code == 200
    answered = world.reservation(world.a, "MAIL-1")
    assert answered["patient_answer"] == "CONFIRMED"
    for instance in (world.b, world.c):  # the same APP_LID elsewhere is another patient's
        assert world.reservation(instance, "MAIL-1")["patient_answer"] is None
    again = world.client.post(
        links["confirm"], data={"form_token": token}, headers={"Origin": PUBLIC_URL}
    )
    assert again.status_code == 409 and "already been used" in again.text
    assert world.reservation(world.a, "MAIL-1") == answered  # nothing changed, not even times
    seen = world.client.get(links["confirm"])
    assert seen.status_code == 200 and "already been used" in seen.text and "<form" not in seen.text
    # The other link of the same e-mail is another link: a change of mind applies.
    cancel = world.client.get(links["cancel"])
    done = world.client.post(
        links["cancel"], data={"form_token": _form_token(cancel.text)}, headers={"Origin": "null"}
    )
    assert done.status_code == 200
    assert world.reservation(world.a, "MAIL-1")["status"] == "CANCELLED by USER"


def test_an_answer_link_post_needs_the_form_token_and_our_origin(world: World) -> None:
    world.at(T3)
    links = _links(world, world.b)
    token = _form_token(world.client.get(links["cancel"]).text)
    other = _form_token(world.client.get(links["confirm"]).text)
    assert token and other and token != other
    for data, headers in (
        ({}, {}),  # a bare POST, as the old page took it
        ({"form_token": "0" * 64}, {}),
        ({"form_token": other}, {}),  # the confirm link's token does not open the cancel link
        ({"form_token": token}, {"Origin": "https://evil.example"}),
        ({"form_token": token}, {"Origin": "http://memo.clinic.example"}),  # scheme matters
        ({"form_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        refused = world.client.post(links["cancel"], data=data, headers=headers)
        assert refused.status_code == 403, (data, headers)
    assert world.reservation(world.b, "MAIL-1")["status"] == "APPROVED"
    done = world.client.post(
        links["cancel"],
        data={"form_token": token},
        headers={"Origin": "https://MEMO.clinic.example:443", "Sec-Fetch-Site": "same-origin"},
    )
    assert done.status_code == 200
    assert world.reservation(world.b, "MAIL-1")["status"] == "CANCELLED by USER"
    assert urlsplit(links["cancel"]).path.startswith("/answer/")
