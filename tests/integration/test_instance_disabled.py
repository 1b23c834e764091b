"""A disabled instance: every SOAP call is refused on both engines (after the
password, so only the credentials' holder learns it), and nothing of it is
sent: its queued messages are not claimed and its reminders stay planned,
until it is enabled again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.conftest import make_instance
from tests.integration.soap.conftest import (
    SoapHttp,
    auth_xml,
    envelope,
    fault_of,
    service_fault_schema,
)
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances, messages, reminders, reservations
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.outbox import MessageRepository
from tuotempo_soap.store.reminders import ReminderRepository
from tuotempo_soap.web.app import TuotempoApp, create_app


@pytest.fixture(params=["fast", "spyne"])
def engine_app(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TuotempoApp]:
    app = create_app(replace(settings, soap_engine=request.param))
    yield app
    app.store.dispose()


def test_every_operation_is_refused_while_disabled(engine_app: TuotempoApp) -> None:
    http = SoapHttp(engine_app)
    his = make_instance(engine_app.store)
    calls = {
        "getReservations": auth_xml(his),
        "searchMessages": auth_xml(his),
        "updateReservations": auth_xml(his) + "<t:RESERVATIONS/>",
        "updateMessages": auth_xml(his) + "<t:MESSAGES/>",
    }
    assert instances.disable_instance(engine_app.store, his.instance)
    schema = service_fault_schema()
    for operation, inner in calls.items():
        fault = fault_of(http.post(envelope(operation, inner)))
        assert fault.status == 500
        assert fault.code.endswith(":Client.InstanceDisabled"), (operation, fault)
        assert fault.detail_text("CODE") == "Client.InstanceDisabled"
        assert fault.detail_text("FIELD") == "INSTANCE"
        assert "disabled" in fault.string and his.instance in fault.string
        assert schema.validate(fault.detail), schema.error_log

    # A wrong password learns nothing about the switch.
    wrong = fault_of(
        http.post(envelope("getReservations", auth_xml(his, PASSWORD="not-the-password")))
    )
    assert wrong.detail_text("CODE") == "Client.AuthenticationFailed"

    assert instances.enable_instance(engine_app.store, his.instance)
    answer = http.post(envelope("getReservations", auth_xml(his)))
    assert answer.status_code == 200, answer.data[:300]


def _queue(store: Store, name: str, now: datetime) -> set[int]:
    target = instances.get_instance(store, name)
    outcome = messages.update_messages(
        store,
        target,
        [
            {"LEGACY_ID": f"d{n}", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola"}
            for n in range(3)
        ],
        max_items=10,
        now=now,
    )
    return {int(item.message_id) for item in outcome.items}


def test_the_worker_leaves_a_disabled_instances_messages_queued(store: Store) -> None:
    now = datetime(2027, 3, 1, 9, 0)
    off, on = make_instance(store).instance, make_instance(store).instance
    waiting, going = _queue(store, off, now), _queue(store, on, now)
    instances.disable_instance(store, off)

    later = now + timedelta(minutes=1)
    with store.unit_of_work(write=True) as connection:
        claimed = MessageRepository(connection).claim(later, "w-test", later, 100_000)
    ids = {int(row["id"]) for row in claimed}
    assert going <= ids and not waiting & ids
    with store.unit_of_work() as connection:
        rows = MessageRepository(connection).by_legacy_ids(
            instances.get_instance(store, off).id, ["d0", "d1", "d2"]
        )
    assert {row.status for row in rows.values()} == {"QUEUED"}

    instances.enable_instance(store, off)
    with store.unit_of_work(write=True) as connection:
        claimed = MessageRepository(connection).claim(later, "w-test", later, 100_000)
    assert waiting <= {int(row["id"]) for row in claimed}


def test_a_disabled_instances_reminders_stay_planned(store: Store) -> None:
    booked_at = datetime(2027, 2, 20, 9, 0)
    name = make_instance(store).instance
    target = instances.get_instance(store, name)
    reminders.set_rules(store, name, {})
    reservations.update_reservations(
        store,
        target,
        [
            {
                "APP_LID": "R1",
                "APP_DATE": "01/03/2027",
                "APP_START_TIME": "09:00",
                "RESOURCE_LID": "DR-1",
                "USER_MOBILE_PHONE": "612345678",
                "STATUS": "APPROVED",
            }
        ],
        max_items=10,
        now=booked_at,
    )
    reminders.plan_changes(store, now=booked_at)
    due_at = datetime(2027, 2, 28, 20, 0)

    def due_here() -> list[int]:
        with store.unit_of_work() as connection:
            rows = ReminderRepository(connection).due(due_at, 100_000)
        return [row.id for row in rows if row.instance_id == target.id]

    assert due_here(), "the rules plan a reminder before the appointment"
    instances.disable_instance(store, name)
    assert due_here() == []
    instances.enable_instance(store, name)
    assert due_here()
