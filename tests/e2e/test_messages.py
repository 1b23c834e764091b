"""The message gateway end to end: SOAP over gunicorn, the real worker process,
a real SMTP server and a local HTTP SMS gateway, then delivery receipts."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep
from sqlalchemy import func, select, update

from tests.conftest import Credentials, make_instance
from tests.e2e.conftest import ROOT, start_gunicorn
from tests.e2e.peers import SECRETS, SmsGateway, SmtpServer, senders_config
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.tables import messages as messages_table

pytestmark = pytest.mark.e2e


@dataclass
class Gateway:
    url: str
    env: dict[str, str]
    store: Store
    client: zeep.Client
    sms: SmsGateway
    smtp: SmtpServer

    def new_instance(self) -> Credentials:
        return make_instance(
            self.store, email_from="clinic@acme.example", email_reply_to="desk@acme.example"
        )

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tuotempo_soap.cli", "worker", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def run_worker_once(self) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tuotempo_soap.cli", "worker", "--once"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def send(self, who: Credentials, *items: dict[str, Any]) -> Any:
        return self.client.service.updateMessages(
            AUTH=who.auth(), MESSAGES={"MESSAGE": list(items)}
        )

    def search(self, who: Credentials, **filters: Any) -> list[Any]:
        page = self.client.service.searchMessages(AUTH=who.auth(), **filters)
        return list(page.MESSAGES.MESSAGE) if page.MESSAGES else []

    def reference_of(self, message_id: int) -> str:
        """What the provider got for this message instead of our sequential id."""
        with self.store.unit_of_work() as connection:
            return str(
                connection.execute(
                    select(messages_table.c.reference).where(messages_table.c.id == message_id)
                ).scalar_one()
            )

    def status_of(self, who: Credentials, legacy_id: str) -> Any:
        (found,) = self.search(who, LEGACY_ID=legacy_id)
        return found


@pytest.fixture(scope="module")
def peers() -> Iterator[tuple[SmsGateway, SmtpServer]]:
    sms, smtp = SmsGateway(), SmtpServer()
    yield sms, smtp
    sms.close()
    smtp.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    peers: tuple[SmsGateway, SmtpServer],
) -> Iterator[Gateway]:
    sms, smtp = peers
    workdir = tmp_path_factory.mktemp(f"gateway-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    else:
        database_url = str(request.getfixturevalue("postgres_url"))
    senders = workdir / "senders.json"
    senders.write_text(json.dumps(senders_config(sms, smtp)))
    extra = {
        **SECRETS,
        "TUOTEMPO_SENDERS_FILE": str(senders),
        "TUOTEMPO_RETRY_BASE_SECONDS": "0.2",
        "TUOTEMPO_RETRY_MAX_SECONDS": "0.5",
        "TUOTEMPO_WORKER_POLL_SECONDS": "0.1",
        "TUOTEMPO_WORKER_LEASE_SECONDS": "3",
        "TUOTEMPO_WORKER_BATCH_SIZE": "5",
    }
    process, url, _ = start_gunicorn(database_url, workdir, extra)
    env = {
        **os.environ,
        **extra,
        "TUOTEMPO_DATABASE_URL": database_url,
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
    }
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        yield Gateway(url, env, store, zeep.Client(f"{url}/soap?wsdl"), sms, smtp)
    finally:
        process.terminate()
        process.wait(timeout=15)
        store.dispose()


@pytest.fixture(autouse=True)
def clean_slate(gateway: Gateway) -> None:
    """Each test starts with an empty queue and fresh peers (earlier tests leave
    messages queued on purpose)."""
    with gateway.store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.status.in_(["QUEUED", "SENDING"]))
            .values(status="CANCELLED")
        )
    gateway.sms.reset()
    gateway.smtp.messages.clear()


def sms(
    legacy_id: str, to: str = "612345678", text: str = "Recordatorio: cita mañana 09:30"
) -> dict[str, Any]:
    return {"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": to, "TEXT": text}


def email(legacy_id: str, to: str = "ana@example.org") -> dict[str, Any]:
    return {
        "LEGACY_ID": legacy_id,
        "CHANNEL": "EMAIL",
        "TO": to,
        "SUBJECT": "Su cita",
        "TEXT": "Le recordamos su cita del 24/02/2027 a las 09:30.",
    }


def test_mixed_batch_answered_item_by_item(gateway: Gateway) -> None:
    who = gateway.new_instance()
    result = gateway.send(
        who,
        sms("m-sms"),
        email("m-mail"),
        {"LEGACY_ID": "m-voice", "CHANNEL": "voice", "TO": "+39 06 1234 5678", "TEXT": "Hola"},
        sms("m-badphone", to="12"),
        email("m-badmail", to="ana@@example"),
        {"LEGACY_ID": "m-pigeon", "CHANNEL": "PIGEON", "TO": "x", "TEXT": "coo"},
        {"LEGACY_ID": "m-nosubject", "CHANNEL": "EMAIL", "TO": "a@example.org", "TEXT": "x"},
        sms("m-long", text="ć" * 700),
    )
    answers = [(i.LEGACY_ID, i.RESULT, i.ERROR_CODE, i.ERROR_FIELD) for i in result.ITEMS.ITEM]
    assert answers == [
        ("m-sms", "OK", None, None),
        ("m-mail", "OK", None, None),
        ("m-voice", "OK", None, None),
        ("m-badphone", "ERROR", "INVALID_RECIPIENT", "TO"),
        ("m-badmail", "ERROR", "INVALID_RECIPIENT", "TO"),
        ("m-pigeon", "ERROR", "INVALID_VALUE", "CHANNEL"),
        ("m-nosubject", "ERROR", "MISSING_FIELD", "SUBJECT"),
        ("m-long", "ERROR", "FIELD_TOO_LONG", "TEXT"),
    ]
    assert (result.RESULT, result.QUEUED, result.FAILED) == ("PARTIAL", 3, 5)
    assert result.ITEMS.ITEM[0].SEGMENTS == 1
    stored = {m.LEGACY_ID: m for m in gateway.search(who)}
    assert set(stored) == {"m-sms", "m-mail", "m-voice"}
    assert stored["m-sms"].TO == "+34612345678" and stored["m-sms"].STATUS == "QUEUED"
    assert stored["m-voice"].TO == "+390612345678"


def test_segments_are_counted(gateway: Gateway) -> None:
    who = gateway.new_instance()
    result = gateway.send(who, sms("s-gsm", text="a" * 161), sms("s-ucs", text="ñ€ć" * 30))
    assert [i.SEGMENTS for i in result.ITEMS.ITEM] == [2, 2]


def test_same_legacy_id_queues_one_message(gateway: Gateway) -> None:
    who = gateway.new_instance()
    first = gateway.send(who, sms("dup-1"))
    again = gateway.send(who, sms("dup-1"), sms("dup-1", text="something else"))
    assert first.ITEMS.ITEM[0].ACTION == "QUEUED"
    ids = {i.MESSAGE_ID for i in (*first.ITEMS.ITEM, *again.ITEMS.ITEM)}
    assert len(ids) == 1
    assert [i.ACTION for i in again.ITEMS.ITEM] == ["ALREADY_QUEUED", "ALREADY_QUEUED"]

    # The same new legacy id from several concurrent calls: still one message.
    results: list[Any] = []
    calls = [
        threading.Thread(target=lambda: results.append(gateway.send(who, sms("race-1"))))
        for _ in range(4)
    ]
    for call in calls:
        call.start()
    for call in calls:
        call.join(timeout=60)
    assert len({r.ITEMS.ITEM[0].MESSAGE_ID for r in results}) == 1
    with gateway.store.unit_of_work() as connection:
        count = connection.execute(
            select(func.count())
            .where(messages_table.c.legacy_id.in_(["dup-1", "race-1"]))
            .where(messages_table.c.recipient == "+34612345678")
        ).scalar_one()
    assert count >= 2  # one per legacy id in this instance (other instances may reuse names)
    gateway.run_worker_once()
    assert sorted(b["client_ref"] for b in gateway.sms.accepted.values()) == sorted(
        gateway.reference_of(i)
        for i in {first.ITEMS.ITEM[0].MESSAGE_ID, results[0].ITEMS.ITEM[0].MESSAGE_ID}
    )


def test_search_by_legacy_id_and_recipient_stays_in_the_instance(gateway: Gateway) -> None:
    a, b = gateway.new_instance(), gateway.new_instance()
    gateway.send(a, sms("a-1", to="611111111"), sms("a-2", to="+34 611 111 111"), email("a-3"))
    gateway.send(b, sms("b-1", to="611111111"))
    assert [m.LEGACY_ID for m in gateway.search(a, TO="611 11 11 11")] == ["a-1", "a-2"]
    assert [m.LEGACY_ID for m in gateway.search(a, TO="ANA@example.org")] == ["a-3"]
    assert [m.LEGACY_ID for m in gateway.search(b, TO="+34611111111")] == ["b-1"]
    assert gateway.search(a, LEGACY_ID="b-1") == []
    assert [m.LEGACY_ID for m in gateway.search(a, CHANNEL="EMAIL")] == ["a-3"]
    page = gateway.client.service.searchMessages(AUTH=a.auth(), MAX_RESULTS=2)
    assert page.MORE_RESULTS and page.COUNT == 2
    rest = gateway.client.service.searchMessages(
        AUTH=a.auth(), MAX_RESULTS=2, PAGE_TOKEN=page.NEXT_PAGE_TOKEN
    )
    assert [m.LEGACY_ID for m in rest.MESSAGES.MESSAGE] == ["a-3"] and not rest.MORE_RESULTS


def _post_sms_receipt(
    gateway: Gateway, fields: dict[str, str], secret: str | None = None
) -> requests.Response:
    return requests.post(
        f"{gateway.url}/receipts/sms-gw",
        data=fields,
        headers={"X-Receipt-Secret": secret or SECRETS["TEST_SMS_RECEIPT_SECRET"]},
        timeout=10,
    )


def test_worker_sends_and_receipts_deliver(gateway: Gateway) -> None:
    who = gateway.new_instance()
    queued = gateway.send(who, sms("w-sms", to="622222222"), email("w-mail", to="luis@example.org"))
    sms_id, mail_id = (i.MESSAGE_ID for i in queued.ITEMS.ITEM)
    gateway.run_worker_once()
    sms_ref, mail_ref = gateway.reference_of(sms_id), gateway.reference_of(mail_id)
    assert len({sms_ref, mail_ref, str(sms_id), str(mail_id)}) == 4

    (mail,) = gateway.smtp.messages
    assert mail["To"] == "luis@example.org" and mail["Subject"] == "Su cita"
    assert mail["From"] == "clinic@acme.example" and mail["Reply-To"] == "desk@acme.example"
    assert mail["Message-ID"].startswith(f"<tuotempo-{mail_ref}@")
    (body,) = gateway.sms.accepted.values()
    assert body["to"] == "+34622222222" and body["text"].startswith("Recordatorio")
    assert body["client_ref"] == sms_ref  # never our sequential id
    request = gateway.sms.requests[0]
    assert request["headers"]["Authorization"] == f"Bearer {SECRETS['TEST_SMS_TOKEN']}"

    sent = gateway.status_of(who, "w-sms")
    assert sent.STATUS == "SENT" and sent.SENT_DATE and sent.SENT_TIME and sent.ATTEMPTS == 1

    wrong = _post_sms_receipt(gateway, {"id": f"gw-{sms_ref}", "stat": "DELIVRD"}, secret="nope")
    assert wrong.status_code == 401
    assert gateway.status_of(who, "w-sms").STATUS == "SENT"
    ok = _post_sms_receipt(gateway, {"id": f"gw-{sms_ref}", "stat": "DELIVRD"})
    assert ok.status_code == 200 and ok.json()["result"] == "applied"
    twice = _post_sms_receipt(gateway, {"id": f"gw-{sms_ref}", "stat": "DELIVRD"})
    assert twice.json()["result"] == "ignored"
    late = _post_sms_receipt(gateway, {"id": f"gw-{sms_ref}", "stat": "UNDELIV", "err": "late"})
    assert late.json()["result"] == "ignored"

    payload = json.dumps(
        {"message_id": mail["Message-ID"], "reference": mail_ref, "status": "delivered"}
    ).encode()
    signature = hmac.new(
        SECRETS["TEST_MAIL_RECEIPT_SECRET"].encode(), payload, hashlib.sha256
    ).hexdigest()
    tampered = requests.post(
        f"{gateway.url}/receipts/smtp-main",
        data=payload + b" ",
        headers={"X-Signature": signature, "Content-Type": "application/json"},
        timeout=10,
    )
    assert tampered.status_code == 401
    signed = requests.post(
        f"{gateway.url}/receipts/smtp-main",
        data=payload,
        headers={"X-Signature": signature, "Content-Type": "application/json"},
        timeout=10,
    )
    assert signed.status_code == 200 and signed.json()["result"] == "applied"

    for legacy_id in ("w-sms", "w-mail"):
        final = gateway.status_of(who, legacy_id)
        assert final.STATUS == "DELIVERED" and final.DELIVERED_AT and final.SENT_TIME
    assert requests.post(f"{gateway.url}/receipts/nobody", data=b"x", timeout=10).status_code == 404


def _wait_worker_until(
    gateway: Gateway, who: Credentials, legacy_id: str, statuses: set[str]
) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gateway.run_worker_once()
        found = gateway.status_of(who, legacy_id)
        if found.STATUS in statuses:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{legacy_id} never reached {statuses}")


def test_gateway_500_then_200_is_retried_and_sent_once(gateway: Gateway) -> None:
    who = gateway.new_instance()
    gateway.sms.behaviour.fail_first = {"+34633333333": 2}
    gateway.send(who, sms("r-1", to="633333333"))
    final = _wait_worker_until(gateway, who, "r-1", {"SENT", "FAILED"})
    assert final.STATUS == "SENT" and final.ATTEMPTS == 3
    assert len(gateway.sms.accepted) == 1 and len(gateway.sms.requests) == 3


def test_permanent_error_fails_without_retry(gateway: Gateway) -> None:
    who = gateway.new_instance()
    gateway.sms.behaviour.reject = {"+34644444444"}
    gateway.send(who, sms("p-1", to="644444444"))
    gateway.run_worker_once()
    final = gateway.status_of(who, "p-1")
    assert final.STATUS == "FAILED" and final.ATTEMPTS == 1 and "400" in final.ERROR
    gateway.run_worker_once()
    assert len(gateway.sms.requests) == 1


def test_expired_messages_are_never_sent(gateway: Gateway) -> None:
    who = gateway.new_instance()
    soon = datetime.now(ZoneInfo("Europe/Madrid")) + timedelta(seconds=2)
    gateway.send(who, {**sms("e-1"), "EXPIRES_AT": soon.strftime("%d/%m/%Y %H:%M:%S")})
    time.sleep(2.2)
    gateway.run_worker_once()
    assert gateway.status_of(who, "e-1").STATUS == "EXPIRED"
    assert gateway.sms.requests == []


def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(gateway: Gateway) -> None:
    who = gateway.new_instance()
    gateway.sms.behaviour.delay_seconds = 0.25
    count = 12
    gateway.send(who, *(sms(f"k-{i}", to=f"65{i:07}") for i in range(count)))
    in_flight = 2  # the worker's sends at once (TUOTEMPO_WORKER_CONCURRENCY)
    gateway.env["TUOTEMPO_WORKER_CONCURRENCY"] = str(in_flight)
    try:
        first = gateway.worker()
    finally:
        del gateway.env["TUOTEMPO_WORKER_CONCURRENCY"]
    deadline = time.monotonic() + 30
    while len(gateway.sms.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert len(gateway.sms.accepted) < count, "the first worker finished before it was killed"
    time.sleep(3.5)  # let its lease (3 s) run out
    for _ in range(20):
        gateway.run_worker_once()
        if all(m.STATUS == "SENT" for m in gateway.search(who)):
            break
    states = [m.STATUS for m in gateway.search(who)]
    assert states == ["SENT"] * count
    assert len(gateway.sms.accepted) == count  # none lost, each accepted once
    # Only what was in flight at the kill was presented twice, with the same key:
    # sends under way, and answers not yet recorded (recorded a round at a time).
    assert sum(gateway.sms.replays.values()) <= 2 * in_flight


def test_two_workers_never_send_the_same_message(gateway: Gateway) -> None:
    """PostgreSQL: SKIP LOCKED shares the queue. SQLite: the write lock serialises
    claims, so a second worker is safe there too (if pointless: the README says so)."""
    who = gateway.new_instance()
    gateway.sms.behaviour.delay_seconds = 0.05
    count = 40
    gateway.send(who, *(sms(f"t-{i}", to=f"66{i:07}") for i in range(count)))
    workers = [gateway.worker("--once", "--worker-id", f"w{n}") for n in range(2)]
    outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    # On a loaded machine a claim can pass its hand-out deadline (lease 3 s
    # here): a --once worker gives it back and claims again before it exits.
    keys = [r["key"] for r in gateway.sms.requests]
    assert len(keys) == count and len(set(keys)) == count
    assert all("attempted" in out for out in outputs)
    assert [m.STATUS for m in gateway.search(who, MAX_RESULTS=100)] == ["SENT"] * count


def test_cli_send_and_show(gateway: Gateway) -> None:
    who = gateway.new_instance()
    run = [sys.executable, "-m", "tuotempo_soap.cli"]
    queued = subprocess.run(
        [
            *run,
            "messages",
            "send",
            who.instance,
            "--channel",
            "sms",
            "--to",
            "677777777",
            "--text",
            "hola",
            "--legacy-id",
            "cli-1",
        ],
        cwd=ROOT,
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert queued.returncode == 0 and "QUEUED message" in queued.stdout, queued.stderr
    gateway.run_worker_once()
    shown = subprocess.run(
        [*run, "messages", "show", "cli-1", "--instance", who.instance],
        cwd=ROOT,
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "STATUS: SENT" in shown.stdout and "TO: +34677777777" in shown.stdout
    missing = subprocess.run(
        [*run, "messages", "show", "nope", "--instance", who.instance],
        cwd=ROOT,
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "no message nope" in missing.stderr
