"""Availability search, booking and cancelling across centers (guide B.3).

A portal instance groups centers; each center is reached through the clinic
integration of an instance (its own, or the portal's when one set of web
services serves several centers) with its CENTER_LID. A plain instance is a
portal of one center. Searches run against every center in parallel, each
bounded by a per-center timeout; what came back in time is merged by date and
time, and each center that failed or was slow is named with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from ..clinic import (
    Availability,
    BookingResult,
    ClinicError,
    DeleteResult,
    PatientData,
    ZeepClinicClient,
)
from ..clinic.endpoint import DEFAULT_TIMEOUT_SECONDS
from ..domain.reservation import ChangedBy
from ..errors import NotFoundError
from . import clinic_sync
from .clinic_sync import ClientBuilder
from .instances import Instance, get_instance
from .unit_of_work import Store

log = logging.getLogger(__name__)

# Every center of a search is asked at once, one thread each, up to this many.
# A portal with more centers than this asks the rest as the first ones answer
# (or time out); each of those still gets its full timeout, counted from the
# moment its own call starts, so the search lasts at most about
# ceil(centers / MAX_PARALLEL_CENTERS) timeouts. The bound keeps one request
# from starting hundreds of threads and sockets.
MAX_PARALLEL_CENTERS = 64


@dataclass(frozen=True)
class Center:
    center_lid: str | None  # None: the instance's own, single center
    name: str | None
    via: Instance


@dataclass(frozen=True)
class AvailabilityQuery:
    activity_lid: str | None = None
    start_day: dt.date | None = None
    end_day: dt.date | None = None
    min_time: dt.time | None = None
    max_time: dt.time | None = None
    resource_lid: str | None = None
    insurance_lid: str | None = None
    max_results: int = 20


@dataclass(frozen=True)
class CenterError:
    center_lid: str | None
    code: str
    message: str


@dataclass
class PortalSearch:
    availabilities: list[Availability] = field(default_factory=list)
    errors: list[CenterError] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.errors)


def add_center(
    store: Store, portal_name: str, center_lid: str, *, via: str, name: str | None = None
) -> None:
    portal = get_instance(store, portal_name)
    through = get_instance(store, via)
    clinic_sync.integration(store, through)  # must be reachable
    with store.begin(write=True) as uow:
        uow.portals.put(portal.id, center_lid, name, through.id)
        uow.commit()


def sync_centers(store: Store, portal_name: str, *, build: ClientBuilder) -> list[str]:
    """Take the centers from the portal's own web services (getCenters)."""
    portal = get_instance(store, portal_name)
    client = build(clinic_sync.endpoint_of(clinic_sync.integration(store, portal)))
    centers = client.get_centers()
    with store.begin(write=True) as uow:
        for center in centers:
            uow.portals.put(portal.id, center.center_lid, center.name, portal.id)
        uow.commit()
    return [center.center_lid for center in centers]


def centers(store: Store, portal_name: str) -> list[Center]:
    portal = get_instance(store, portal_name)
    with store.begin() as uow:
        rows = uow.portals.center_records(portal.id)
    if not rows:
        return [Center(None, portal.name, portal)]
    return [
        Center(row.center_lid, row.name, get_instance(store, row.via_instance_name)) for row in rows
    ]


def remove_center(store: Store, portal_name: str, center_lid: str) -> None:
    """Take a center off a portal; its clinic integration stays."""
    portal = get_instance(store, portal_name)
    with store.begin(write=True) as uow:
        removed = uow.portals.remove(portal.id, center_lid)
        uow.commit()
    if not removed:
        raise NotFoundError(f"{portal_name} has no center {center_lid}", field="center")


def _center(store: Store, portal_name: str, center_lid: str | None) -> Center:
    known = centers(store, portal_name)
    if len(known) == 1 and (center_lid is None or known[0].center_lid is None):
        return known[0]  # a plain instance: its one integration owns every slot
    for center in known:
        if center.center_lid == center_lid:
            return center
    raise NotFoundError(f"{portal_name} has no center {center_lid}", field="center")


def search(
    store: Store,
    portal_name: str,
    query: AvailabilityQuery,
    *,
    build: ClientBuilder,
    per_center_timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> PortalSearch:
    targets = centers(store, portal_name)
    endpoints = {
        index: clinic_sync.endpoint_of(
            clinic_sync.integration(store, center.via), timeout=per_center_timeout
        )
        for index, center in enumerate(targets)
    }

    def one(index: int) -> list[Availability]:
        center = targets[index]
        client = build(endpoints[index])
        found = client.search_availabilities(
            query.activity_lid,
            start_day=query.start_day,
            end_day=query.end_day,
            min_time=query.min_time,
            max_time=query.max_time,
            max_results=query.max_results,
            resource_lid=query.resource_lid,
            insurance_lid=query.insurance_lid,
            center_lid=center.center_lid,
        )
        # Remember which center owns each slot, so a booking goes back there.
        return [replace(a, center_lid=a.center_lid or center.center_lid) for a in found]

    result = PortalSearch()
    # When each call started (monotonic): a center's timeout runs from there, not
    # from submission, so a center that waited for a free thread loses nothing.
    started: dict[int, float] = {}

    def timed(index: int) -> list[Availability]:
        started[index] = time.monotonic()
        return one(index)

    pool = ThreadPoolExecutor(
        max_workers=max(1, min(MAX_PARALLEL_CENTERS, len(targets))), thread_name_prefix="portal"
    )
    try:
        futures = {pool.submit(timed, index): index for index in range(len(targets))}
        done, late = _collect(futures, started, per_center_timeout)
        for future in late:
            center = targets[futures[future]]
            result.errors.append(
                CenterError(
                    center.center_lid,
                    "Server.ClinicTimeout",
                    f"no answer within {per_center_timeout:g} s",
                )
            )
        for future in done:
            center = targets[futures[future]]
            try:
                result.availabilities.extend(future.result())
            except ClinicError as exc:
                result.errors.append(CenterError(center.center_lid, exc.code, exc.message))
    finally:
        # Do not wait for slow centers: their threads end with their own timeout.
        pool.shutdown(wait=False, cancel_futures=True)
    result.availabilities.sort(key=lambda a: (a.date, a.start, a.center_lid or "", a.resource_lid))
    result.availabilities = result.availabilities[: query.max_results]
    result.errors.sort(key=lambda e: e.center_lid or "")
    return result


def _collect(
    futures: dict[Future[list[Availability]], int],
    started: dict[int, float],
    timeout: float,
) -> tuple[set[Future[list[Availability]]], set[Future[list[Availability]]]]:
    """Wait for every call until it answers or its own timeout (from its start)
    runs out; return (answered, late). A call that has not started yet waits
    for a free thread, which the running calls' own timeouts guarantee."""
    pending = set(futures)
    done: set[Future[list[Availability]]] = set()
    late: set[Future[list[Availability]]] = set()
    while pending:
        now = time.monotonic()
        deadlines = [started[futures[f]] + timeout for f in pending if futures[f] in started]
        horizon = min(deadlines) - now if deadlines else timeout
        finished, pending = wait(pending, timeout=max(0.0, horizon), return_when=FIRST_COMPLETED)
        done |= finished
        now = time.monotonic()
        for future in list(pending):
            index = futures[future]
            if future.done():
                pending.discard(future)
                done.add(future)
            elif index in started and now >= started[index] + timeout:
                pending.discard(future)
                late.add(future)
    return done, late


def book(
    store: Store,
    portal_name: str,
    slot: Availability,
    patient: PatientData,
    app_tid: str,
    *,
    build: ClientBuilder,
) -> BookingResult:
    """Forward a booking to the center that owns the slot."""
    center = _center(store, portal_name, slot.center_lid)
    client = build(clinic_sync.endpoint_of(clinic_sync.integration(store, center.via)))
    return client.add_appointment(slot, patient, app_tid, center_lid=center.center_lid)


def delete(
    store: Store, portal_name: str, center_lid: str | None, app_lid: str, *, build: ClientBuilder
) -> DeleteResult:
    """Cancel an appointment at the center that owns it, and record at once, in
    the instance its appointments are polled into, that we cancelled it
    (``CANCELLED by ADMIN``, STATUS_CHANGED_BY ``PLATFORM``): getReservations
    shows it now, and the next poll, which reads the same cancellation back,
    leaves it as it is."""
    center = _center(store, portal_name, center_lid)
    client = build(clinic_sync.endpoint_of(clinic_sync.integration(store, center.via)))
    result = client.delete_appointment(app_lid, center_lid=center.center_lid)
    if result.ok:
        _record_cancellation(store, center, client, app_lid)
    return result


def _record_cancellation(
    store: Store, center: Center, client: ZeepClinicClient, app_lid: str
) -> None:
    if clinic_sync.record_cancellation(store, center.via, app_lid, by=ChangedBy.PLATFORM):
        return
    # Not known here yet (booked through the portal, not polled since): take it
    # from the clinic now, or the next poll would bring it in as the clinic's.
    try:
        found = client.check_appointment(app_lid, center_lid=center.center_lid)
    except ClinicError as exc:
        # The cancellation itself succeeded; the next poll brings the appointment in.
        log.warning("cancelled appointment not read back from %s: %s", center.via.name, exc.code)
        return
    if found is not None:
        clinic_sync.store_cancelled(store, center.via, found, by=ChangedBy.PLATFORM)
