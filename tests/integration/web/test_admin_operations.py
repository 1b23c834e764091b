"""The back office's operations pages and action buttons over HTTP, through the
in-process WSGI application: clinics, outbox, audit, retry / cancel a message,
re-run a poll, disable an instance. Every POST needs its CSRF token; every
action answers with a redirect and a notice in the instance's language."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.admin_client import AdminClient, new_operator
from tests.conftest import make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.services import audit, clinic_sync, instances, messages
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.instances import Instance, utcnow
from tuotempo_soap.store.clinic import IntegrationRepository
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.reminders import CallbackRepository
from tuotempo_soap.store.tables import messages as messages_table
from tuotempo_soap.web.app import TuotempoApp, create_app

PHONE = "612345678"


@pytest.fixture
def app(settings: Settings) -> Iterator[TuotempoApp]:
    built = create_app(settings)
    yield built
    built.store.dispose()


def new_instance(store: Store, language: str = "en") -> Instance:
    return instances.get_instance(store, make_instance(store, language=language).instance)


def signed_in(app: TuotempoApp, *granted: Instance) -> AdminClient:
    client = AdminClient(app)
    response = client.signin(new_operator(app.store, [i.name for i in granted]))
    assert response.status_code == 303
    return client


def queue(store: Store, instance: Instance, legacy_id: str, status: str | None = None) -> int:
    outcome = messages.update_messages(
        store,
        instance,
        [{"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": PHONE, "TEXT": "hola"}],
        max_items=10,
    )
    message_id = int(outcome.items[0].message_id)  # type: ignore[arg-type]
    if status is not None:
        set_status(store, message_id, status)
    return message_id


def set_status(store: Store, message_id: int, status: str, **values: Any) -> None:
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.id == message_id)
            .values(status=status, **values)
        )


def status_of(store: Store, message_id: int) -> str:
    with store.unit_of_work() as connection:
        query = select(messages_table.c.status).where(messages_table.c.id == message_id)
        return str(connection.execute(query).scalar_one())


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def everything(store: Store, instance: Instance) -> list[Any]:
    return audit.page(store, Actor.of(None, "test", None), instance_id=instance.id).entries


# --- message actions -----------------------------------------------------------


def test_retry_a_failed_message_from_its_page(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store, "es")
    mid = queue(store, instance, "f1", "FAILED")
    client = signed_in(app, instance)
    page = client.get(f"/admin/{instance.name}/messages/{mid}")
    assert page.status_code == 200
    assert f'action="/admin/{instance.name}/messages/{mid}/retry"' in text(page)

    # Without the form's token: refused before anything happens.
    refused = client.post(f"/admin/{instance.name}/messages/{mid}/retry", csrf=False)
    assert refused.status_code == 403
    assert status_of(store, mid) == "FAILED" and everything(store, instance) == []

    done = client.post(f"/admin/{instance.name}/messages/{mid}/retry")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/admin/{instance.name}/messages/{mid}"
    assert status_of(store, mid) == "QUEUED"
    after = text(client.get(done.headers["Location"]))
    assert "El mensaje vuelve a estar en cola y se enviará en un momento." in after
    assert 'id="cancel"' in after  # now QUEUED: the button cancels
    assert "Reintentar mensaje" in after  # the audit row, on the message's page
    # The notice is shown once.
    assert "vuelve a estar en cola" not in text(client.get(done.headers["Location"]))
    (entry,) = everything(store, instance)
    assert (entry.action, entry.outcome, entry.target_id) == ("MESSAGE_RETRY", "DONE", mid)


def test_a_refused_retry_says_why_in_the_instance_language(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store, "it")
    mid = queue(store, instance, "s1", "SENT")
    client = signed_in(app, instance)
    client.get(f"/admin/{instance.name}/messages/{mid}")
    done = client.post(f"/admin/{instance.name}/messages/{mid}/retry")
    assert done.status_code == 303
    page = text(client.get(done.headers["Location"]))
    assert '<p class="error" role="status">Il messaggio è già stato inviato.</p>' in page
    assert status_of(store, mid) == "SENT"
    (entry,) = everything(store, instance)
    assert entry.outcome == "REFUSED" and entry.detail is not None
    assert entry.detail.startswith("Client.Conflict")


def test_cancel_a_queued_message_from_its_page(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store)
    mid = queue(store, instance, "c1")
    client = signed_in(app, instance)
    page = text(client.get(f"/admin/{instance.name}/messages/{mid}"))
    assert 'id="cancel"' in page and 'id="retry"' not in page
    done = client.post(f"/admin/{instance.name}/messages/{mid}/cancel")
    assert done.status_code == 303
    assert status_of(store, mid) == "CANCELLED"
    assert "The message is cancelled; it will not be sent." in text(
        client.get(done.headers["Location"])
    )


def test_ids_of_other_instances_are_not_reachable(app: TuotempoApp) -> None:
    store = app.store
    mine, theirs = new_instance(store), new_instance(store)
    their_message = queue(store, theirs, "x1", "FAILED")
    client = signed_in(app, mine)
    client.get("/admin/")
    # Under their instance's URL: 404 before any action runs.
    assert client.post(f"/admin/{theirs.name}/messages/{their_message}/retry").status_code == 404
    # Their message's id under my instance: "no such message here".
    done = client.post(f"/admin/{mine.name}/messages/{their_message}/retry")
    assert done.status_code == 303
    assert "There is no such message in this instance." in text(client.get("/admin/clinics"))
    assert status_of(store, their_message) == "FAILED"
    assert everything(store, theirs) == []
    (refused,) = everything(store, mine)
    assert (refused.outcome, refused.target_id) == ("REFUSED", their_message)


# --- clinics -------------------------------------------------------------------


def test_clinics_list_and_a_clinic_page_with_its_queue(app: TuotempoApp) -> None:
    store = app.store
    mine, theirs = new_instance(store), new_instance(store)
    clinic_sync.configure(store, mine.name, wsdl_url="https://his:pw@clinic.example/ws?wsdl")
    clinic_sync.configure(store, theirs.name, wsdl_url="https://other.example/ws?wsdl")
    now = utcnow()
    with store.unit_of_work(write=True) as connection:
        IntegrationRepository(connection).save(
            mine.id,
            {
                "last_success_at": now - timedelta(minutes=7),
                "consecutive_failures": 2,
                "last_error": "clinic.example:443 did not answer SearchAppointments",
            },
        )
        CallbackRepository(connection).add(
            {
                "instance_id": mine.id,
                "reservation_id": 42,
                "app_lid": "APP-42",
                "user_lid": "PATIENT-9",
                "action": "CancelAppointment",
                "status": "FAILED",
                "attempts": 10,
                "next_attempt_at": now,
                "last_error": "the clinic refused the cancellation",
                "created_at": now,
                "updated_at": now,
            }
        )
    client = signed_in(app, mine)
    listing = text(client.get("/admin/clinics"))
    assert mine.name in listing and theirs.name not in listing
    assert "clinic.example" in listing and "pw@" not in listing
    assert "failing" in listing and "7 min" in listing

    page = client.get(f"/admin/{mine.name}/clinic")
    assert page.status_code == 200
    body = text(page)
    assert "APP-42" in body and "the clinic refused the cancellation" in body
    assert "PATIENT-9" not in body
    assert client.get(f"/admin/{theirs.name}/clinic").status_code == 404


def test_re_run_poll_now(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store)
    clinic_sync.configure(store, instance.name, wsdl_url="https://clinic.example/ws?wsdl")
    later = utcnow() + timedelta(hours=1)
    with store.unit_of_work(write=True) as connection:
        IntegrationRepository(connection).save(instance.id, {"next_poll_at": later})
    client = signed_in(app, instance)
    client.get(f"/admin/{instance.name}/clinic")
    assert client.post(f"/admin/{instance.name}/clinic/poll", csrf=False).status_code == 403
    done = client.post(f"/admin/{instance.name}/clinic/poll")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/admin/{instance.name}/clinic"
    assert "The poll will run on the poller's next round." in text(
        client.get(done.headers["Location"])
    )
    with store.unit_of_work() as connection:
        status = IntegrationRepository(connection).status(instance.id)
    assert status is not None and status.next_poll_at is not None
    assert status.next_poll_at < later
    assert [e.action for e in everything(store, instance)] == ["CLINIC_POLL_NOW"]


# --- outbox and audit ----------------------------------------------------------


def test_outbox_health_page(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store)
    queue(store, instance, "o1")
    failed = queue(store, instance, "o2")
    set_status(
        store,
        failed,
        "FAILED",
        provider="file",
        failed_at=utcnow(),
        last_error="gave up after 6 attempts: HTTP 503",
    )
    client = signed_in(app, instance)
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    body = text(page)
    assert "Queues per provider" in body and "HTTP 503" in body
    assert PHONE not in body and "gave up after" not in body


def test_audit_page_keyset_and_scope(app: TuotempoApp) -> None:
    store = app.store
    mine, theirs = new_instance(store), new_instance(store)
    client = signed_in(app, mine)
    client.get(f"/admin/{mine.name}/settings")
    for _ in range(3):  # disable, enable, disable, enable, disable, enable
        assert client.post(f"/admin/{mine.name}/disable").status_code == 303
        assert client.post(f"/admin/{mine.name}/enable").status_code == 303
    other = signed_in(app, theirs)
    other.get(f"/admin/{theirs.name}/settings")
    other.post(f"/admin/{theirs.name}/disable")

    page = text(client.get(f"/admin/audit?instance={mine.name}"))
    assert page.count("Enable instance") >= 3 and theirs.name not in page
    entries = everything(store, mine)
    assert len(entries) == 6
    older = text(client.get(f"/admin/audit?instance={mine.name}&before={entries[2].id}"))
    assert older.count("<tr>") == 3 + 1  # the head row and the three oldest
    assert client.get(f"/admin/audit?instance={theirs.name}").status_code == 404
    assert client.get("/admin/audit?before=x").status_code == 404
    assert client.get("/admin/audit?before=0").status_code == 404


def test_disable_and_enable_an_instance(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store, "es")
    client = signed_in(app, instance)
    page = text(client.get(f"/admin/{instance.name}/settings"))
    assert 'id="disable"' in page
    assert client.post(f"/admin/{instance.name}/disable", csrf=False).status_code == 403
    assert instances.get_instance(store, instance.name).disabled_at is None
    done = client.post(f"/admin/{instance.name}/disable")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/admin/{instance.name}/settings"
    page = text(client.get(done.headers["Location"]))
    assert "La instancia está desactivada" in page and 'id="enable"' in page
    assert instances.get_instance(store, instance.name).disabled_at is not None
    client.post(f"/admin/{instance.name}/enable")
    assert instances.get_instance(store, instance.name).disabled_at is None


def test_pages_need_a_signed_in_operator(app: TuotempoApp) -> None:
    client = AdminClient(app)
    for path in ("/admin/clinics", "/admin/outbox", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/admin/signin"
