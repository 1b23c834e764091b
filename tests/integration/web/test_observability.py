"""Metrics, request ids and log lines through the in-process WSGI application
on a real database.

A workload (SOAP calls on both engines, failing ones among them, a dispatch
run to a local SMS gateway, delivery receipts and a patient's reply) moves the
counters a scrape of /metrics shows; who may scrape is decided by the token
and the peer's address, and a refusal says nothing; every answer carries its
request id, which the log lines written for it and an internal error's
reference share.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from werkzeug.test import Client, TestResponse

from tests.conftest import Credentials, make_instance
from tests.e2e.peers import SmsGateway
from tests.integration.soap.conftest import (
    SoapHttp,
    auth_xml,
    envelope,
    fault_of,
    message_xml,
    reservation_xml,
)
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch.worker import OutboxWorker
from tuotempo_soap.soap import operations
from tuotempo_soap.store.tables import messages as messages_table
from tuotempo_soap.web.app import TuotempoApp, create_app

SECRET = "receipt-secret-for-metrics"
SENT, RETRIED, REJECTED = "611000001", "611000002", "611000003"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client, **environ: Any) -> TestResponse:
    return client.get("/metrics", environ_overrides={"REMOTE_ADDR": "127.0.0.1", **environ})


def samples(response: TestResponse) -> Samples:
    assert response.status_code == 200, response.data[:300]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@dataclass
class World:
    app: TuotempoApp
    client: Client
    settings: Settings
    provider: str
    gateway: SmsGateway
    his: Credentials


def _senders(provider: str, gateway: SmsGateway) -> dict[str, Any]:
    return {
        "providers": {
            provider: {
                "type": "http",
                "url": gateway.url,
                "fields": {"to": "to", "text": "text", "reference": "client_ref"},
                "idempotency_header": "Idempotency-Key",
                "message_id_path": "messages.0.id",
                "timeout_seconds": 5,
                "receipts": {
                    "secret_env": "TEST_METRICS_RECEIPT_SECRET",
                    "auth": "shared-secret",
                    "secret_header": "X-Receipt-Secret",
                    "format": "form",
                    "id_field": "id",
                    "reference_field": "client_ref",
                    "status_field": "stat",
                },
            }
        },
        "routes": {"*": {"*": provider}},
    }


@pytest.fixture
def world(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    gateway = SmsGateway()
    monkeypatch.setenv("TEST_METRICS_RECEIPT_SECRET", SECRET)
    provider = f"gw-{secrets.token_hex(3)}"  # PostgreSQL's database is shared by every test
    senders = tmp_path / "senders.json"
    senders.write_text(json.dumps(_senders(provider, gateway)))
    tuned = replace(settings, senders_file=senders)
    app = create_app(tuned)
    # The worker claims any due message: withdraw what earlier tests left queued.
    with app.store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.status.in_(("QUEUED", "SENDING")))
            .values(status="CANCELLED")
        )
    try:
        yield World(app, Client(app), tuned, provider, gateway, make_instance(app.store))
    finally:
        gateway.close()
        app.store.dispose()


def test_a_workload_moves_the_counters_of_a_scrape(world: World) -> None:
    before = samples(scrape(world.client))
    fast = SoapHttp(world.app)
    spyne_app = create_app(replace(world.settings, soap_engine="spyne"))
    spyne = SoapHttp(spyne_app)
    his = world.his
    try:
        # The fast engine: a batch of three, a read, a wrong password, a broken envelope.
        items = "".join(reservation_xml(f"M-{n}") for n in range(3))
        reply = fast.post(
            envelope(
                "updateReservations", auth_xml(his) + f"<t:RESERVATIONS>{items}</t:RESERVATIONS>"
            )
        )
        assert reply.status_code == 200, reply.data[:300]
        assert fast.post(envelope("getReservations", auth_xml(his))).status_code == 200
        wrong = fault_of(fast.post(envelope("getReservations", auth_xml(his, PASSWORD="nope"))))
        assert wrong.code == "soap:Client.AuthenticationFailed"
        assert fault_of(fast.post("<not-xml")).code == "soap:Client.MalformedXML"
        # Spyne's path: three messages to send, and a read.
        batch = "".join(
            message_xml(f"obs-{n}", TO=number) for n, number in enumerate((SENT, RETRIED, REJECTED))
        )
        reply = spyne.post(
            envelope("updateMessages", auth_xml(his) + f"<t:MESSAGES>{batch}</t:MESSAGES>")
        )
        assert reply.status_code == 200, reply.data[:300]
        assert spyne.post(envelope("getReservations", auth_xml(his))).status_code == 200
    finally:
        spyne_app.store.dispose()
    # A dispatch run to the local gateway: one sent, one to retry, one refused for good.
    world.gateway.behaviour.fail_first = {f"+34{RETRIED}": 1}
    world.gateway.behaviour.reject = {f"+34{REJECTED}"}
    OutboxWorker(world.app.store, world.app.dispatch, world.settings).run_once()
    # Receipts: one for a message we never sent, one with the wrong secret.
    receipt = {"id": "gw-unknown", "client_ref": "f" * 24, "stat": "DELIVRD"}
    assert world.client.post(
        f"/receipts/{world.provider}", data=receipt, headers={"X-Receipt-Secret": SECRET}
    ).get_json() == {"result": "unknown"}
    assert (
        world.client.post(
            f"/receipts/{world.provider}", data=receipt, headers={"X-Receipt-Secret": "guess"}
        ).status_code
        == 401
    )
    # A reply from a number we sent no reminder to.
    world.client.post(
        f"/inbound/sms/{world.provider}",
        data={"from": "+34699999999", "text": "SI"},
        headers={"X-Receipt-Secret": SECRET},
    )
    after = samples(scrape(world.client))

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "tuotempo_soap_requests_total"
    assert moved(requests, operation="updateReservations", fault="") == 1
    assert moved(requests, operation="getReservations", fault="") == 2
    assert moved(requests, operation="getReservations", fault="Client.AuthenticationFailed") == 1
    assert moved(requests, operation="unknown", fault="Client.MalformedXML") == 1
    assert moved(requests, operation="updateMessages", fault="") == 1
    duration = "tuotempo_soap_request_duration_seconds_count"
    assert moved(duration, operation="getReservations", result="ok") == 2
    assert moved(duration, operation="getReservations", result="fault") == 1
    items = "tuotempo_soap_batch_items"
    assert moved(f"{items}_count", operation="updateReservations") == 1
    assert moved(f"{items}_sum", operation="updateReservations") == 3
    assert moved(f"{items}_sum", operation="updateMessages") == 3
    assert moved(f"{items}_bucket", operation="updateMessages", le="5.0") == 1
    sends = "tuotempo_dispatch_sends_total"
    for outcome in ("sent", "retry", "failed"):
        assert moved(sends, provider=world.provider, outcome=outcome) == 1, outcome
    receipts = "tuotempo_dispatch_receipts_total"
    assert moved(receipts, provider=world.provider, result="unknown") == 1
    assert moved(receipts, provider=world.provider, result="refused") == 1
    assert moved("tuotempo_answers_total", channel="sms", result="unknown_sender") == 1
    # Read from the database at scrape time: the message waiting for its retry.
    assert value(after, "tuotempo_metrics_database_up") == 1
    assert value(after, "tuotempo_outbox_waiting_messages", provider=world.provider) == 1
    assert value(after, "tuotempo_outbox_due_messages", provider=world.provider) == 0
    # No label carries a request value.
    text = scrape(world.client).get_data(as_text=True)
    for secret in (SENT, RETRIED, REJECTED, his.instance, his.password, "699999999"):
        assert secret not in text


def _app(settings: Settings, **changes: Any) -> TuotempoApp:
    return create_app(replace(settings, **changes))


@pytest.fixture
def plain(settings: Settings) -> Iterator[Client]:
    app = _app(settings)
    yield Client(app)
    app.store.dispose()


def test_without_a_token_only_local_peers_see_the_endpoint(plain: Client) -> None:
    unknown = plain.get("/no-such-path", environ_overrides={"REMOTE_ADDR": "10.1.2.3"})
    assert scrape(plain).status_code == 200
    assert scrape(plain, REMOTE_ADDR="::1").status_code == 200
    for environ in (
        {"REMOTE_ADDR": "10.1.2.3"},
        {"REMOTE_ADDR": "192.0.2.1"},
        # nginx in front without TUOTEMPO_TRUSTED_PROXY_HOPS: the peer is local, the client not.
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"},
    ):
        refused = scrape(plain, **environ)
        # Exactly what any unknown path answers: nothing says the endpoint exists.
        assert refused.status_code == 404
        assert refused.data == unknown.data
        assert refused.headers["Content-Type"] == unknown.headers["Content-Type"]


def test_behind_a_trusted_proxy_the_client_address_decides(settings: Settings) -> None:
    app = _app(settings, trusted_proxy_hops=1)
    try:
        client = Client(app)
        assert scrape(client).status_code == 200
        outside = scrape(client, HTTP_X_FORWARDED_FOR="203.0.113.9")
        assert outside.status_code == 404
    finally:
        app.store.dispose()


def test_with_a_token_the_token_decides(settings: Settings) -> None:
    token = secrets.token_urlsafe(24)
    app = _app(settings, metrics_token=token)
    try:
        client = Client(app)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            refused = client.get(
                "/metrics", headers=headers, environ_overrides={"REMOTE_ADDR": "10.1.2.3"}
            )
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert refused.data == b"unauthorized\n"
        allowed = client.get(
            "/metrics",
            headers={"Authorization": f"Bearer {token}"},
            environ_overrides={"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["Content-Type"].startswith("text/plain; version=")
        assert "# TYPE tuotempo_soap_requests_total counter" in allowed.get_data(as_text=True)
    finally:
        app.store.dispose()


def test_a_token_and_an_address_list_both_apply(settings: Settings) -> None:
    token = secrets.token_urlsafe(24)
    app = _app(settings, metrics_token=token, metrics_allow=(ip_network("10.9.0.0/16"),))
    try:
        client = Client(app)
        bearer = {"Authorization": f"Bearer {token}"}
        inside = client.get(
            "/metrics", headers=bearer, environ_overrides={"REMOTE_ADDR": "10.9.1.1"}
        )
        assert inside.status_code == 200
        outside = client.get(
            "/metrics", headers=bearer, environ_overrides={"REMOTE_ADDR": "127.0.0.1"}
        )
        assert outside.status_code == 404
    finally:
        app.store.dispose()


def test_a_scrape_with_the_database_down_still_answers_the_counters(
    settings: Settings, tmp_path: Path
) -> None:
    broken = _app(
        settings,
        database_url=f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}",
        auto_migrate=False,
    )
    try:
        found = samples(scrape(Client(broken)))
        assert value(found, "tuotempo_metrics_database_up") == 0
        assert not any(name.startswith("tuotempo_outbox_") for name, _ in found)
    finally:
        broken.store.dispose()


# --- request ids ------------------------------------------------------------------


def test_every_answer_carries_its_request_id(world: World) -> None:
    http = SoapHttp(world.app)
    answers = [
        world.client.get("/healthz"),
        world.client.get("/no-such-path"),
        world.client.get("/soap?wsdl"),
        scrape(world.client),
        scrape(world.client, REMOTE_ADDR="10.1.2.3"),
        http.post(envelope("getReservations", auth_xml(world.his))),
        http.post("<not-xml"),
    ]
    ids = [answer.headers.get("X-Request-ID") for answer in answers]
    assert all(ids) and len(set(ids)) == len(ids), ids
    kept = world.client.get("/healthz", headers={"X-Request-ID": "his-run-2027-0001"})
    assert kept.headers["X-Request-ID"] == "his-run-2027-0001"
    for unsafe in ("612345678", "short", "a b c d e f g h"):
        replaced = world.client.get("/healthz", headers={"X-Request-ID": unsafe})
        assert replaced.headers["X-Request-ID"] != unsafe


@pytest.mark.parametrize("engine", ["fast", "spyne"])
def test_an_internal_error_quotes_the_request_id_its_log_lines_carry(
    settings: Settings,
    engine: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app(settings, soap_engine=engine)
    try:
        his = make_instance(app.store)

        phone = " ".join(("+34", "612", "345", "678"))  # not in the stack's source lines

        def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError(f"no page for {phone}")  # an error quoting a request value

        monkeypatch.setattr(operations, "get_reservations", broken)
        caplog.set_level(logging.INFO)
        response = SoapHttp(app).post(
            envelope("getReservations", auth_xml(his)),
            environ={"HTTP_X_REQUEST_ID": f"trace-{engine}-0001"},
        )
        fault = fault_of(response)
    finally:
        app.store.dispose()
    request_id = f"trace-{engine}-0001"
    assert response.headers["X-Request-ID"] == request_id
    assert fault.code == "soap:Server.InternalError"
    assert fault.string == f"Internal error; quote reference {request_id} to support"
    mine = [
        record for record in caplog.records if getattr(record, "request_id", None) == request_id
    ]
    lines = [record.getMessage() for record in mine]
    assert any(
        line.startswith(f"unexpected error in getReservations (reference {request_id})")
        for line in lines
    ), lines
    assert "soap fault Server.InternalError field=- operation=getReservations" in lines
    assert {getattr(record, "instance", None) for record in mine} == {his.instance}
    assert {getattr(record, "operation", None) for record in mine} == {"getReservations"}
    assert phone not in caplog.text and "612" not in caplog.text
