"""Operators' actions in a real headless Chromium against a real gunicorn.

A HIS queues an SMS over SOAP; the gateway refuses the number and the real
worker marks it FAILED. The number is put right at the gateway, and an
operator finds the message by the number spelled another way, retries it from
its page, sees it queued again and the audit row; the worker then sends it
under the same idempotency key. The clinics, outbox and audit pages are shown
(and, with TUOTEMPO_SCREENSHOTS=1, written to ``docs/screenshots/``).

The browser, the server and the helpers are those of ``test_admin_browser.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import zeep

from tests.admin_client import new_operator
from tests.conftest import Credentials, make_instance
from tests.e2e.test_admin_browser import (  # noqa: F401  (fixtures: browser, world)
    World,
    _click_and_load,
    _shoot,
    _sign_in,
    browser,
    world,
)
from tuotempo_soap.services import clinic_sync, instances
from tuotempo_soap.store.clinic import IntegrationRepository
from tuotempo_soap.store.reminders import CallbackRepository

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REFUSED = "+34622334455"


def _queue_sms(server: World, who: Credentials, legacy_id: str, to: str, **extra: str) -> None:
    """updateMessages over SOAP, as the HIS sends it."""
    client = zeep.Client(f"{server.url}/soap?wsdl")
    item = {"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": to, "TEXT": "Hola", **extra}
    result = client.service.updateMessages(AUTH=who.auth(), MESSAGES={"MESSAGE": [item]})
    assert result.RESULT == "OK", result


def _clinics(server: World, instance: str, failing: str, utc: datetime) -> None:
    """Two clinic integrations for the clinics pages: one polling well, one failing
    with a cancellation it could not forward."""
    store = server.store
    clinic_sync.configure(store, instance, wsdl_url="https://his.clinica-sol.example/ws?wsdl")
    clinic_sync.configure(
        store, failing, wsdl_url="https://his.centro-norte.example/ws?wsdl", center_lid="NORTE"
    )
    ids = {name: instances.get_instance(store, name).id for name in (instance, failing)}
    with store.unit_of_work(write=True) as connection:
        repo = IntegrationRepository(connection)
        repo.save(
            ids[instance],
            {
                "last_success_at": utc - timedelta(minutes=3),
                "next_poll_at": utc + timedelta(minutes=2),
                "key_entities_at": utc - timedelta(hours=5),
            },
        )
        repo.save(
            ids[failing],
            {
                "last_success_at": utc - timedelta(hours=2, minutes=10),
                "next_poll_at": utc + timedelta(minutes=20),
                "consecutive_failures": 4,
                "last_error": "his.centro-norte.example:443 did not answer SearchAppointments",
            },
        )
        CallbackRepository(connection).add(
            {
                "instance_id": ids[failing],
                "reservation_id": 9001,
                "app_lid": "CN-5521",
                "user_lid": "P-1",
                "action": "CancelAppointment",
                "status": "PENDING",
                "attempts": 3,
                "next_attempt_at": utc + timedelta(minutes=4),
                "last_error": "his.centro-norte.example:443 did not answer CancelAppointment",
                "created_at": utc - timedelta(minutes=50),
                "updated_at": utc - timedelta(minutes=4),
            }
        )


def test_an_operator_retries_a_failed_message(world: World, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    clinic = make_instance(world.store, language="en")
    norte = make_instance(world.store, language="en")
    operator = new_operator(world.store, [clinic.instance, norte.instance])

    world.at(datetime(2027, 3, 3, 9, 0))
    world.sms.behaviour.reject = {REFUSED}
    _queue_sms(world, clinic, "RET-1", "622334455")
    _queue_sms(world, clinic, "RET-2", "+34 699 000 111")
    world.sms.behaviour.reject.add("+34699000111")
    world.work()
    refused = [r for r in world.sms.requests if r["body"]["to"] == REFUSED]
    assert len(refused) == 1 and refused[0]["key"] not in world.sms.accepted
    first_key = refused[0]["key"]
    world.sms.behaviour.reject.discard(REFUSED)  # the number is put right at the gateway

    driver = browser
    _sign_in(driver, world.url, operator)

    # Found by the number spelled otherwise than the HIS sent it.
    world.at(datetime(2027, 3, 3, 9, 20))
    _clinics(world, clinic.instance, norte.instance, datetime(2027, 3, 3, 8, 20))
    driver.get(f"{world.url}/admin/{clinic.instance}/messages")
    driver.find_element(By.ID, "f-to").send_keys("0034 622 33 44 55")
    _click_and_load(driver, "form.search button[type=submit]")
    results = driver.find_element(By.ID, "results").text
    assert "RET-1" in results and "FAILED" in results and "RET-2" not in results
    assert "622334455" not in driver.page_source
    _click_and_load(driver, "#results a")
    assert "FAILED" in driver.find_element(By.TAG_NAME, "h1").text
    message_url = driver.current_url

    _click_and_load(driver, "#retry")
    assert driver.current_url == message_url
    notice = driver.find_element(By.CSS_SELECTOR, "main p.notice").text
    assert notice == "The message is queued again and will be sent in a moment."
    assert "QUEUED" in driver.find_element(By.TAG_NAME, "h1").text
    trail = driver.find_element(By.ID, "message-audit").text
    assert operator in trail and "Retry message" in trail and "done" in trail
    _shoot(driver, "message-retried")

    # The worker sends it again, under the key the gateway saw the first time.
    world.work()
    assert first_key in world.sms.accepted and world.sms.accepted[first_key]["to"] == REFUSED
    driver.get(message_url)
    assert "SENT" in driver.find_element(By.TAG_NAME, "h1").text

    # Something waiting, for the outbox page: one due, one for the afternoon.
    _queue_sms(world, clinic, "LATER-1", "611000222")
    _queue_sms(world, clinic, "LATER-2", "611000333", SEND_AT="03/03/2027 17:00")

    driver.get(f"{world.url}/admin/clinics")
    listing = driver.find_element(By.ID, "clinics").text
    assert "failing" in listing and "ok" in listing and "his.centro-norte.example" in listing
    _shoot(driver, "clinics")

    driver.get(f"{world.url}/admin/{norte.instance}/clinic")
    assert "CN-5521" in driver.find_element(By.ID, "callbacks").text
    _click_and_load(driver, "#poll-now")
    assert "next round" in driver.find_element(By.CSS_SELECTOR, "main p.notice").text
    _shoot(driver, "clinic")

    world.at(datetime(2027, 3, 3, 9, 26))
    driver.get(f"{world.url}/admin/outbox")
    assert "sms-gw" in driver.find_element(By.ID, "queues").text
    assert "HTTP 400" in driver.find_element(By.ID, "failures-day").text
    _shoot(driver, "outbox")

    driver.get(f"{world.url}/admin/audit")
    rows = driver.find_element(By.CSS_SELECTOR, "table.audit tbody").text
    assert operator in rows and clinic.instance in rows and "Retry message" in rows
    assert norte.instance in rows and "Re-run clinic poll" in rows
    assert "622" not in driver.page_source  # no patient data in the trail
    _shoot(driver, "audit")
