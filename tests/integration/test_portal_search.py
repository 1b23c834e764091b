"""A portal search against a real database and real zeep clients, with scripted
clinics behind a requests adapter: every center is asked at once, and each gets
its full timeout from the moment its own call starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests

from tests.conftest import make_instance
from tests.unit.clinic.fakes import (
    WSDL_URL,
    DictCache,
    ScriptedClinic,
    answer,
    clinic_wsdl,
    fault,
    fields,
    session_for,
)
from tuotempo_soap.clinic import ClinicClientFactory
from tuotempo_soap.services import clinic_sync, portal
from tuotempo_soap.store.engine import Store

# Generous: a loaded 2-core machine may take a while to start 50 threads; the
# barrier only has to be reached, never raced.
BARRIER_SECONDS = 20.0


def slot_answer() -> requests.Response:
    slot = fields(
        RESOURCE_LID="DR1",
        ACTIVITY_LID="VISIT",
        AVA_DATE="24/02/2027",
        AVA_START_TIME="09:00",
        AVAILABILITY_LID="DR1-20270224-0900",
        AVA_END_TIME="09:20",
    )
    return answer(
        "searchAvailabilities",
        f"<tns:AVAILABILITIES><tns:AVAILABILITY>{slot}</tns:AVAILABILITY></tns:AVAILABILITIES>",
    )


def make_portal(store: Store, centers: int) -> str:
    """A portal of ``centers`` centers, all reached through one clinic integration."""
    via = make_instance(store).instance
    clinic_sync.configure(store, via, wsdl_url=WSDL_URL)
    name = make_instance(store).instance
    for number in range(centers):
        portal.add_center(store, name, f"C{number:02d}", via=via)
    return name


def builder(clinic: ScriptedClinic) -> Callable[..., object]:
    factory = ClinicClientFactory(
        wsdl_cache=DictCache(), session_factory=lambda: session_for(clinic)
    )
    return factory.build


@pytest.mark.parametrize("centers", [10, 50])
def test_every_center_is_asked_at_once(store: Store, centers: int) -> None:
    # Each center answers only once all of them are being asked at the same time:
    # with fewer threads than centers the barrier breaks and the centers fail.
    barrier = threading.Barrier(centers)

    def together(request: requests.PreparedRequest) -> requests.Response:
        try:
            barrier.wait(timeout=BARRIER_SECONDS)
        except threading.BrokenBarrierError:
            return fault("Server.Busy", "not asked together with the other centers")
        return slot_answer()

    clinic = ScriptedClinic(documents={WSDL_URL: clinic_wsdl()}, script=[together] * centers)
    name = make_portal(store, centers)

    found = portal.search(
        store,
        name,
        portal.AvailabilityQuery(max_results=1000),
        build=builder(clinic),  # type: ignore[arg-type]
        per_center_timeout=BARRIER_SECONDS * 2,
    )

    assert found.errors == []
    assert sorted(a.center_lid or "" for a in found.availabilities) == [
        f"C{number:02d}" for number in range(centers)
    ]


def test_a_center_waiting_for_a_thread_still_gets_its_full_timeout(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Eight threads for nine centers: the ninth starts only when one of the first
    # eight answered. Each takes 70% of the timeout, so the ninth is in time by
    # its own clock and would be late by a clock started at submission.
    monkeypatch.setattr(portal, "MAX_PARALLEL_CENTERS", 8)
    timeout = 2.0

    def slow(request: requests.PreparedRequest) -> requests.Response:
        time.sleep(timeout * 0.7)
        return slot_answer()

    clinic = ScriptedClinic(documents={WSDL_URL: clinic_wsdl()}, script=[slow] * 9)
    name = make_portal(store, 9)

    found = portal.search(
        store,
        name,
        portal.AvailabilityQuery(),
        build=builder(clinic),  # type: ignore[arg-type]
        per_center_timeout=timeout,
    )

    assert found.errors == []
    assert sorted(a.center_lid or "" for a in found.availabilities) == [
        f"C{number:02d}" for number in range(9)
    ]


def test_a_center_past_its_own_timeout_is_named_and_the_others_answer(store: Store) -> None:
    hold = threading.Event()

    def stuck(request: requests.PreparedRequest) -> requests.Response:
        hold.wait(timeout=30)  # released by the test once the search has given up
        return slot_answer()

    def prompt(request: requests.PreparedRequest) -> requests.Response:
        return slot_answer()

    calls = 0
    lock = threading.Lock()

    def first_stuck(request: requests.PreparedRequest) -> requests.Response:
        nonlocal calls
        with lock:
            calls += 1
            step = stuck if calls == 1 else prompt
        return step(request)

    clinic = ScriptedClinic(documents={WSDL_URL: clinic_wsdl()}, script=[first_stuck] * 3)
    name = make_portal(store, 3)
    try:
        found = portal.search(
            store,
            name,
            portal.AvailabilityQuery(),
            build=builder(clinic),  # type: ignore[arg-type]
            per_center_timeout=1.0,
        )
    finally:
        hold.set()

    assert [error.code for error in found.errors] == ["Server.ClinicTimeout"]
    assert len(found.availabilities) == 2
