"""Instances integrated through the clinic's own web services (guide A.4, B.2.1.2).

``configure`` stores how to reach the clinic; ``poll_due`` runs the scheduled
work of every due instance: SearchAppointments since the last successful poll,
pushed through the same use case as updateReservations (so getReservations
and reminders see the appointments), and KeyEntities once a day.

A poll holds a lease row per instance, so any number of ``tuotempo-soap poll``
processes can run: one polls an instance at a time. A clinic that is down
leaves ``last_success_at`` where it was: the next successful poll asks again
from there, so no change made during the outage is lost. Failed polls back
off exponentially.

``process_callbacks`` tells clinics of their patients' cancellations
(CancelAppointment, A.4.2), queued by ``services.answers``, with retries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..clinic import (
    ClinicAuthenticationError,
    ClinicEndpoint,
    ClinicError,
    ZeepClinicClient,
    build_clinic_client,
)
from ..domain.clinic import Appointment, ClinicAppointmentStatus, KeyEntity
from ..domain.formats import format_date, format_time
from ..domain.reservation import ChangedBy, Status
from ..errors import ConflictError, NotFoundError, RequestValidationError
from ..observability import metrics
from ..store.records import InstanceIntegration, IntegrationRecord
from . import reservations
from .instances import Instance, get_instance, get_instance_by_id, utcnow
from .unit_of_work import Store

log = logging.getLogger(__name__)

ClientBuilder = Callable[[ClinicEndpoint], ZeepClinicClient]

# Re-read this much before the last successful poll: clocks of clinic servers
# drift, and re-reading is free (unchanged appointments are answered UNCHANGED).
OVERLAP = timedelta(minutes=5)
LEASE = timedelta(minutes=10)
KEY_ENTITIES_EVERY = timedelta(hours=24)
MAX_BACKOFF = timedelta(hours=1)
MAX_CALLBACK_ATTEMPTS = 10


def configure(
    store: Store,
    instance_name: str,
    *,
    wsdl_url: str,
    endpoint_url: str | None = None,
    username: str | None = None,
    password_env: str | None = None,
    center_lid: str | None = None,
    timeout_seconds: int = 10,
    poll_interval_seconds: int = 300,
    poll_enabled: bool = True,
) -> None:
    if not wsdl_url.startswith(("http://", "https://", "file://", "/")):
        raise RequestValidationError("the WSDL must be an http(s) URL or a file", field="wsdl")
    if username and not password_env:
        raise RequestValidationError(
            "name the environment variable that holds the password (--password-env)",
            field="password-env",
        )
    instance = get_instance(store, instance_name)
    with store.begin(write=True) as uow:
        uow.integrations.save(
            instance.id,
            {
                "wsdl_url": wsdl_url,
                "endpoint_url": endpoint_url,
                "username": username,
                "password_env": password_env,
                "center_lid": center_lid,
                "timeout_seconds": timeout_seconds,
                "poll_interval_seconds": poll_interval_seconds,
                "poll_enabled": poll_enabled,
                "next_poll_at": None,
                "consecutive_failures": 0,
                "updated_at": utcnow(),
            },
        )
        uow.commit()


def remove(store: Store, instance_name: str) -> None:
    """Forget how the instance reaches its clinic's web services, with the key
    entities read from them; its reservations stay. The instance's own portal
    centers reached through it go too. Refused while another portal reaches
    centers through it."""
    instance = get_instance(store, instance_name)
    with store.begin(write=True) as uow:
        routed = uow.portals.routed_through(instance.id)
        if routed:
            steps = "; ".join(
                f"tuotempo-soap portal remove-center {portal} {center}" for portal, center in routed
            )
            raise ConflictError(
                f"other portals reach centers through {instance_name}; remove them first: {steps}",
                field="instance",
            )
        if not uow.integrations.remove(instance.id):
            raise NotFoundError(
                f"{instance_name} has no clinic web services configured", field="instance"
            )
        uow.portals.remove_routed_through_itself(instance.id)
        uow.commit()


def integration(store: Store, instance: Instance) -> IntegrationRecord:
    with store.begin() as uow:
        row = uow.integrations.get(instance.id)
    if row is None:
        raise NotFoundError(
            f"{instance.name} has no clinic web services configured (tuotempo-soap clinic set ...)",
            field="instance",
        )
    return row


def endpoint_of(
    row: IntegrationRecord, env: Mapping[str, str] | None = None, *, timeout: float | None = None
) -> ClinicEndpoint:
    env = os.environ if env is None else env
    password = env.get(row.password_env) if row.password_env else None
    if row.password_env and not password:
        # Said before any call: the clinic's refusal would not name the variable.
        raise ClinicAuthenticationError(
            f"{row.password_env} is not set: export the clinic password it names "
            "in the environment of this process (clinic set --password-env chose the name)"
        )
    return ClinicEndpoint(
        wsdl_url=row.wsdl_url,
        endpoint_url=row.endpoint_url,
        username=row.username,
        password=password,
        center_lid=row.center_lid,
        timeout_seconds=float(timeout or row.timeout_seconds),
    )


@dataclass
class PollOutcome:
    instance: str
    ok: bool
    appointments: int = 0
    stored: int = 0
    entities: int | None = None
    skipped: bool = False  # another poller holds the lease
    error: str | None = None


def poll_due(
    store: Store,
    *,
    owner: str,
    build: ClientBuilder = build_clinic_client,
    now: datetime | None = None,
    max_items: int = 1000,
    only: str | None = None,
) -> list[PollOutcome]:
    """Poll every instance that is due (or just ``only``, due or not)."""
    now = now or utcnow()
    with store.begin() as uow:
        rows = uow.integrations.due(now if only is None else datetime.max)
    outcomes = []
    for row in rows:
        if only is not None and row.instance_name != only:
            continue
        if row.instance_disabled_at is not None:
            # Switched off by an operator: nothing is read from its clinic or
            # stored until it is enabled (its schedule resumes then).
            if only is not None:
                outcomes.append(
                    PollOutcome(
                        instance=row.instance_name,
                        ok=False,
                        error="the instance is disabled; enable it to poll its clinic",
                    )
                )
            continue
        outcomes.append(_poll(store, row, owner=owner, build=build, now=now, max_items=max_items))
    return outcomes


def _poll(
    store: Store,
    due: InstanceIntegration,
    *,
    owner: str,
    build: ClientBuilder,
    now: datetime,
    max_items: int,
) -> PollOutcome:
    name, row = due.instance_name, due.integration
    instance = get_instance(store, name)
    with store.begin(write=True) as uow:
        acquired = uow.integrations.acquire(instance.id, owner, now, now + LEASE)
        uow.commit()
    if not acquired:
        metrics.count_poll(name, "skipped")
        return PollOutcome(name, ok=True, skipped=True)
    outcome = PollOutcome(name, ok=False)
    values: dict[str, Any] = {"updated_at": now}
    try:
        client = build(endpoint_of(row))
        since = row.last_success_at
        appointments = client.search_appointments(
            changed_since=(since - OVERLAP).replace(tzinfo=UTC) if since else None,
            center_lid=row.center_lid,
        )
        outcome.appointments = len(appointments)
        outcome.stored = _store_appointments(store, instance, appointments, max_items)
        if row.key_entities_at is None or now - row.key_entities_at >= KEY_ENTITIES_EVERY:
            entities = client.key_entities(center_lid=row.center_lid)
            _store_entities(store, instance, entities)
            outcome.entities = len(entities)
            values["key_entities_at"] = now
        values.update(
            last_success_at=now,
            consecutive_failures=0,
            last_error=None,
            next_poll_at=now + timedelta(seconds=row.poll_interval_seconds),
        )
        outcome.ok = True
    except ClinicError as exc:
        failures = row.consecutive_failures + 1
        delay = min(MAX_BACKOFF, timedelta(seconds=row.poll_interval_seconds) * 2 ** (failures - 1))
        values.update(
            consecutive_failures=failures,
            last_error=exc.message[:1000],
            next_poll_at=now + min(delay, MAX_BACKOFF),
        )
        outcome.error = exc.message
        log.warning("poll of %s failed (%s); next try in %s", name, exc.code, delay)
    finally:
        metrics.count_poll(name, "ok" if outcome.ok else "failed")
        with store.begin(write=True) as uow:
            uow.integrations.finish(instance.id, owner, values)
            uow.commit()
    return outcome


_CLINIC_STATUS = {
    ClinicAppointmentStatus.CONFIRMED: Status.APPROVED.value,
    # Cancelled at the clinic (desk, phone): the clinic's side, not the patient's.
    ClinicAppointmentStatus.CANCELLED: Status.CANCELLED_BY_ADMIN.value,
}


_CANCELLED = frozenset({Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value})


def _resource_name(appointment: Appointment) -> str | None:
    parts = [p for p in (appointment.resource_first_name, appointment.resource_second_name) if p]
    return " ".join(parts)[:50] or None


def reservation_item(appointment: Appointment) -> dict[str, object]:
    """A clinic appointment as the reservation the HIS would have pushed."""
    return {
        "APP_LID": appointment.app_lid,
        "APP_TID": appointment.app_tid,
        "APP_DATE": format_date(appointment.date),
        "APP_START_TIME": format_time(appointment.start),
        "APP_END_TIME": format_time(appointment.end) if appointment.end else None,
        "USER_LID": appointment.user_lid,
        "USER_TID": appointment.user_tid,
        "USER_MOBILE_PHONE": appointment.mobile_phone,
        "USER_EMAIL": appointment.email,
        "INSURANCE_LID": appointment.insurance_lid,
        "ACTIVITY_LID": appointment.activity_lid,
        "RESOURCE_LID": appointment.resource_lid,
        "RESOURCE_NAME": _resource_name(appointment),
        "LOCATION_LID": appointment.location_lid,
        "LOCATION_NAME": appointment.location_name,
        "STATUS": _CLINIC_STATUS[appointment.status],
    }


def _store_appointments(
    store: Store, instance: Instance, appointments: list[Appointment], max_items: int
) -> int:
    stored = 0
    items = [reservation_item(a) for a in appointments]
    for start in range(0, len(items), max_items):
        page = items[start : start + max_items]
        _keep_known_cancellations(store, instance, page)
        batch = reservations.update_reservations(store, instance, page, max_items=max_items)
        stored += sum(1 for item in batch.items if item.ok)
        for item in batch.items:
            if item.error is not None:
                log.warning(
                    "clinic appointment %s of %s refused: %s",
                    item.app_lid,
                    instance.name,
                    item.error.code,
                )
    return stored


def _keep_known_cancellations(
    store: Store, instance: Instance, items: list[dict[str, object]]
) -> None:
    """A clinic's ``Cancelled`` for an appointment already cancelled here is that
    same cancellation coming back (a patient's answer forwarded with
    CancelAppointment, or a deleteAppointment sent through the portal): keep the
    STATUS we hold, so who cancelled it (STATUS_CHANGED_BY) and the patient's
    answer stay as they are instead of turning into the clinic's own.

    Read just before the batch is written; a patient answering in between still
    gets the clinic's word written over their answer, as before this check.
    """
    lids = [str(i["APP_LID"]) for i in items if i["STATUS"] == Status.CANCELLED_BY_ADMIN.value]
    if not lids:
        return
    with store.begin() as uow:
        known = uow.reservations.by_app_lids(instance.id, lids)
    for item in items:
        row = known.get(str(item["APP_LID"]))
        if row is not None and item["STATUS"] in _CANCELLED and row.status in _CANCELLED:
            item["STATUS"] = row.status


def record_cancellation(
    store: Store,
    instance: Instance,
    app_lid: str,
    *,
    by: ChangedBy,
    now: datetime | None = None,
    ours: bool = False,
) -> bool:
    """Record at once that ``by`` had the clinic cancel APP_LID: ``CANCELLED by
    ADMIN`` (what the next poll reads for it, so the poll leaves it alone) as a
    new change, so getReservations deltas show it now.

    A cancellation already recorded stands (the first one is final, as for
    patients' answers), unless ``ours``: the row was stored from this very
    cancellation. False when the reservation is not known here.
    """
    now = now or utcnow()
    with store.begin(write=True) as uow:
        seq = uow.instances.lock_for_changes(instance.id)
        row = uow.reservations.by_app_lids(instance.id, [app_lid]).get(app_lid)
        if row is None:
            return False
        admin = Status.CANCELLED_BY_ADMIN.value
        if row.status in _CANCELLED and not (ours and row.status == admin):
            return True
        seq += 1
        values = {
            "row_id": row.id,
            "status": admin,
            "status_changed_by": by.value,
            "status_changed_at": now,
            "updated_at": now,
            "change_seq": seq,
        }
        uow.reservations.update_many([values])
        uow.changes.record(instance.id, [values], at=now, by=by.value)
        uow.instances.advance_seq(instance.id, seq)
        uow.commit()
    return True


def store_cancelled(
    store: Store, instance: Instance, appointment: Appointment, *, by: ChangedBy
) -> None:
    """Store an appointment we have just had the clinic cancel, as cancelled by ``by``."""
    item = {**reservation_item(appointment), "STATUS": Status.CANCELLED_BY_ADMIN.value}
    now = utcnow()
    batch = reservations.update_reservations(store, instance, [item], max_items=1, now=now)
    if batch.items[0].error is not None:
        log.warning(
            "a cancelled appointment of %s was refused: %s",
            instance.name,
            batch.items[0].error.code,
        )
        return
    record_cancellation(store, instance, appointment.app_lid, by=by, now=now, ours=True)


def _store_entities(store: Store, instance: Instance, entities: list[KeyEntity]) -> None:
    resources: dict[str, dict[str, Any]] = {}
    activities: dict[str, dict[str, Any]] = {}
    insurances: dict[str, dict[str, Any]] = {}
    locations: dict[str, dict[str, Any]] = {}
    relations = []
    for e in entities:
        resources[e.resource_lid] = {
            "resource_lid": e.resource_lid,
            "first_name": e.resource_first_name,
            "second_name": e.resource_second_name,
        }
        activities[e.activity_lid] = {
            "activity_lid": e.activity_lid,
            "name": e.activity_name,
            "group_lid": e.activity_group_lid,
            "group_name": e.activity_group_name,
            "duration_minutes": e.duration_minutes,
        }
        if e.insurance_lid:
            insurances[e.insurance_lid] = {
                "insurance_lid": e.insurance_lid,
                "name": e.insurance_name,
            }
        if e.location_lid:
            locations[e.location_lid] = {"location_lid": e.location_lid, "name": e.location_name}
        relations.append(
            {
                "resource_lid": e.resource_lid,
                "activity_lid": e.activity_lid,
                "insurance_lid": e.insurance_lid,
                "location_lid": e.location_lid,
                "price": e.price,
                "duration_minutes": e.duration_minutes,
            }
        )
    with store.begin(write=True) as uow:
        uow.entities.replace(
            instance.id,
            {
                "resources": list(resources.values()),
                "activities": list(activities.values()),
                "insurances": list(insurances.values()),
                "locations": list(locations.values()),
                "relations": relations,
            },
        )
        uow.commit()


def entity_counts(store: Store, instance: Instance) -> dict[str, int]:
    with store.begin() as uow:
        return uow.entities.counts(instance.id)


# --- the clinic told of patients' cancellations (queued by services.answers) ---


@dataclass
class CallbackOutcome:
    done: int = 0
    retried: int = 0
    failed: int = 0


def process_callbacks(
    store: Store, *, build: ClientBuilder, now: datetime | None = None, limit: int = 50
) -> CallbackOutcome:
    """Call CancelAppointment for due callbacks; retry with backoff, then FAILED."""
    now = now or utcnow()
    outcome = CallbackOutcome()
    with store.begin() as uow:
        due = uow.callbacks.due(now, limit)
    for callback in due:
        instance = get_instance_by_id(store, callback.instance_id)
        attempts = callback.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "updated_at": now}
        try:
            row = integration(store, instance)
            client = build(endpoint_of(row))
            result = client.cancel_appointment(
                callback.app_lid, callback.user_lid or "", center_lid=row.center_lid
            )
            if result.ok or result.already_done:
                values.update(status="DONE", last_error=None)
                outcome.done += 1
            else:
                raise ClinicError(result.error_message or "the clinic refused the cancellation")
        except ClinicError as exc:
            values["last_error"] = exc.message[:1000]
            if attempts >= MAX_CALLBACK_ATTEMPTS:
                values["status"] = "FAILED"
                outcome.failed += 1
            else:
                values["next_attempt_at"] = now + timedelta(
                    seconds=min(3600, 30 * 2 ** (attempts - 1))
                )
                outcome.retried += 1
        with store.begin(write=True) as uow:
            uow.callbacks.record(callback.id, values)
            uow.events.add(
                [
                    {
                        "instance_id": instance.id,
                        "reservation_id": callback.reservation_id,
                        "reminder_id": None,
                        "event": "CLINIC_CANCEL",
                        "detail": f"CancelAppointment: {values.get('status', 'retry')}"
                        + (f" ({values['last_error']})" if values.get("last_error") else ""),
                        "at": now,
                    }
                ]
            )
            uow.commit()
    return outcome
