"""The back office over HTTP, in-process (the real WSGI application, the real
database, SQLite and PostgreSQL): signing in and out, sessions that end,
CSRF refusals, security headers, instances kept apart, masked patient data,
every search filter and keyset paging."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.admin_client import PASSWORD, AdminClient, new_operator
from tests.scripted_dispatch import OneProvider
from tuotempo_soap import clock
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch.base import OutgoingMessage, SendResult
from tuotempo_soap.dispatch.worker import OutboxWorker
from tuotempo_soap.services import instances, messages, operators, reservations
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.tables import audit_log, reservation_changes
from tuotempo_soap.store.tables import messages as messages_table
from tuotempo_soap.web.app import TuotempoApp, create_app

START = datetime(2027, 3, 1, 8, 0)


class Clock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.now = START
        self.set(START)

    def set(self, moment: datetime) -> None:
        self.now = moment
        self.path.write_text(moment.isoformat())

    def advance(self, **delta: float) -> None:
        self.set(self.now + timedelta(**delta))


@pytest.fixture
def moved_clock(tmp_path: Path) -> Iterator[Clock]:
    yield Clock(tmp_path / "clock.txt")
    clock.configure(None)


@pytest.fixture
def app(database_url: str, tmp_path: Path, moved_clock: Clock) -> Iterator[TuotempoApp]:
    settings = Settings.from_env(
        {
            "TUOTEMPO_DATABASE_URL": database_url,
            "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
            "TUOTEMPO_CLOCK_FILE": str(moved_clock.path),
            "TUOTEMPO_LOG_LEVEL": "WARNING",
            "TUOTEMPO_PUBLIC_URL": "https://memo.example.com",
            "TUOTEMPO_ADMIN_SESSION_IDLE_SECONDS": "1800",
            "TUOTEMPO_ADMIN_SESSION_MAX_SECONDS": "7200",
        }
    )
    application = create_app(settings)
    yield application
    application.store.dispose()


def new_instance(app: TuotempoApp, **options: Any) -> Instance:
    options.setdefault("store_patient_identity", True)
    options.setdefault("language", "en")
    return instances.create_instance(app.store, f"tt_adm_{secrets.token_hex(4)}", **options)


def appointment(lid: str, day: str = "02/03/2027", **fields: str) -> dict[str, str]:
    return {
        "APP_LID": lid,
        "APP_DATE": day,
        "APP_START_TIME": "10:00",
        "RESOURCE_LID": "DR1",
        "RESOURCE_NAME": "Dra. Rossi",
        "STATUS": "APPROVED",
        **fields,
    }


def push(app: TuotempoApp, instance: Instance, *items: dict[str, str]) -> None:
    batch = reservations.update_reservations(app.store, instance, list(items), max_items=1000)
    assert all(item.ok for item in batch.items), batch.items


def signed_in(app: TuotempoApp, *granted: Instance, **kwargs: Any) -> AdminClient:
    client = AdminClient(app)
    name = new_operator(app.store, [i.name for i in granted], **kwargs)
    assert client.signin(name).status_code == 303
    return client


def app_lids(page: str) -> list[str]:
    return re.findall(r'/reservations/\d+">([^<]+)</a>', page)


# --- signing in and out ------------------------------------------------------


def test_pages_need_a_signed_in_operator(app: TuotempoApp) -> None:
    client = AdminClient(app)
    home = client.get("/admin/")
    assert home.status_code == 303 and home.headers["Location"] == "/admin/signin"
    page = client.get("/admin/signin")
    assert "Sign in to continue" in page.text  # the notice, shown once
    assert "Sign in to continue" not in client.get("/admin/signin").text
    assert client.get("/admin").status_code == 308  # to /admin/


def test_sign_in_and_out(app: TuotempoApp) -> None:
    instance = new_instance(app)
    name = new_operator(app.store, [instance.name])
    client = AdminClient(app)
    before = (client.get("/admin/signin"), client.cookie())[1]
    answer = client.post("/admin/signin", {"username": name, "password": PASSWORD})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/"
    assert client.cookie() != before  # a new session (and CSRF token) on sign-in
    home = client.get("/admin/")
    assert home.status_code == 200 and instance.name in home.text and name in home.text
    out = client.post("/admin/signout")
    assert out.status_code == 303 and out.headers["Location"] == "/admin/signin"
    assert "You are signed out" in client.get("/admin/signin").text
    assert client.get("/admin/").status_code == 303


def test_wrong_password_and_unknown_operator_get_the_same_answer(app: TuotempoApp) -> None:
    name = new_operator(app.store)
    client = AdminClient(app)
    client.get("/admin/signin")
    wrong = client.post("/admin/signin", {"username": name, "password": "not-the-password"})
    unknown = client.post("/admin/signin", {"username": "nobody_here", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    for answer in (wrong, unknown):
        assert "Unknown operator or wrong password" in answer.text
    assert client.get("/admin/").status_code == 303


def test_a_session_ends_when_idle_and_after_its_maximum(
    app: TuotempoApp, moved_clock: Clock
) -> None:
    instance = new_instance(app)
    client = signed_in(app, instance)
    moved_clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200  # and the idle clock restarts
    moved_clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200
    moved_clock.advance(minutes=31)
    ended = client.get("/admin/")
    assert ended.status_code == 303 and ended.headers["Location"] == "/admin/signin"
    assert "Your session has ended" in client.get("/admin/signin").text

    client = signed_in(app, instance)
    for _ in range(4):  # busy all along (100 min), but 2 h after sign-in it ends
        moved_clock.advance(minutes=25)
        assert client.get("/admin/").status_code == 200
    moved_clock.advance(minutes=25)
    assert client.get("/admin/").status_code == 303


def test_changing_the_password_or_removing_the_operator_ends_its_sessions(
    app: TuotempoApp,
) -> None:
    instance = new_instance(app)
    name = new_operator(app.store, [instance.name])
    client = AdminClient(app)
    client.signin(name)
    assert client.get("/admin/").status_code == 200
    operators.set_password(app.store, name, "a-new-password-2")
    assert client.get("/admin/").status_code == 303
    assert client.signin(name, "a-new-password-2").status_code == 303
    assert client.get("/admin/").status_code == 200
    operators.remove_operator(app.store, name)
    assert client.get("/admin/").status_code == 303


def test_a_forged_cookie_is_no_session(app: TuotempoApp) -> None:
    instance = new_instance(app)
    client = signed_in(app, instance)
    value = client.cookie()
    assert value is not None
    client.http.set_cookie("tuotempo_admin", value[:-2] + "xx", domain="localhost", path="/admin")
    assert client.get("/admin/").status_code == 303


# --- CSRF, cookie and headers ------------------------------------------------


def test_every_post_without_its_csrf_token_is_refused(app: TuotempoApp) -> None:
    instance = new_instance(app)
    push(app, instance, appointment("C1", USER_MOBILE_PHONE="611223344"))
    client = signed_in(app, instance)
    base = f"/admin/{instance.name}"
    (reservation_id,) = re.findall(r"/reservations/(\d+)", client.get(f"{base}/reservations").text)
    for path in (
        f"{base}/reservations",
        f"{base}/messages",
        f"{base}/reservations/{reservation_id}/reveal",
        "/admin/signout",
        "/admin/signin",
    ):
        missing = client.post(path, {"patient": "611223344"}, csrf=False)
        assert missing.status_code == 403, path
        assert "Form refused" in missing.text and "611223344" not in missing.text
        wrong = client.post(path, {"csrf_token": "x" * 43}, csrf=False)
        assert wrong.status_code == 403, path
    assert client.get("/admin/").status_code == 200  # still signed in: nothing happened
    # A token from another session is worth nothing either.
    other = signed_in(app, instance)
    stolen = client.post(f"{base}/reservations", {"csrf_token": other.csrf or ""}, csrf=False)
    assert stolen.status_code == 403


def test_the_cookie_is_httponly_strict_and_secure_over_https(app: TuotempoApp) -> None:
    plain = AdminClient(app).get("/admin/signin").headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Path=/admin" in plain
    assert "Secure" not in plain and "Max-Age=" in plain
    secure = AdminClient(app, base_url="https://localhost").get("/admin/signin")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_security_headers_on_every_answer(app: TuotempoApp) -> None:
    instance = new_instance(app)
    client = signed_in(app, instance)
    answers = [
        client.get("/admin/"),
        client.get(f"/admin/{instance.name}/reservations"),
        client.get("/admin/no-such-page"),
        client.get("/admin/static/admin.css"),
        client.post("/admin/signout", csrf=False),
        AdminClient(app).get("/admin/"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 200, 403, 303]
    for answer in answers:
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store"
    page = answers[1].text  # nothing the policy would have to allow
    assert "<script" not in page and "style=" not in page and "onclick" not in page


# --- instances kept apart ----------------------------------------------------


def test_an_operator_of_one_instance_gets_404_for_another(app: TuotempoApp) -> None:
    mine, theirs = new_instance(app), new_instance(app)
    push(app, mine, appointment("MINE1"))
    push(app, theirs, appointment("THEIRS1"))
    with app.store.unit_of_work() as connection:
        ids = dict(
            connection.execute(
                select(reservation_changes.c.instance_id, reservation_changes.c.reservation_id)
            ).all()
        )
    their_id = ids[theirs.id]
    messages.update_messages(
        app.store,
        theirs,
        [{"LEGACY_ID": "t1", "CHANNEL": "SMS", "TO": "611000111", "TEXT": "x"}],
        max_items=1,
    )
    client = signed_in(app, mine)
    assert client.get(f"/admin/{mine.name}/reservations").status_code == 200
    for path in (
        f"/admin/{theirs.name}/reservations",
        f"/admin/{theirs.name}/reservations/{their_id}",
        f"/admin/{mine.name}/reservations/{their_id}",  # their id under my instance
        f"/admin/{theirs.name}/messages",
        "/admin/tt_no_such_instance/reservations",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "THEIRS1" not in answer.text
    reveal = client.post(f"/admin/{mine.name}/reservations/{their_id}/reveal")
    assert reveal.status_code == 404
    search = client.post(f"/admin/{theirs.name}/reservations", {"app_lid": "THEIRS1"})
    assert search.status_code == 404
    assert theirs.name not in client.get("/admin/").text
    # An operator of every instance sees both.
    everyone = signed_in(app, all_instances=True)
    assert everyone.get(f"/admin/{theirs.name}/reservations/{their_id}").status_code == 200


# --- masking -----------------------------------------------------------------


def test_patient_data_is_masked_in_lists_and_shown_on_request_with_an_audit_row(
    app: TuotempoApp,
) -> None:
    instance = new_instance(app)
    push(
        app,
        instance,
        appointment(
            "M1",
            USER_MOBILE_PHONE="612345678",
            USER_EMAIL="Ana.Garcia@Example.org",
            USER_FIRST_NAME="Ana",
            USER_SECOND_NAME="Garcia",
            USER_ID_NUMBER="12345678Z",
        ),
    )
    client = signed_in(app, instance)
    listing = client.get(f"/admin/{instance.name}/reservations").text
    assert "+34 6** ** ** 78" in listing and "A***@e***.org" in listing
    for clear in ("612345678", "612 34", "Ana.Garcia", "Garcia", "12345678Z"):
        assert clear not in listing
    (reservation_id,) = re.findall(r"/reservations/(\d+)", listing)
    page = client.get(f"/admin/{instance.name}/reservations/{reservation_id}").text
    assert "+34612345678" not in page and "Garcia" not in page and "12345678Z" not in page
    assert 'action="/admin/' in page and "/reveal" in page  # the button is a POST form
    shown = client.post(f"/admin/{instance.name}/reservations/{reservation_id}/reveal")
    assert shown.status_code == 200
    assert "+34612345678" in shown.text and "Garcia" in shown.text and "12345678Z" in shown.text
    with app.store.unit_of_work() as connection:
        rows = (
            connection.execute(select(audit_log).where(audit_log.c.instance_id == instance.id))
            .mappings()
            .all()
        )
    assert [(r["action"], r["target_kind"], r["target_id"]) for r in rows] == [
        ("PATIENT_DATA_SHOWN", "reservation", int(reservation_id))
    ]
    # Shown once, not remembered: the page is masked again.
    again = client.get(f"/admin/{instance.name}/reservations/{reservation_id}").text
    assert "+34612345678" not in again


def test_phone_and_email_are_never_in_a_url(app: TuotempoApp) -> None:
    instance = new_instance(app)
    push(
        app,
        instance,
        *(appointment(f"U{i}", USER_MOBILE_PHONE="612345678") for i in range(60)),
    )
    client = signed_in(app, instance)
    form = client.get(f"/admin/{instance.name}/reservations").text
    assert re.search(r'<form method="post" action="[^"]*/reservations" class="search"', form)
    found = client.post(f"/admin/{instance.name}/reservations", {"patient": "612 345 678"})
    assert found.status_code == 200 and len(app_lids(found.text)) == 50
    hrefs = re.findall(r'(?:href|action)="([^"]*)"', found.text)
    # (The number in any spelling; not "612" alone: an internal id may hold those digits.)
    phone = re.compile(r"612(?:%20|\D){0,3}345(?:%20|\D){0,3}678|%2B34")
    assert hrefs and not any(phone.search(h) or "patient" in h for h in hrefs)
    # The next page carries the terms in hidden fields of a POST form.
    assert '<input type="hidden" name="patient" value="612 345 678">' in found.text


# --- searches ----------------------------------------------------------------


def test_every_reservation_filter(app: TuotempoApp) -> None:
    instance = new_instance(app)
    push(
        app,
        instance,
        appointment("F1", "02/03/2027", USER_MOBILE_PHONE="611000001", USER_EMAIL="Uno@Ex.org"),
        appointment("F2", "03/03/2027", RESOURCE_LID="DR2", USER_LANDLINE_PHONE="910000002"),
        appointment("F3", "10/03/2027", STATUS="PENDING", USER_EMAIL="tres@ex.org"),
        appointment("F4", "11/03/2027", STATUS="CANCELLED by USER"),
    )
    client = signed_in(app, instance)
    url = f"/admin/{instance.name}/reservations"

    def lids(**terms: str) -> list[str]:
        answer = client.post(url, terms)
        assert answer.status_code == 200, answer.text
        return sorted(app_lids(answer.text))

    assert lids() == ["F1", "F2", "F3", "F4"]
    assert lids(app_lid="F3") == ["F3"]
    assert lids(date_from="2027-03-03", date_to="2027-03-10") == ["F2", "F3"]
    assert lids(date_from="10/03/2027") == ["F3", "F4"]  # typed dd/mm/yyyy works too
    assert lids(resource_lid="DR2") == ["F2"]
    assert lids(status="PENDING") == ["F3"]
    assert lids(status="CANCELLED by USER") == ["F4"]
    assert lids(patient_answer="CANCELLED") == ["F4"]
    assert lids(patient_answer="NONE") == ["F1", "F2", "F3"]
    for spelling in ("611000001", "+34 611 00 00 01", "0034611000001", "611-000-001"):
        assert lids(patient=spelling) == ["F1"], spelling
    assert lids(patient="91 000 00 02") == ["F2"]  # the landline: where calls go
    assert lids(patient="uno@ex.org") == ["F1"]  # addresses without regard to case
    assert lids(patient="TRES@EX.ORG") == ["F3"]
    assert lids(patient="699999999") == []
    assert lids(date_from="2027-03-01", status="APPROVED", resource_lid="DR1") == ["F1"]
    bad = client.post(url, {"date_from": "31/02/2027"})
    assert bad.status_code == 400 and "From (appointment date)" in bad.text
    backwards = client.post(url, {"date_from": "2027-03-10", "date_to": "2027-03-01"})
    assert backwards.status_code == 400 and "date_to" in backwards.text
    assert client.post(url, {"before": "abc"}).status_code == 400


def test_keyset_paging_walks_every_reservation_once(app: TuotempoApp) -> None:
    instance = new_instance(app)
    push(app, instance, *(appointment(f"P{i:03d}") for i in range(123)))
    client = signed_in(app, instance)
    url = f"/admin/{instance.name}/reservations"
    seen: list[str] = []
    page = client.post(url, {"resource_lid": "DR1"})
    while True:
        seen += app_lids(page.text)
        cursor = re.search(r'name="before" value="(\d+)"', page.text)
        if cursor is None:
            break
        page = client.post(url, {"resource_lid": "DR1", "before": cursor.group(1)})
        assert "First page" in page.text
    assert len(seen) == 123 and sorted(seen) == [f"P{i:03d}" for i in range(123)]
    assert seen[0] == "P122"  # newest first


def test_keyset_paging_in_appointment_order(app: TuotempoApp) -> None:
    instance = new_instance(app)
    # 3 a day over 41 days, pushed in an order unlike the days' (ids do not follow dates).
    days = [f"{1 + (i * 7) % 28:02d}/{3 + (i * 7) // 28 % 2:02d}/2027" for i in range(41)]
    push(app, instance, *(appointment(f"D{i:03d}", days[i // 3]) for i in range(123)))
    client = signed_in(app, instance)
    url = f"/admin/{instance.name}/reservations"
    terms = {"date_from": "2027-03-01", "date_to": "2027-04-30"}
    page = client.post(url, terms)
    assert "Latest appointment first" in page.text
    shown: list[tuple[str, str]] = []
    while True:
        shown += re.findall(
            r"<td>(\d\d/\d\d/2027)</td>\s*<td>[^<]*</td>\s*<td[^>]*><a[^>]*>(D\d+)<", page.text
        )
        cursor = re.search(r'name="before" value="(\d+)"', page.text)
        if cursor is None:
            break
        page = client.post(url, {**terms, "before": cursor.group(1)})
    assert sorted(lid for _, lid in shown) == [f"D{i:03d}" for i in range(123)]
    dates = [datetime.strptime(day, "%d/%m/%Y") for day, _ in shown]
    assert dates == sorted(dates, reverse=True)


def test_message_search_and_its_page(app: TuotempoApp) -> None:
    instance = new_instance(app)
    queued = messages.update_messages(
        app.store,
        instance,
        [
            {"LEGACY_ID": "s1", "CHANNEL": "SMS", "TO": "611 22 33 44", "TEXT": "Cita mañana"},
            {
                "LEGACY_ID": "e1",
                "CHANNEL": "EMAIL",
                "TO": "Pepa@Ex.org",
                "SUBJECT": "Cita",
                "TEXT": "Hola Pepa",
            },
        ],
        max_items=10,
    )
    assert all(item.ok for item in queued.items), queued.items
    client = signed_in(app, instance)
    url = f"/admin/{instance.name}/messages"

    def legacy(**terms: str) -> list[str]:
        answer = client.post(url, terms)
        assert answer.status_code == 200
        return sorted(re.findall(r'/messages/\d+">([^<]+)</a>', answer.text))

    assert legacy() == ["e1", "s1"]
    assert legacy(legacy_id="s1") == ["s1"]
    assert legacy(to="+34611223344") == ["s1"]
    assert legacy(to="0034 611 223 344") == ["s1"]
    assert legacy(to="pepa@ex.org") == ["e1"]
    assert legacy(channel="EMAIL") == ["e1"]
    assert legacy(status="QUEUED") == ["e1", "s1"]
    assert legacy(status="SENT") == []
    assert legacy(created_from="2027-03-01", created_to="2027-03-01") == ["e1", "s1"]
    assert legacy(created_from="2027-03-02") == []
    listing = client.get(url).text
    assert "+34 6** ** ** 44" in listing and "611223344" not in listing and "Pepa" not in listing
    (message_id,) = re.findall(r'/messages/(\d+)">s1<', listing)
    page = client.get(f"{url}/{message_id}").text
    assert "Queued" in page and "Waiting to be sent" in page and "Cita mañana" not in page
    shown = client.post(f"{url}/{message_id}/reveal").text
    assert "Cita mañana" in shown and "+34611223344" in shown


def test_pages_speak_the_instances_language(app: TuotempoApp) -> None:
    italian, spanish = new_instance(app, language="it"), new_instance(app, language="es")
    client = signed_in(app, italian, spanish)
    assert "Appuntamenti" in client.get(f"/admin/{italian.name}/reservations").text
    assert "Buscar citas" in client.get(f"/admin/{spanish.name}/reservations").text
    home = client.get("/admin/", headers={"Accept-Language": "it-IT,it;q=0.9"}).text
    assert "Istanze" in home


def test_history_is_recorded_with_each_change_and_shown(app: TuotempoApp) -> None:
    instance = new_instance(app)
    push(app, instance, appointment("H1", USER_MOBILE_PHONE="612345678"))
    push(app, instance, appointment("H1", USER_MOBILE_PHONE="612345678"))  # unchanged
    push(app, instance, appointment("H1", USER_MOBILE_PHONE="612345679", APP_START_TIME="12:30"))
    with app.store.unit_of_work() as connection:
        count = connection.execute(
            select(func.count()).where(reservation_changes.c.instance_id == instance.id)
        ).scalar_one()
    assert count == 2  # created, changed; the unchanged re-send writes nothing
    client = signed_in(app, instance)
    listing = client.get(f"/admin/{instance.name}/reservations").text
    (reservation_id,) = re.findall(r"/reservations/(\d+)", listing)
    page = client.get(f"/admin/{instance.name}/reservations/{reservation_id}").text
    changes = page[page.index('id="changes"') :]
    assert "Created" in changes and "Changed" in changes
    assert re.search(r"APP_START_TIME</span>:\s*10:00 → 12:30", changes)
    assert "+34 6** ** ** 78 → +34 6** ** ** 79" in re.sub(r"\s+", " ", changes)
    assert "612345678" not in page


def test_keyset_paging_of_messages_queued_in_a_time_range(app: TuotempoApp) -> None:
    instance = new_instance(app)
    for i in range(110):  # every 20 minutes, two at the same second
        messages.update_messages(
            app.store,
            instance,
            [{"LEGACY_ID": f"k{i:03d}", "CHANNEL": "SMS", "TO": "611000222", "TEXT": "x"}],
            max_items=1,
            now=START + timedelta(minutes=20 * (i // 2)),
        )
    client = signed_in(app, instance)
    url = f"/admin/{instance.name}/messages"
    terms = {"created_from": "2027-03-01", "created_to": "2027-03-01"}  # Madrid days
    seen: list[str] = []
    page = client.post(url, terms)
    while True:
        seen += re.findall(r'/messages/\d+">(k\d+)</a>', page.text)
        cursor = re.search(r'name="before" value="(\d+)"', page.text)
        if cursor is None:
            break
        page = client.post(url, {**terms, "before": cursor.group(1)})
    # The 1st in Madrid ends at 23:00 UTC: 45 instants from 08:00 UTC, two messages each.
    expected = [f"k{i:03d}" for i in range(90)]
    assert sorted(seen) == expected and len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def messages_table_status(app: TuotempoApp, message_id: int) -> str:
    with app.store.unit_of_work() as connection:
        return str(
            connection.execute(
                select(messages_table.c.status).where(messages_table.c.id == message_id)
            ).scalar_one()
        )


class _OneMessageFails:
    """A provider that refuses ``message_id`` once, then accepts it; anything
    else (other tests' messages in a shared database) it accepts."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.refused = False

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.message_id == self.message_id and not self.refused:
            self.refused = True
            return SendResult.retry("HTTP 503 from gateway")
        return SendResult.sent("gw-7")

    def close(self) -> None:
        pass


def test_a_messages_page_shows_each_refused_attempt_and_the_answer(
    app: TuotempoApp, moved_clock: Clock
) -> None:
    instance = new_instance(app)
    (item,) = messages.update_messages(
        app.store,
        instance,
        [{"LEGACY_ID": "try1", "CHANNEL": "SMS", "TO": "611223344", "TEXT": "Cita"}],
        max_items=10,
        now=moved_clock.now,
    ).items
    assert item.message_id is not None
    sender = _OneMessageFails(item.message_id)
    worker = OutboxWorker(
        app.store,
        OneProvider(sender),  # type: ignore[arg-type]
        replace(app.settings, worker_concurrency=1),
        worker_id="w-admin",
        clock=lambda: moved_clock.now,
    )
    # On a shared PostgreSQL database other tests' messages may fill a batch:
    # work until this one is sent (bounded), moving past each backoff.
    for _ in range(100):
        worker.run_once()
        if sender.refused and messages_table_status(app, item.message_id) == "SENT":
            break
        moved_clock.advance(hours=2)
    client = signed_in(app, instance)
    page = client.get(f"/admin/{instance.name}/messages/{item.message_id}").text
    timeline = re.sub(r"\s+", " ", page[page.index('id="timeline"') :])
    assert "Attempt 1 through scripted: not accepted" in timeline
    assert "answer: HTTP 503 from gateway" in timeline.replace("&#39;", "'")
    assert "Sent through scripted" in timeline
    assert "not every answer" not in timeline  # the footnote of messages without attempts
