"""Automatic reminders: rules per instance, planning from reservation changes,
and handing due reminders to the outbox.

The planner follows each instance's reservation change sequence (the same one
getReservations deltas use), so every way a reservation arrives or changes
(updateReservations, the clinic poller, a patient's answer) re-plans it without
those paths knowing about reminders. Planned reminders wait in ``reminders``
until due; then their text is composed from the reservation as it is at that
moment and queued in the outbox under the legacy id ``rem-<id>`` (idempotent:
a reminder is never queued twice). Every decision is written to
``reminder_events`` so an operator can see why something was or was not sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from ..domain.formats import parse_time
from ..domain.message import Channel
from ..domain.reminders.planning import (
    AppointmentView,
    PlannedReminder,
    ReminderState,
    changed_fields,
    compose_message,
    make_plan,
    plan_notice,
    superseded_by,
)
from ..domain.reminders.rules import ReminderRules, RulesError
from ..domain.reservation import Status
from ..errors import NotFoundError, RequestValidationError
from ..observability import metrics
from ..store.records import (
    ReminderEventRecord,
    ReminderRecord,
    ReservationQuery,
    ReservationRecord,
    ids_of,
    ids_text,
)
from . import messages
from .instances import Instance, get_instance, get_instance_by_id, utcnow
from .links import LinkSigner
from .unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)

PAGE = 500


def get_rules(store: Store, instance: Instance) -> ReminderRules | None:
    with store.begin() as uow:
        settings = uow.reminder_settings.get(instance.id)
    return ReminderRules.from_dict(json.loads(settings.rules_json)) if settings else None


def set_rules(store: Store, instance_name: str, data: Mapping[str, Any]) -> ReminderRules:
    """Validate and store an instance's rules (this turns reminders on for it)."""
    instance = get_instance(store, instance_name)
    try:
        rules = ReminderRules.from_dict(dict(data))
    except RulesError as exc:
        raise RequestValidationError(str(exc), field="rules") from None
    with store.begin(write=True) as uow:
        uow.reminder_settings.save(
            instance.id, json.dumps(rules.to_dict(), sort_keys=True), utcnow()
        )
        uow.commit()
    return rules


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _snapshot(row: ReservationRecord) -> str:
    return json.dumps(
        {
            "day": row.app_date.isoformat() if row.app_date else None,
            "start": row.app_start_time,
            "resource": row.resource_lid,
            "location": row.location_lid,
        }
    )


def _view(row: ReservationRecord) -> AppointmentView:
    return AppointmentView.from_record(row.id, row.columns())


def _event(
    instance_id: int, event: str, detail: str, now: datetime, **ids: int | None
) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "reservation_id": ids.get("reservation_id"),
        "reminder_id": ids.get("reminder_id"),
        "event": event,
        "detail": detail[:1000],
        "at": now,
    }


@dataclass
class PlanningOutcome:
    instances: int = 0
    reservations: int = 0
    planned: int = 0
    cancelled: int = 0


def plan_changes(store: Store, *, now: datetime | None = None) -> PlanningOutcome:
    """Re-plan every reservation that changed since the planner last looked."""
    now = now or utcnow()
    outcome = PlanningOutcome()
    with store.begin() as uow:
        every_settings = uow.reminder_settings.all()
    for settings in every_settings:
        instance = get_instance_by_id(store, settings.instance_id)
        rules = ReminderRules.from_dict(json.loads(settings.rules_json))
        outcome.instances += 1
        while True:
            with store.begin(write=True) as uow:
                # Where to start is read under the lock, page by page: another
                # worker may have planned these changes since we listed the rules.
                after = uow.reminder_settings.lock_for_planning(instance.id)
                snapshot = uow.instances.current_seq(instance.id)
                changed = uow.reservations.query(
                    ReservationQuery(instance.id, after_seq=after, upto_seq=snapshot, limit=PAGE)
                )
                planned, cancelled = _replan(uow, instance, rules, changed, now)
                outcome.planned += planned
                outcome.cancelled += cancelled
                outcome.reservations += len(changed)
                after = changed[-1].change_seq if len(changed) == PAGE else snapshot
                uow.reminder_settings.advance(instance.id, after)
                uow.commit()
            if len(changed) < PAGE:
                break
    metrics.count_reminders_planned(outcome.planned, outcome.cancelled)
    return outcome


def _patient_day(row: ReservationRecord) -> tuple[date, str]:
    """The group a reservation's reminder belongs to: its patient's day (or itself)."""
    return row.app_date, _view(row).patient_key or f"reservation:{row.id}"


def _replan(
    uow: UnitOfWork,
    instance: Instance,
    rules: ReminderRules,
    changed: Sequence[ReservationRecord],
    now: datetime,
) -> tuple[int, int]:
    """Plan again the patient-days touched by a page of changed reservations.

    Whole pages at a time, in a handful of statements: the reservations of the
    days concerned, the reminders linked to them, one insert of new reminders.
    A reservation that moved also re-plans the day it left (its old reminder
    may cover the patient's other appointments there).
    """
    repo = uow.reminders
    changed_ids = {r.id for r in changed}
    before = repo.for_reservations(instance.id, changed_ids)
    co_members = {
        rid for rows in before.values() for r in rows for rid in ids_of(r.reservation_ids)
    } - changed_ids
    affected = list(changed) + uow.reservations.by_ids(instance.id, co_members)
    groups: dict[tuple[date, str], list[ReservationRecord]] = {
        _patient_day(r): [] for r in affected
    }
    for row in uow.reservations.on_days(instance.id, {day for day, _ in groups}):
        if _patient_day(row) in groups:
            groups[_patient_day(row)].append(row)
    members = {r.id: r for rows in groups.values() for r in rows}
    linked = repo.for_reservations(instance.id, members)
    existing = {r.id: r for rows in linked.values() for r in rows}
    # "Booked" is when the planner first saw it: a reservation it meets only now
    # (a late booking, or a worker that was down) gets a reminder as soon as
    # allowed instead of none, if the appointment is still ahead.
    booked = {rid: _aware(row.created_at if linked[rid] else now) for rid, row in members.items()}
    wanted: dict[str, PlannedReminder] = {}
    group_of: dict[str, list[ReservationRecord]] = {}
    events: list[dict[str, Any]] = []
    for rows in groups.values():
        plan = make_plan(
            [_view(r) for r in rows],
            rules,
            instance.zone,
            _aware(now),
            {r.id: booked[r.id] for r in rows},
            default_language=instance.language,
        )
        for planned in plan.reminders:
            wanted[planned.key] = planned
            group_of[planned.key] = rows
        events += [
            _event(instance.id, "SKIPPED", skip.reason, now, reservation_id=skip.reservation_id)
            for skip in plan.skipped
            if skip.reservation_id in changed_ids
        ]
    active = {rid for rid, r in members.items() if not _view(r).cancelled}
    # A reminder already due but not yet queued is not in the new plan (planning
    # never plans the past): keep it unless none of its appointments is active.
    stale = [
        r
        for r in existing.values()
        if r.status == "PLANNED"
        and r.key not in wanted
        and (r.due_at > now or not active & set(ids_of(r.reservation_ids)))
    ]
    repo.cancel_planned([r.id for r in stale], "re-planned after a change", now)
    events += [
        _event(
            instance.id,
            "CANCELLED",
            f"{r.kind} no longer planned",
            now,
            reservation_id=rid,
            reminder_id=r.id,
        )
        for r in stale
        for rid in ids_of(r.reservation_ids)
    ]
    present = repo.by_keys(instance.id, wanted)
    new_rows = []
    moved = []
    for key, planned in wanted.items():
        old = present.get(key)
        if old is None:
            new_rows.append(_row(instance, planned, group_of[key], now))
        elif old.status == "PLANNED" and (
            _naive(planned.due_at) != old.due_at
            or planned.recipient != old.recipient
            or ids_text(planned.reservation_ids) != old.reservation_ids
        ):
            moved.append(
                {
                    "row_id": old.id,
                    "due_at": _naive(planned.due_at),
                    "channel": planned.channel.value,
                    "recipient": planned.recipient,
                    "language": planned.language,
                    "reservation_ids": ids_text(planned.reservation_ids),
                    "updated_at": now,
                }
            )
    repo.replan_many(moved)
    notices = [
        (row, notice, previous)
        for row in changed
        for notice, previous in _notices(
            instance, rules, row, _view(row), before.get(row.id, []), now
        )
    ]
    new_rows += [_row(instance, n, [row], now, previous=prev) for row, n, prev in notices]
    repo.add(new_rows)
    events += [
        _event(
            instance.id,
            "PLANNED",
            f"{r['kind']} via {r['channel']} at {r['due_at']:%d/%m/%Y %H:%M} UTC",
            now,
            reservation_id=rid,
        )
        for r in new_rows
        for rid in ids_of(r["reservation_ids"])
        if rid in changed_ids
    ]
    uow.events.add(events)
    return len(new_rows), len(stale)


def _notices(
    instance: Instance,
    rules: ReminderRules,
    row: ReservationRecord,
    view: AppointmentView,
    existing: Sequence[ReminderRecord],
    now: datetime,
) -> list[tuple[PlannedReminder, dict[str, Any] | None]]:
    """A change notice when a reminder already told the patient something else
    (with what it told them); a cancellation notice when the clinic cancelled
    (if the instance wants it)."""
    sent = [r for r in existing if r.status == "QUEUED" and r.kind in ("reminder", "change")]
    out: list[tuple[PlannedReminder, dict[str, Any] | None]] = []
    if row.status == Status.CANCELLED_BY_ADMIN.value and sent:
        notice = plan_notice(
            "cancellation",
            view,
            rules,
            instance.zone,
            _aware(now),
            version=row.change_seq,
            default_language=instance.language,
        )
        if isinstance(notice, PlannedReminder):
            out.append((notice, None))
    elif sent and not view.cancelled:
        latest = max(sent, key=lambda r: r.id)
        before = json.loads(latest.snapshot or "{}")
        if changed_fields(before, json.loads(_snapshot(row))):
            notice = plan_notice(
                "change",
                view,
                rules,
                instance.zone,
                _aware(now),
                version=row.change_seq,
                default_language=instance.language,
            )
            if isinstance(notice, PlannedReminder):
                before.pop("previous", None)
                out.append((notice, before))
    return out


def _row(
    instance: Instance,
    planned: PlannedReminder,
    group: Sequence[ReservationRecord],
    now: datetime,
    *,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    first = next((r for r in group if r.id in planned.reservation_ids), group[0])
    snapshot = json.loads(_snapshot(first))
    if previous is not None:
        snapshot["previous"] = previous  # what the patient was told before: for the text
    return {
        "instance_id": instance.id,
        "key": planned.key,
        "kind": planned.kind,
        "reservation_ids": ids_text(planned.reservation_ids),
        "day": planned.day,
        "offset_hours": planned.offset_hours,
        "due_at": _naive(planned.due_at),
        "channel": planned.channel.value,
        "recipient": planned.recipient,
        "language": planned.language,
        "status": "PLANNED",
        "snapshot": json.dumps(snapshot),
        "created_at": now,
        "updated_at": now,
    }


# --- due reminders to the outbox ---------------------------------------------


def queue_due(
    store: Store,
    *,
    signer: LinkSigner,
    public_url: str | None,
    now: datetime | None = None,
    limit: int = 200,
) -> int:
    """Compose and queue every planned communication that is due."""
    now = now or utcnow()
    with store.begin() as uow:
        due = uow.reminders.due(now, limit)
    queued = 0
    for reminder in due:
        instance = get_instance_by_id(store, reminder.instance_id)
        rules = get_rules(store, instance) or ReminderRules()
        queued += _queue_one(store, instance, rules, reminder, signer, public_url, now)
    metrics.count_reminders_sent(queued, len(due) - queued)
    return queued


def _queue_one(
    store: Store,
    instance: Instance,
    rules: ReminderRules,
    reminder: ReminderRecord,
    signer: LinkSigner,
    public_url: str | None,
    now: datetime,
) -> int:
    ids = ids_of(reminder.reservation_ids)
    with store.begin() as uow:
        rows = uow.reservations.by_ids(instance.id, ids)
        # Read now, not when the batch was listed: another worker may have
        # queued a later reminder of the same patient-day meanwhile.
        linked = uow.reminders.for_reservations(instance.id, ids)
    views = [_view(r) for r in rows]
    kind = reminder.kind
    live = [v for v in views if not v.cancelled] if kind != "cancellation" else views
    siblings = {r.id: _state(r) for found in linked.values() for r in found}
    later = superseded_by(_state(reminder), siblings.values(), now)
    reason = None
    if later is not None:
        reason = f"superseded by the {later.offset_hours}h reminder, due as well"
    elif not live:
        reason = "the appointment was cancelled"
    elif kind in ("reminder", "change") and all(
        datetime.combine(v.day, v.start or datetime.min.time()).replace(tzinfo=instance.zone)
        <= _aware(now)
        for v in live
    ):
        reason = "the appointment is past"
    if reason is not None:
        _finish(store, instance, reminder, now, status="SKIPPED", reason=reason)
        return 0
    confirm_url = cancel_url = None
    if reminder.channel == Channel.EMAIL.value and public_url and rules.ask_confirmation:
        confirm_url = f"{public_url}/answer/{signer.token(reminder.id, 'confirm')}"
        cancel_url = f"{public_url}/answer/{signer.token(reminder.id, 'cancel')}"
    previous = None
    earlier = json.loads(reminder.snapshot or "{}").get("previous")
    if kind == "change" and earlier and earlier.get("day"):
        previous = replace(
            live[0],
            day=date.fromisoformat(earlier["day"]),
            start=parse_time(earlier["start"]) if earlier.get("start") else None,
        )
    composed = compose_message(
        kind,
        live,
        rules,
        channel=reminder.channel,
        language=reminder.language or instance.language,
        confirm_url=confirm_url,
        cancel_url=cancel_url,
        previous=previous,
    )
    outcome = messages.update_messages(
        store,
        instance,
        [
            {
                "LEGACY_ID": f"rem-{reminder.id}",
                "CHANNEL": reminder.channel,
                "TO": reminder.recipient,
                "SUBJECT": composed.subject,
                "TEXT": composed.body,
                "LANGUAGE": reminder.language,
            }
        ],
        max_items=1,
        now=now,
    ).items[0]
    if outcome.error is not None:
        _finish(store, instance, reminder, now, status="SKIPPED", reason=outcome.error.message)
        return 0
    _finish(store, instance, reminder, now, status="QUEUED", message_id=outcome.message_id)
    return 1


def _state(row: ReminderRecord) -> ReminderState:
    return ReminderState(
        key=row.key,
        kind=row.kind,
        offset_hours=row.offset_hours,
        due_at=row.due_at,
        status=row.status,
    )


def _finish(
    store: Store,
    instance: Instance,
    reminder: ReminderRecord,
    now: datetime,
    *,
    status: str,
    reason: str | None = None,
    message_id: int | None = None,
) -> None:
    with store.begin(write=True) as uow:
        uow.reminders.change(
            reminder.id,
            {"status": status, "reason": reason, "message_id": message_id, "updated_at": now},
        )
        detail = f"{reminder.kind} {status.lower()}" + (f": {reason}" if reason else "")
        uow.events.add(
            [
                _event(
                    instance.id,
                    status,
                    detail,
                    now,
                    reservation_id=rid,
                    reminder_id=reminder.id,
                )
                for rid in ids_of(reminder.reservation_ids)
            ]
        )
        uow.commit()


# --- for operators -----------------------------------------------------------


def preview(
    store: Store, instance_name: str, start: date, end: date, *, now: datetime | None = None
) -> tuple[list[PlannedReminder], list[tuple[int, str]]]:
    """What would be planned for appointments between two dates, and what would
    not (with the reason), without changing anything."""
    now = now or utcnow()
    instance = get_instance(store, instance_name)
    rules = get_rules(store, instance) or ReminderRules()
    with store.begin() as uow:
        rows = uow.reservations.query(
            ReservationQuery(
                instance.id,
                after_seq=0,
                upto_seq=2**62,
                limit=10_000,
                start_date=start,
                end_date=end,
            )
        )
    booked = {r.id: _aware(r.created_at) for r in rows}
    plan = make_plan(
        [_view(r) for r in rows],
        rules,
        instance.zone,
        _aware(now),
        booked,
        default_language=instance.language,
    )
    return list(plan.reminders), [(s.reservation_id, s.reason) for s in plan.skipped]


def history(store: Store, instance: Instance, reservation_id: int) -> Sequence[ReminderEventRecord]:
    with store.begin() as uow:
        return uow.events.for_reservation(instance.id, reservation_id)


def reservation_history(
    store: Store, instance: Instance, reservation_id: int
) -> list[ReminderEventRecord]:
    """Every step taken for one of ``instance``'s reservations (an empty list: none
    yet); ``NotFoundError`` when the instance has no such reservation."""
    with store.begin() as uow:
        if not uow.reservations.by_ids(instance.id, [reservation_id]):
            raise NotFoundError(
                f"{instance.name} has no reservation {reservation_id} (RESERVATION_ID, "
                "as getReservations returns it; find it with reservations search)",
                field="reservation",
            )
        return list(uow.events.for_reservation(instance.id, reservation_id))
