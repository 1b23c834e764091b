"""Campaigns (guide A.6, bulk messages) as use cases: create one from a patient
list, preview what it will send and cost, start it, report on it; and the
opt-out list that every campaign honours.

- ``create_campaign``: the list (a CSV or Excel file, or pasted addresses) is
  filtered and read by ``domain.campaigns.select_recipients``; the campaign and
  its recipients (each address once) are stored as a DRAFT in one transaction.
  The file itself is not kept: only the addresses and their languages.
- ``preview``: recipients per language, how many have opted out meanwhile, the
  SMS segments the rest will cost, and when the sending would start and end.
- ``start_campaign``: the recipients go to the outbox through the same queue
  path as updateMessages (``services.messages.update_messages``), a batch per
  transaction, each message due at its place in the campaign's schedule (its
  rate, out of its quiet hours); the dispatch worker sends them when due. An
  opted-out address is skipped and counted. The campaign is QUEUING until
  every recipient is queued or skipped, then STARTED; whoever queues holds a
  lease on it (renewed with each batch). Each message's LEGACY_ID is
  ``cmp-<campaign>-<recipient>``, so queueing that stopped half-way (a start
  in the back office that used its time budget, a process that died) simply
  goes on: the worker's housekeeping (``queue_started``) or a new start takes
  the lease and queues the rest; what was queued stays queued once.
- ``campaign_report``: every recipient counted once, by its message's outbox
  status (or why it was not sent), so the figures add up to the recipients.
- ``opt_out_reply``: an SMS whose whole text is an opt-out word (``STOP``,
  ``BAJA``, ...: ``domain.campaigns``) puts the number on the opt-out list of
  the instance that sent to it through that provider (the one whose message
  it answers, when the gateway says; else those whose messages to that number
  came from the sender id it was written to; else every instance that sent an
  SMS to that number through that provider), and cancels that number's
  campaign messages still waiting in the outbox.

Operators' actions (create, start) are checked against the operator's
instances and written to the audit log. Nothing here logs an address.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from ..domain.campaigns import (
    CHANNELS,
    DEFAULT_QUIET_HOURS,
    DEFAULT_RATE_PER_MINUTE,
    MAX_NAME_LENGTH,
    CampaignRuleError,
    CampaignState,
    CampaignText,
    LanguageCost,
    QuietHours,
    RecipientState,
    campaign_address,
    check_rate,
    check_texts,
    due_times,
    is_opt_out,
    parse_filters,
    pasted_rows,
    select_recipients,
    sms_cost,
)
from ..domain.formats import FormatError
from ..domain.message import Channel, MessageStatus, normalise_recipient
from ..errors import (
    ConflictError,
    NotFoundError,
    RequestValidationError,
    StoreUnavailableError,
    TuotempoError,
)
from ..files.patient_lists import read_patient_list
from ..store.campaigns import (
    CampaignRecord,
    CampaignRepository,
    OptOutRepository,
    RecipientLine,
)
from ..store.engine import Store
from ..store.records import REFERENCE_PATTERN
from . import audit, messages
from .audit import Actor, AuditAction, AuditOutcome, AuditRecord, TargetKind
from .instances import Instance, get_instance_by_id, known_countries, utcnow

log = logging.getLogger(__name__)

# Recipients queued per transaction when a campaign starts.
START_BATCH = 1000
# Whoever queues a campaign's recipients holds it this long past each batch; a
# holder that stopped (a web request cut short, a process that died) leaves it
# to run out, and the worker goes on from there.
QUEUING_LEASE = timedelta(minutes=2)
# Longest the worker's housekeeping spends queueing campaigns per pass.
HOUSEKEEPING_BUDGET = 5.0
LEGACY_PREFIX = "cmp-"
# What a message cancelled by its recipient's STOP shows as its ERROR.
OPTED_OUT_REASON = "the recipient opted out of campaigns"


class OptOutSource:
    SMS_STOP = "SMS_STOP"
    OPERATOR = "OPERATOR"


def _invalid(error: CampaignRuleError) -> RequestValidationError:
    return RequestValidationError(error.message, field=error.field)


# --- what goes in ------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSpec:
    """What an operator sets up. ``send_after``: not before this moment (naive:
    the instance's wall clock); None: as soon as started."""

    name: str
    channel: str
    texts: Mapping[str, CampaignText]
    default_language: str | None = None
    filters: str | None = None
    address_column: str | None = None
    language_column: str | None = None
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE
    quiet_hours: str | None = DEFAULT_QUIET_HOURS
    send_after: datetime | None = None


@dataclass(frozen=True)
class PatientSource:
    """Where the addresses come from: a file's header and rows, or pasted text."""

    kind: str  # FILE or PASTED
    name: str | None
    header: list[str]
    rows: list[tuple[int, list[str]]]

    @classmethod
    def from_file(cls, name: str, data: bytes) -> PatientSource:
        found = read_patient_list(name, data)
        return cls("FILE", name, found.header, found.rows)

    @classmethod
    def pasted(cls, text: str) -> PatientSource:
        header, rows = pasted_rows(text)
        if not rows:
            raise RequestValidationError("paste one address a line at least", field="addresses")
        return cls("PASTED", None, header, [(line, list(cells)) for line, cells in rows])


# --- what comes out ----------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """A campaign as the back office and the CLI show it (times naive UTC)."""

    id: int
    instance_id: int
    name: str
    channel: str
    texts: dict[str, CampaignText]
    default_language: str
    filters: str | None
    source: str
    source_name: str | None
    rows_read: int
    filtered_out: int
    invalid: int
    duplicates: int
    recipients: int
    # The first rows that could not be used: (line, why), our words only.
    problems: list[tuple[int, str]]
    rate_per_minute: int
    quiet_hours: str | None
    send_after: datetime | None
    state: str
    created_at: datetime
    created_by: str
    started_at: datetime | None
    started_by: str | None
    first_due_at: datetime | None
    last_due_at: datetime | None

    queuing_until: datetime | None

    @property
    def started(self) -> bool:
        return self.state != CampaignState.DRAFT.value


@dataclass(frozen=True)
class Created:
    campaign: Campaign

    @property
    def problems(self) -> list[tuple[int, str]]:
        return self.campaign.problems


@dataclass(frozen=True)
class Preview:
    campaign: Campaign
    recipients: int
    opted_out: int  # of the recipients, on the opt-out list now: they will be skipped
    to_send: int
    languages: list[LanguageCost]  # each for the recipients who will get a message
    segments: int  # total SMS segments (0 for e-mail)
    first_due_at: datetime | None  # when sending would start and end if started now
    last_due_at: datetime | None


@dataclass(frozen=True)
class Started:
    campaign_id: int
    queued: int
    opted_out: int
    rejected: int
    first_due_at: datetime | None
    last_due_at: datetime | None
    resumed: bool
    remaining: int = 0  # not queued yet: the worker (or another start) goes on


@dataclass(frozen=True)
class Report:
    """Every recipient once. ``waiting``: in the outbox, not sent yet (QUEUED or
    SENDING); ``sent``: handed to the provider, no delivery receipt yet;
    ``cancelled``: by an operator, or by the recipient's STOP while the
    campaign ran; ``pending``: not queued yet (a start interrupted half-way:
    start it again); ``rejected``: refused by the outbox."""

    total: int
    pending: int
    opted_out: int
    rejected: int
    waiting: int
    sent: int
    delivered: int
    failed: int
    expired: int
    cancelled: int

    @property
    def handed_over(self) -> int:
        """Sent to the provider, delivered or not (yet)."""
        return self.sent + self.delivered

    @property
    def accounted(self) -> int:
        return (
            self.pending
            + self.opted_out
            + self.rejected
            + self.waiting
            + self.sent
            + self.delivered
            + self.failed
            + self.expired
            + self.cancelled
        )

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.waiting == 0


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[Campaign]
    next_before: int | None


def _campaign(record: CampaignRecord) -> Campaign:
    texts = {
        language: CampaignText(value["text"], value.get("subject"))
        for language, value in json.loads(record.texts).items()
    }
    values = {name: getattr(record, name) for name in CampaignRecord.__dataclass_fields__}
    values["texts"] = texts
    values["problems"] = [
        (int(line), str(why)) for line, why in json.loads(record.problems or "[]")
    ]
    return Campaign(**values)


def _texts_json(texts: Mapping[str, CampaignText]) -> str:
    return json.dumps(
        {
            language: {"text": text.text, **({"subject": text.subject} if text.subject else {})}
            for language, text in texts.items()
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _to_utc(moment: datetime | None, instance: Instance) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=instance.zone, fold=0)
    return moment.astimezone(UTC).replace(tzinfo=None)


# --- create ------------------------------------------------------------------------


def create_campaign(
    store: Store,
    actor: Actor,
    instance: Instance,
    spec: CampaignSpec,
    source: PatientSource,
    *,
    now: datetime | None = None,
) -> Created:
    """Check the settings, read the list, store the campaign as a DRAFT with its
    recipients. A bad value is a ``RequestValidationError`` naming its field."""
    now = now or utcnow()
    actor.check(instance.id)
    name = " ".join(spec.name.split())
    if not name:
        raise RequestValidationError("give the campaign a name", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise RequestValidationError(f"the name is over {MAX_NAME_LENGTH} characters", field="name")
    channel = next((c for c in CHANNELS if c.value == spec.channel.strip().upper()), None)
    if channel is None:
        allowed = ", ".join(c.value for c in CHANNELS)
        raise RequestValidationError(
            f"'{spec.channel}' is not a campaign channel; use {allowed}", field="channel"
        )
    try:
        texts, default = check_texts(
            channel, spec.texts, spec.default_language or _default_language(spec, instance)
        )
        rate = check_rate(spec.rate_per_minute)
        quiet = QuietHours.parse(spec.quiet_hours)
        conditions = parse_filters(spec.filters)
        selection = select_recipients(
            source.header,
            source.rows,
            channel=channel,
            region=instance.country,
            filters=conditions,
            address_column=spec.address_column,
            language_column=spec.language_column,
            languages=texts.keys(),
            default_language=default,
        )
    except CampaignRuleError as exc:
        raise _invalid(exc) from None
    if not selection.recipients:
        raise RequestValidationError(
            f"no recipient left: {selection.rows_read} row(s) read, "
            f"{selection.filtered_out} filtered out, {selection.invalid} unusable, "
            f"{selection.duplicates} repeated",
            field="filters" if selection.filtered_out else "file",
        )
    send_after = _to_utc(spec.send_after, instance)
    values = {
        "instance_id": instance.id,
        "name": name,
        "channel": channel.value,
        "texts": _texts_json(texts),
        "default_language": default,
        "filters": (spec.filters or "").strip() or None,
        "source": source.kind,
        "source_name": (source.name or "")[:255] or None,
        "rows_read": selection.rows_read,
        "filtered_out": selection.filtered_out,
        "invalid": selection.invalid,
        "duplicates": selection.duplicates,
        "recipients": len(selection.recipients),
        "problems": json.dumps(selection.problems) if selection.problems else None,
        "rate_per_minute": rate,
        "quiet_hours": None if quiet is None else str(quiet),
        "send_after": send_after,
        "state": CampaignState.DRAFT.value,
        "created_at": now,
        "created_by": actor.name[:64],
    }
    with store.unit_of_work(write=True) as connection:
        repo = CampaignRepository(connection)
        campaign_id = repo.add(values)
        repo.add_recipients(campaign_id, instance.id, selection.recipients)
        record = repo.get(instance.id, campaign_id)
    if record is None:  # written in the same transaction: cannot happen
        raise NotFoundError(f"campaign {campaign_id} vanished", field="campaign")
    _audit(
        store,
        actor,
        instance,
        AuditAction.CAMPAIGN_CREATE,
        campaign_id,
        AuditOutcome.DONE,
        f"{len(selection.recipients)} recipient(s) of {selection.rows_read} row(s)",
        now,
    )
    log.info(
        "campaign %d created for %s: %d recipient(s), %d filtered out, %d unusable, %d repeated",
        campaign_id,
        instance.name,
        len(selection.recipients),
        selection.filtered_out,
        selection.invalid,
        selection.duplicates,
    )
    return Created(_campaign(record))


def _default_language(spec: CampaignSpec, instance: Instance) -> str | None:
    """The instance's language when the campaign has a text in it."""
    given = {code.strip().lower() for code, text in spec.texts.items() if text.text.strip()}
    return instance.language if instance.language in given else None


# --- read ----------------------------------------------------------------------------


def get_campaign(store: Store, instance: Instance, campaign_id: int) -> Campaign:
    with store.unit_of_work() as connection:
        record = CampaignRepository(connection).get(instance.id, campaign_id)
    if record is None:
        raise NotFoundError(f"no campaign {campaign_id} in {instance.name}", field="campaign")
    return _campaign(record)


def list_campaigns(
    store: Store, instance: Instance, *, before_id: int | None = None, limit: int = 50
) -> CampaignPage:
    if not 1 <= limit <= 200:
        raise RequestValidationError("a page holds 1 to 200 campaigns", field="limit")
    with store.unit_of_work() as connection:
        records = CampaignRepository(connection).page(instance.id, before_id, limit + 1)
    more = len(records) > limit
    records = records[:limit]
    return CampaignPage([_campaign(r) for r in records], records[-1].id if more else None)


def preview(
    store: Store, instance: Instance, campaign_id: int, *, now: datetime | None = None
) -> Preview:
    """What starting the campaign now would send, skip and cost."""
    now = now or utcnow()
    campaign = get_campaign(store, instance, campaign_id)
    with store.unit_of_work() as connection:
        counts = CampaignRepository(connection).language_counts(campaign.id)
    sending = {c.language: c.recipients - c.opted_out for c in counts}
    costs = sms_cost(Channel(campaign.channel), campaign.texts, sending)
    recipients = sum(c.recipients for c in counts)
    opted_out = sum(c.opted_out for c in counts)
    to_send = recipients - opted_out
    first = last = None
    if to_send and not campaign.started:
        times = _schedule(campaign, instance, max(now, campaign.send_after or now))
        first = next(times)
        last = first if to_send == 1 else next(islice(times, to_send - 2, None))
    return Preview(
        campaign,
        recipients,
        opted_out,
        to_send,
        costs,
        sum(c.segments for c in costs),
        first,
        last,
    )


def _schedule(campaign: Campaign, instance: Instance, start: datetime) -> Iterator[datetime]:
    quiet = QuietHours.parse(campaign.quiet_hours)
    return due_times(start, campaign.rate_per_minute, quiet, instance.zone)


def campaign_report(store: Store, instance: Instance, campaign_id: int) -> Report:
    """Every recipient of the campaign counted once (see ``Report``)."""
    campaign = get_campaign(store, instance, campaign_id)
    with store.unit_of_work() as connection:
        counts = CampaignRepository(connection).report(campaign.id)
    by_status: dict[str, int] = {}
    pending = opted_out = rejected = 0
    for count in counts:
        if count.state == RecipientState.PENDING.value:
            pending += count.count
        elif count.state == RecipientState.OPTED_OUT.value:
            opted_out += count.count
        elif count.state == RecipientState.REJECTED.value or count.status is None:
            rejected += count.count
        else:
            by_status[count.status] = by_status.get(count.status, 0) + count.count
    s = MessageStatus
    return Report(
        total=sum(count.count for count in counts),
        pending=pending,
        opted_out=opted_out,
        rejected=rejected,
        waiting=by_status.get(s.QUEUED.value, 0) + by_status.get(s.SENDING.value, 0),
        sent=by_status.get(s.SENT.value, 0),
        delivered=by_status.get(s.DELIVERED.value, 0),
        failed=by_status.get(s.FAILED.value, 0),
        expired=by_status.get(s.EXPIRED.value, 0),
        cancelled=by_status.get(s.CANCELLED.value, 0),
    )


def recipient_lines(
    store: Store, instance: Instance, campaign_id: int, *, after_id: int = 0, limit: int = 50
) -> list[RecipientLine]:
    """Recipients in list order, with their message's status (addresses unmasked:
    the caller masks them)."""
    campaign = get_campaign(store, instance, campaign_id)
    with store.unit_of_work() as connection:
        return CampaignRepository(connection).lines(campaign.id, after_id, limit)


# --- start ---------------------------------------------------------------------------


class CampaignBusyError(ConflictError):
    """Another start (or the worker) is queueing this campaign's recipients now."""


def start_campaign(
    store: Store,
    actor: Actor,
    instance: Instance,
    campaign_id: int,
    *,
    now: datetime | None = None,
    batch_size: int = START_BATCH,
    budget_seconds: float | None = None,
) -> Started:
    """Queue the campaign's messages (see the module's notes); audited.

    ``budget_seconds``: stop queueing after about that long (the back office,
    inside a web request); what is left is queued by the worker
    (``queue_started``), or by starting again. A started campaign is refused
    (``ConflictError``), unless a start stopped half-way: then its remaining
    recipients are queued.
    """
    now = now or utcnow()
    try:
        actor.check(instance.id)
        campaign = get_campaign(store, instance, campaign_id)
        with store.unit_of_work(write=True) as connection:
            repo = CampaignRepository(connection)
            lease = utcnow() + QUEUING_LEASE
            began = repo.begin_start(campaign.id, actor.name[:64], now, lease)
            resumed = not began and repo.take_queuing(campaign.id, now, lease)
        if not (began or resumed):
            if campaign.state == CampaignState.QUEUING.value:
                raise CampaignBusyError(
                    f"campaign {campaign.id} is being queued right now; look again in a minute",
                    field="campaign",
                )
            raise ConflictError(f"campaign {campaign.id} was already started", field="campaign")
    except StoreUnavailableError:
        raise  # nothing to record it in
    except TuotempoError as exc:
        _audit(
            store,
            actor,
            instance,
            AuditAction.CAMPAIGN_START,
            campaign_id,
            AuditOutcome.REFUSED,
            f"{exc.code}: {exc.message}",
            now,
        )
        raise
    start = max(now, campaign.send_after or now) if began else _resume_at(campaign, now)
    started = _enqueue(
        store, instance, campaign, start, now, batch_size, resumed=resumed, budget=budget_seconds
    )
    _audit(
        store,
        actor,
        instance,
        AuditAction.CAMPAIGN_START,
        campaign.id,
        AuditOutcome.DONE,
        f"queued {started.queued}, skipped {started.opted_out} opted out"
        + (f", {started.rejected} refused" if started.rejected else "")
        + (f", {started.remaining} left to the worker" if started.remaining else "")
        + (" (resumed)" if started.resumed else ""),
        now,
    )
    log.info(
        "campaign %d of %s started: %d queued, %d opted out, %d refused, %d left",
        campaign.id,
        instance.name,
        started.queued,
        started.opted_out,
        started.rejected,
        started.remaining,
    )
    return started


def _resume_at(campaign: Campaign, now: datetime) -> datetime:
    """Where the schedule of a campaign whose queueing stopped half-way goes on:
    one interval after the last message it queued (never in the past)."""
    after = now
    if campaign.last_due_at is not None:
        after = campaign.last_due_at + timedelta(seconds=60 / campaign.rate_per_minute)
    return max(now, campaign.send_after or now, after)


def queue_started(
    store: Store, *, now: datetime | None = None, budget_seconds: float = HOUSEKEEPING_BUDGET
) -> int:
    """The worker's part: go on queueing campaigns whose start stopped half-way
    (a start in the back office that ran out of time, a process that died);
    how many messages it queued. Bounded by ``budget_seconds`` a call, so the
    sending around it never waits long."""
    now = now or utcnow()
    deadline = time.monotonic() + budget_seconds
    with store.unit_of_work() as connection:
        waiting = CampaignRepository(connection).resumable(now)
    queued = 0
    for instance_id, campaign_id in waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with store.unit_of_work(write=True) as connection:
            taken = CampaignRepository(connection).take_queuing(
                campaign_id, now, utcnow() + QUEUING_LEASE
            )
        if not taken:
            continue  # someone else holds it
        instance = get_instance_by_id(store, instance_id)
        campaign = get_campaign(store, instance, campaign_id)
        started = _enqueue(
            store,
            instance,
            campaign,
            _resume_at(campaign, now),
            now,
            START_BATCH,
            resumed=True,
            budget=left,
        )
        queued += started.queued
        log.info(
            "campaign %d of %s: %d more queued by the worker, %d left",
            campaign.id,
            instance.name,
            started.queued,
            started.remaining,
        )
    return queued


def _enqueue(
    store: Store,
    instance: Instance,
    campaign: Campaign,
    start: datetime,
    now: datetime,
    batch_size: int,
    *,
    resumed: bool,
    budget: float | None,
) -> Started:
    """Queue the campaign's pending recipients a batch per transaction, holding
    its queuing lease (renewed with every batch, given back at the end)."""
    deadline = None if budget is None else time.monotonic() + budget
    times = _schedule(campaign, instance, start)
    queued_total = opted_total = rejected_total = 0
    first_due: datetime | None = None
    last_due: datetime | None = None
    remaining = 0
    done = False
    try:
        while True:
            with store.unit_of_work() as connection:
                batch = CampaignRepository(connection).pending(campaign.id, batch_size)
                opted = OptOutRepository(connection).among(instance.id, [r.address for r in batch])
            if not batch:
                done = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                with store.unit_of_work() as connection:
                    remaining = CampaignRepository(connection).count_pending(campaign.id)
                break
            items: list[dict[str, Any]] = []
            by_legacy: dict[str, int] = {}
            for recipient in batch:
                if recipient.address in opted:
                    continue
                due = next(times)
                first_due = first_due or due
                last_due = due
                text = (
                    campaign.texts.get(recipient.language)
                    or campaign.texts[campaign.default_language]
                )
                legacy_id = f"{LEGACY_PREFIX}{campaign.id}-{recipient.id}"
                by_legacy[legacy_id] = recipient.id
                items.append(
                    {
                        "LEGACY_ID": legacy_id,
                        "CHANNEL": campaign.channel,
                        "TO": recipient.address,
                        "TEXT": text.text,
                        "SUBJECT": text.subject,
                        "LANGUAGE": recipient.language,
                        "SEND_AT": due.replace(tzinfo=UTC).isoformat(),
                    }
                )
            queued: dict[int, int] = {}
            rejected: list[int] = []
            if items:
                outcome = messages.update_messages(
                    store, instance, items, max_items=len(items), now=now
                )
                for item in outcome.items:
                    recipient_id = by_legacy[str(item.legacy_id)]
                    if item.ok and item.message_id is not None:
                        queued[recipient_id] = item.message_id
                    else:
                        rejected.append(recipient_id)
            skipped_out = [r.id for r in batch if r.address in opted]
            with store.unit_of_work(write=True) as connection:
                CampaignRepository(connection).mark(
                    campaign.id,
                    queued=queued,
                    skipped={
                        RecipientState.OPTED_OUT.value: skipped_out,
                        RecipientState.REJECTED.value: rejected,
                    },
                    first_due=first_due,
                    last_due=last_due,
                    lease_until=utcnow() + QUEUING_LEASE,
                )
            queued_total += len(queued)
            opted_total += len(skipped_out)
            rejected_total += len(rejected)
    finally:
        # Given back at once, also after an error: the worker takes over from
        # there instead of waiting for the lease to run out.
        with store.unit_of_work(write=True) as connection:
            CampaignRepository(connection).finish_queuing(campaign.id, done=done)
    return Started(
        campaign.id,
        queued_total,
        opted_total,
        rejected_total,
        first_due,
        last_due,
        resumed,
        remaining,
    )


# --- opting out ----------------------------------------------------------------------


def opt_out(
    store: Store,
    instance: Instance,
    addresses: Collection[str],
    *,
    source: str = OptOutSource.OPERATOR,
    now: datetime | None = None,
) -> int:
    """Put addresses (phones in any spelling, e-mail addresses) on the instance's
    opt-out list, and cancel their campaign messages still waiting; how many
    were new on the list."""
    now = now or utcnow()
    normalised = {_any_address(address, instance) for address in addresses}
    with store.unit_of_work(write=True) as connection:
        added = OptOutRepository(connection).add(instance.id, normalised, source, now)
        CampaignRepository(connection).cancel_queued(instance.id, normalised, now, OPTED_OUT_REASON)
    return added


def opt_in(store: Store, instance: Instance, address: str) -> bool:
    """Take an address off the opt-out list (the patient asked again for
    campaigns); False when it was not on it."""
    normalised = _any_address(address, instance)
    with store.unit_of_work(write=True) as connection:
        return OptOutRepository(connection).remove(instance.id, normalised)


def opted_out_count(store: Store, instance: Instance) -> int:
    with store.unit_of_work() as connection:
        return OptOutRepository(connection).count(instance.id)


def _number_forms(store: Store, number: str) -> list[str]:
    """The number as given, and as a number of each country our instances serve
    (gateways usually send E.164, but not all of them)."""
    forms = {number.strip()}
    for region in known_countries(store):
        try:
            forms.add(normalise_recipient(Channel.SMS, number, region))
        except FormatError:
            continue
    return sorted(forms)


def _any_address(raw: str, instance: Instance) -> str:
    channel = Channel.EMAIL if "@" in raw else Channel.SMS
    try:
        return campaign_address(channel, raw, instance.country)
    except FormatError as exc:
        raise RequestValidationError(str(exc), field="address") from None


@dataclass(frozen=True)
class OptedOut:
    instances: list[str]  # names of the instances the number opted out of
    cancelled: int  # campaign messages that were still waiting


def opt_out_reply(
    store: Store,
    provider: str,
    sender: str,
    text: str,
    *,
    to: str | None = None,
    reply_reference: str | None = None,
    now: datetime | None = None,
) -> OptedOut | None:
    """An SMS from ``sender`` received through ``provider``: None when it is not an
    opt-out (then it is an answer to a reminder, for ``answers.sms_reply``);
    else the number is put on the opt-out list of the instance(s) that sent to
    it (see the module's notes). ``to``: the number or sender id the patient
    wrote to; ``reply_reference``: the reference of our message it answers."""
    if not is_opt_out(text):
        return None
    now = now or utcnow()
    forms = _number_forms(store, sender)
    to_forms = _number_forms(store, to) if to else []
    if reply_reference and not REFERENCE_PATTERN.fullmatch(reply_reference):
        reply_reference = None
    with store.unit_of_work() as connection:
        repo = OptOutRepository(connection)
        referenced = (
            repo.sender_of_reference(provider, reply_reference, forms) if reply_reference else None
        )
        senders = [] if referenced is not None else repo.senders_to(provider, forms)
    # Each instance opts out the number as it sent to it (its E.164 form).
    reached: dict[int, set[str]] = {}
    if referenced is not None:
        reached[referenced[0]] = {referenced[1]}
    else:
        wrote_to = {form.casefold() for form in to_forms}
        named = [s for s in senders if s[1] and s[1].strip().casefold() in wrote_to]
        for instance_id, _, recipient in named or senders:
            reached.setdefault(instance_id, set()).add(recipient)
    names: list[str] = []
    cancelled = 0
    for instance_id, numbers in sorted(reached.items()):
        instance = get_instance_by_id(store, instance_id)
        with store.unit_of_work(write=True) as connection:
            OptOutRepository(connection).add(instance.id, numbers, OptOutSource.SMS_STOP, now)
            cancelled += CampaignRepository(connection).cancel_queued(
                instance.id, numbers, now, OPTED_OUT_REASON
            )
        names.append(instance.name)
    log.info(
        "opt-out reply via %s: %d instance(s), %d queued campaign message(s) cancelled",
        provider,
        len(names),
        cancelled,
    )
    return OptedOut(names, cancelled)


# --- the audit log ---------------------------------------------------------------------


def _audit(
    store: Store,
    actor: Actor,
    instance: Instance,
    action: AuditAction,
    campaign_id: int,
    outcome: AuditOutcome,
    detail: str,
    now: datetime,
) -> None:
    audit.record(
        store,
        actor,
        AuditRecord(
            action,
            outcome,
            instance.id,
            instance.name,
            TargetKind.CAMPAIGN,
            campaign_id,
            detail[:500],
        ),
        now=now,
    )
