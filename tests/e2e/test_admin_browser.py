"""The back office in a real headless Chromium against a real gunicorn.

A HIS pushes an appointment over SOAP, the real worker process sends its SMS
reminder through a local gateway, the gateway's delivery receipt arrives, the
patient answers "YES" by SMS; then an operator signs in with the browser,
finds the reservation by the patient's number spelled another way, opens it
and sees the reminder sent and delivered, the SMS answer and the change it
made, and opens the message's timeline. An operator of one instance who types
another instance's reservation URL gets "Not found"; a form posted without
its CSRF token is refused.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian's chromium
and chromium-driver); skipped without them unless TUOTEMPO_REQUIRE_BROWSER=1.
With TUOTEMPO_SCREENSHOTS=1 it writes the main pages at 1280x900 to
``docs/screenshots/`` (the README's pictures).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep

from tests.admin_client import PASSWORD, new_operator
from tests.conftest import Credentials, make_instance
from tests.e2e.conftest import ROOT, _free_port, start_gunicorn, stop_process
from tests.e2e.peers import SECRETS, SmsGateway, SmtpServer, senders_config
from tuotempo_soap.config import Settings
from tuotempo_soap.services import reminders
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("TUOTEMPO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TUOTEMPO_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "docs" / "screenshots"
MADRID = ZoneInfo("Europe/Madrid")
RULES = {
    "offsets_hours": [24],
    "quiet_start": "21:00",
    "quiet_end": "09:00",
    "clinic_name": "Clinica Sol",
    "clinic_phone": "910000000",
}


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("TUOTEMPO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TUOTEMPO_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-GB",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    # The page area itself 1280x900 (the window's frame is not part of a screenshot).
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class World:
    url: str
    env: dict[str, str]
    store: Store
    sms: SmsGateway
    clock: Path

    def at(self, local: datetime) -> None:
        self.clock.write_text(local.replace(tzinfo=MADRID).isoformat())

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tuotempo_soap.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def work(self) -> None:
        done = self.cli("worker", "--once")
        assert done.returncode == 0, done.stdout + done.stderr

    def push(self, who: Credentials, item: dict[str, str]) -> None:
        """updateReservations over SOAP, as the HIS sends it."""
        client = zeep.Client(f"{self.url}/soap?wsdl")
        result = client.service.updateReservations(
            AUTH=who.auth(), RESERVATIONS={"RESERVATION": [item]}
        )
        assert result.RESULT == "OK", result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("admin-browser")
    sms, smtp = SmsGateway(), SmtpServer()
    clock = workdir / "clock.txt"
    clock.write_text(datetime(2027, 3, 1, 8, 0, tzinfo=MADRID).isoformat())
    senders = workdir / "senders.json"
    senders.write_text(json.dumps(senders_config(sms, smtp)))
    port = _free_port()
    database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    extra = {
        **SECRETS,
        "TUOTEMPO_SENDERS_FILE": str(senders),
        "TUOTEMPO_CLOCK_FILE": str(clock),
        "TUOTEMPO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TUOTEMPO_SECRET_KEY": "test-secret-key-for-links",
        "TUOTEMPO_ADMIN_SECRET": "admin-secret-for-the-browser-test-0123456789",
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
        yield World(url, env, store, sms, clock)
    finally:
        stop_process(process)
        store.dispose()
        sms.close()
        smtp.close()


def _shoot(driver: Any, name: str) -> None:
    """The page at 1280x900, into docs/screenshots when TUOTEMPO_SCREENSHOTS=1."""
    if os.environ.get("TUOTEMPO_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _click_and_load(driver: Any, css: str) -> None:
    """Click what submits a form or follows a link, and wait for the next page."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()

    def replaced(_driver: Any) -> bool:
        # selenium's staleness_of, plus the answer Chromium's driver sometimes
        # gives instead of "stale" while the old document is being replaced.
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    WebDriverWait(driver, 20).until(replaced)


def _sign_in(driver: Any, url: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/admin/")
    assert driver.current_url.endswith("/admin/signin")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    _click_and_load(driver, "section.signin button[type=submit]")
    assert driver.current_url.endswith("/admin/")


def test_an_operator_follows_a_reminder_and_the_patients_answer(world: World, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    clinic = make_instance(world.store, language="en", store_patient_identity=True)
    reminders.set_rules(world.store, clinic.instance, RULES)
    other = make_instance(world.store, language="en")
    operator = new_operator(world.store, [clinic.instance])

    world.at(datetime(2027, 3, 1, 8, 0))
    world.push(
        clinic,
        {
            "APP_LID": "BR-1001",
            "APP_DATE": "02/03/2027",
            "APP_START_TIME": "10:00",
            "RESOURCE_LID": "DR1",
            "RESOURCE_NAME": "Dr. Rossi",
            "LOCATION_NAME": "Centro",
            "STATUS": "APPROVED",
            "USER_LID": "P-77",
            "USER_FIRST_NAME": "Lucia",
            "USER_SECOND_NAME": "Martin",
            "USER_MOBILE_PHONE": "611111111",
            "USER_EMAIL": "lucia.martin@example.org",
            "USER_LANGUAGE": "en",
        },
    )
    world.push(
        other,
        {"APP_LID": "OTHER-1", "APP_DATE": "02/03/2027", "RESOURCE_LID": "X", "STATUS": "PENDING"},
    )
    world.at(datetime(2027, 3, 1, 11, 5))
    world.work()
    world.work()  # the first run queues, the second sends what was queued mid-run
    (key,) = [k for k, body in world.sms.accepted.items() if body["to"] == "+34611111111"]
    receipt = requests.post(
        f"{world.url}/receipts/sms-gw",
        data={"id": f"gw-{key}", "stat": "DELIVRD"},
        headers={"X-Receipt-Secret": SECRETS["TEST_SMS_RECEIPT_SECRET"]},
        timeout=30,
    )
    assert receipt.status_code == 200, receipt.text
    world.at(datetime(2027, 3, 1, 11, 40))
    reply = requests.post(
        f"{world.url}/inbound/sms/sms-gw",
        data={"from": "+34611111111", "text": "YES, I will come"},
        headers={"X-Receipt-Secret": SECRETS["TEST_SMS_RECEIPT_SECRET"]},
        timeout=30,
    )
    assert reply.status_code == 200 and reply.json()["result"] == "confirmed", reply.text
    world.work()  # the acknowledgement

    driver = browser
    driver.get(f"{world.url}/admin/signin")
    _shoot(driver, "signin")
    _sign_in(driver, world.url, operator)
    assert other.instance not in driver.page_source

    # The search: the number spelled otherwise than the HIS sent it, in a POST form.
    driver.get(f"{world.url}/admin/{clinic.instance}/reservations")
    driver.find_element(By.ID, "f-patient").send_keys("+34 611 11 11 11")
    _click_and_load(driver, "form.search button[type=submit]")
    assert driver.current_url.endswith(f"/admin/{clinic.instance}/reservations")
    results = driver.find_element(By.ID, "results").text
    assert "BR-1001" in results and "+34 6** ** ** 11" in results
    assert "611111111" not in driver.page_source and "Lucia" not in driver.page_source
    _shoot(driver, "reservations")

    _click_and_load(driver, "#results a")
    assert re.search(r"/reservations/\d+$", driver.current_url)
    reservation_url = driver.current_url
    reminders_table = driver.find_element(By.ID, "reminders").text
    for stage in ("planned", "queued", "sent", "delivered", "answered"):
        assert stage in reminders_table, (stage, reminders_table)
    answer = driver.find_element(By.ID, "answer").text
    assert "CONFIRMED by SMS" in answer
    changes = driver.find_element(By.ID, "changes").text
    assert "the patient" in changes and "PATIENT_ANSWER" in changes and "CONFIRMED" in changes
    assert "Created" in changes
    linked = driver.find_element(By.ID, "messages").text
    assert "rem-" in linked and "ack-" in linked
    assert "Lucia" not in driver.page_source and "+34611111111" not in driver.page_source
    _shoot(driver, "reservation")

    # Shown on request (a POST), then masked again on the next visit.
    _click_and_load(driver, "#patient form.reveal button")
    patient = driver.find_element(By.ID, "patient").text
    assert "Lucia" in patient and "+34611111111" in patient, patient
    driver.get(reservation_url)
    assert "Lucia" not in driver.page_source

    _click_and_load(driver, "#reminders a")
    assert re.search(r"/messages/\d+$", driver.current_url)
    timeline = driver.find_element(By.ID, "timeline").text
    assert "Queued" in timeline and "Sent through sms-gw" in timeline
    assert "Delivered (receipt)" in timeline
    assert "BR-1001" in driver.find_element(By.ID, "reservations").text
    _shoot(driver, "message")

    driver.get(f"{world.url}/admin/{clinic.instance}/messages")
    assert "rem-" in driver.find_element(By.ID, "results").text
    _shoot(driver, "messages")

    # Another instance's reservation, by URL: not found, under either instance's name.
    with world.store.unit_of_work() as connection:
        from sqlalchemy import select

        from tuotempo_soap.store.tables import reservations

        (their_id,) = connection.execute(
            select(reservations.c.id).where(reservations.c.app_lid == "OTHER-1")
        ).scalars()
    for path in (
        f"/admin/{other.instance}/reservations/{their_id}",
        f"/admin/{clinic.instance}/reservations/{their_id}",
    ):
        driver.get(f"{world.url}{path}")
        assert "Not found" in driver.find_element(By.TAG_NAME, "h1").text, path
        assert "OTHER-1" not in driver.page_source

    # A form whose CSRF token was taken out is refused.
    driver.get(f"{world.url}/admin/{clinic.instance}/reservations")
    driver.execute_script("document.querySelector('form.search input[name=csrf_token]').remove();")
    driver.find_element(By.ID, "f-app_lid").send_keys("BR-1001")
    _click_and_load(driver, "form.search button[type=submit]")
    assert "Form refused" in driver.find_element(By.TAG_NAME, "h1").text
    assert "BR-1001" not in driver.find_element(By.TAG_NAME, "main").text

    # Signing out ends the session: the pages ask for a sign-in again.
    driver.get(f"{world.url}/admin/")
    _click_and_load(driver, "form.signout button")
    assert driver.current_url.endswith("/admin/signin")
    driver.get(reservation_url)
    assert driver.current_url.endswith("/admin/signin")
