"""Who cancelled an appointment, end to end with the reference clinic server: a
cancellation sent through the portal (``appointment delete``) shows at once in
getReservations as ours (STATUS_CHANGED_BY ``PLATFORM``), also in a delta read,
and stays ours after the poller reads the same cancellation back from the
clinic's agenda; a cancellation at the clinic's desk stays the clinic's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import zeep

from tests.e2e.conftest import Server
from tests.e2e.test_clinic_integration import (
    ClinicPeer,
    _start_clinic,
    cli,
    integrate,
    reservations_of,
)

pytestmark = pytest.mark.e2e

# Desk bookings take distinct slots: the clinic outlives one backend's run.
_DESK_SLOTS = iter(f"{hour:02}:{minute:02}" for hour in (9, 10, 11, 12) for minute in (0, 20, 40))


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClinicPeer]:
    process, peer = _start_clinic(tmp_path_factory.mktemp("portal-cancel-clinic"))
    try:
        yield peer
    finally:
        process.terminate()
        process.wait(timeout=15)


def delta(server: Server, who: Any, cursor: str) -> dict[str, Any]:
    page = zeep.Client(server.wsdl_url).service.getReservations(
        AUTH=who.auth(), LAST_REQUEST_TIMESTAMP=cursor, MAX_RESULTS=500
    )
    return {r.APP_LID: r for r in (page.RESERVATIONS.RESERVATION if page.RESERVATIONS else [])}


def cursor_of(server: Server, who: Any) -> str:
    page = zeep.Client(server.wsdl_url).service.getReservations(AUTH=who.auth(), MAX_RESULTS=500)
    return str(page.NEXT_REQUEST_TIMESTAMP)


def who_cancelled(row: Any) -> tuple[str, str]:
    return row.STATUS, row.STATUS_CHANGED_BY


def poll(server: Server, who: Any) -> None:
    done = cli(server, "poll", "--instance", who.instance)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_cancellation_through_the_portal_is_recorded_as_ours(
    server: Server, clinic: ClinicPeer
) -> None:
    who = integrate(server, clinic, center="C1")
    known = clinic.desk.book_at_desk(
        resource_lid="C1-DR1",
        activity_lid="VISIT",
        day=date(2027, 3, 3),
        start=next(_DESK_SLOTS),
        mobile_phone="612000001",
    )
    by_desk = clinic.desk.book_at_desk(
        resource_lid="C1-DR1",
        activity_lid="VISIT",
        day=date(2027, 3, 3),
        start=next(_DESK_SLOTS),
        mobile_phone="612000002",
    )
    poll(server, who)
    assert who_cancelled(reservations_of(server, who)[known]) == ("APPROVED", "HIS")
    cursor = cursor_of(server, who)

    deleted = cli(server, "appointment", "delete", who.instance, known, "--center", "C1")
    assert deleted.returncode == 0, deleted.stderr
    # At once, and as a new change: a delta read from before the delete returns it.
    changed = delta(server, who, cursor)
    assert list(changed) == [known]
    assert who_cancelled(changed[known]) == ("CANCELLED by ADMIN", "PLATFORM")
    assert changed[known].STATUS_CHANGED_AT

    clinic.desk.cancel_at_desk(by_desk)
    poll(server, who)  # the agenda now shows both cancelled
    rows = reservations_of(server, who)
    assert who_cancelled(rows[known]) == ("CANCELLED by ADMIN", "PLATFORM")
    assert who_cancelled(rows[by_desk]) == ("CANCELLED by ADMIN", "HIS")


def test_an_appointment_booked_and_cancelled_through_the_portal_before_any_poll(
    server: Server, clinic: ClinicPeer
) -> None:
    who = integrate(server, clinic, center="C2")
    search = [
        "availability",
        "search",
        who.instance,
        "--activity",
        "VISIT",
        "--from",
        "04/03/2027",
        "--to",
        "04/03/2027",
        "--max",
        "1",
    ]
    found = cli(server, *search)
    assert found.returncode == 0, found.stderr
    when, center, resource, activity, availability = found.stdout.splitlines()[0].split("\t")
    day, start = when.split(" ")
    booked = cli(
        server,
        "appointment",
        "add",
        who.instance,
        "--center",
        center,
        "--availability-lid",
        availability,
        "--date",
        day,
        "--time",
        start,
        "--activity",
        activity,
        "--resource",
        resource,
        "--mobile",
        "612000003",
    )
    assert booked.returncode == 0, booked.stderr
    app_lid = booked.stdout.split()[1]
    assert app_lid not in reservations_of(server, who)  # not polled yet

    deleted = cli(server, "appointment", "delete", who.instance, app_lid, "--center", center)
    assert deleted.returncode == 0, deleted.stderr
    row = reservations_of(server, who)[app_lid]
    assert who_cancelled(row) == ("CANCELLED by ADMIN", "PLATFORM")
    assert (day, start) == (row.APP_DATE, row.APP_START_TIME)

    poll(server, who)
    assert who_cancelled(reservations_of(server, who)[app_lid]) == (
        "CANCELLED by ADMIN",
        "PLATFORM",
    )
