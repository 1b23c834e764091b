"""Campaigns end to end on the real database: a list read and filtered, the
messages queued through the outbox at the campaign's rate and out of its quiet
hours, sent by the real dispatch worker to a local HTTP SMS gateway as the
clock moves, opt-outs by STOP replies honoured by later campaigns, and reports
that add up."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import update

from tests.integration.campaigns.conftest import OPERATOR, World
from tuotempo_soap.domain.campaigns import CampaignText
from tuotempo_soap.domain.formats import parse_date
from tuotempo_soap.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RequestValidationError,
)
from tuotempo_soap.services import audit, campaigns, instances, messages
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.campaigns import CampaignSpec, PatientSource
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.tables import campaign_recipients
from tuotempo_soap.store.tables import campaigns as campaigns_table

MADRID = ZoneInfo("Europe/Madrid")
UTC = ZoneInfo("UTC")


def utc(wall: str) -> datetime:
    """A wall-clock time of Madrid as naive UTC."""
    moment = datetime.fromisoformat(wall).replace(tzinfo=MADRID)
    return moment.astimezone(UTC).replace(tzinfo=None)


def wall(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(MADRID).replace(tzinfo=None)


def number(index: int) -> str:
    """A Spanish mobile, as a clinic's export would write it."""
    return f"6{index:08d}"


def e164(index: int) -> str:
    return f"+346{index:08d}"


def spec(**changes: object) -> CampaignSpec:
    values: dict[str, object] = {
        "name": "Flu shots",
        "channel": "SMS",
        "texts": {"es": CampaignText("Campaña de vacunación: pida cita en el 900 000 000.")},
        "rate_per_minute": 60,
        "quiet_hours": "21:00-09:00",
        **changes,
    }
    return CampaignSpec(**values)  # type: ignore[arg-type]


def csv_of(rows: list[list[str]], header: list[str] | None = None) -> PatientSource:
    lines = [";".join(header or ["NAME", "USER_MOBILE_PHONE"])]
    lines += [";".join(row) for row in rows]
    return PatientSource.from_file("patients.csv", ("\n".join(lines) + "\n").encode())


def pasted(*addresses: str) -> PatientSource:
    return PatientSource.pasted("\n".join(addresses))


# --- the campaign of the issue --------------------------------------------------------


def test_a_campaign_to_1000_addresses_with_10_opted_out_sends_990_at_its_rate(
    world: World,
) -> None:
    instance = world.new_instance()
    store = world.store
    # 1000 patients, 20 of them twice (in another spelling): 1000 addresses.
    rows = [[f"P{i}", number(i)] for i in range(1000)]
    rows += [[f"again {i}", f"+34 {number(i)[:3]} {number(i)[3:]}"] for i in range(0, 1000, 50)]
    world.at(utc("2027-03-10T20:00:00"))
    created = campaigns.create_campaign(store, OPERATOR, instance, spec(), csv_of(rows))
    campaign = created.campaign
    assert (campaign.rows_read, campaign.duplicates, campaign.recipients) == (1020, 20, 1000)
    assert campaign.state == "DRAFT"
    out = [number(i) for i in range(5, 1000, 100)]  # 10 of them asked for no campaigns
    assert campaigns.opt_out(store, instance, out) == 10
    # The gateway refuses five numbers for good (HTTP 400): they end FAILED.
    world.gateway.behaviour.reject = {e164(i) for i in range(700, 705)}

    seen = campaigns.preview(store, instance, campaign.id, now=utc("2027-03-10T20:50:00"))
    assert (seen.recipients, seen.opted_out, seen.to_send) == (1000, 10, 990)
    assert seen.segments == 990  # one GSM-7 segment each
    assert seen.first_due_at is not None and seen.last_due_at is not None
    assert wall(seen.first_due_at) == datetime(2027, 3, 10, 20, 50)
    assert wall(seen.last_due_at) == datetime(2027, 3, 11, 9, 6, 29)

    started = campaigns.start_campaign(
        store, OPERATOR, instance, campaign.id, now=world.at(utc("2027-03-10T20:50:00"))
    )
    assert (started.queued, started.opted_out, started.rejected) == (990, 10, 0)

    # Due times: one a second from 20:50:00, none inside 21:00-09:00, the rate
    # resuming at 09:00:00 the next morning.
    queued = world.message_rows(instance, "cmp-")
    assert len(queued) == 990
    assert len({row["recipient"] for row in queued}) == 990
    assert not {row["recipient"] for row in queued} & {f"+34{n}" for n in out}
    due = [wall(row["next_attempt_at"]) for row in queued]  # type: ignore[arg-type]
    assert due[0] == datetime(2027, 3, 10, 20, 50)
    assert due[599] == datetime(2027, 3, 10, 20, 59, 59)
    assert due[600] == datetime(2027, 3, 11, 9, 0)
    assert due[-1] == datetime(2027, 3, 11, 9, 6, 29)
    gaps = [b - a for a, b in pairwise(due)]
    assert gaps.count(timedelta(seconds=1)) == 988
    assert all(not (d.time() >= datetime(1, 1, 1, 21).time() or d.hour < 9) for d in due)

    # The real worker, at moments the test chooses: it sends what is due, no more.
    def handed_over() -> int:
        rows = world.message_rows(instance, "cmp-")
        return sum(1 for row in rows if row["status"] in ("SENT", "FAILED", "DELIVERED"))

    world.at(utc("2027-03-10T20:55:00"))
    world.send_due()
    assert handed_over() == 301  # due at 20:50:00 ... 20:55:00, one a second
    world.at(utc("2027-03-10T21:30:00"))
    world.send_due()
    assert handed_over() == 600
    world.at(utc("2027-03-11T08:59:59"))
    world.send_due()
    assert handed_over() == 600  # quiet hours: nothing more until 09:00
    world.at(utc("2027-03-11T09:10:00"))
    world.send_due()
    assert handed_over() == 990
    assert len(world.gateway.accepted) == 985
    assert all(world.accepted_to(e164(i)) <= 1 for i in range(1000))
    assert all(world.accepted_to(f"+34{n}") == 0 for n in out)

    # Delivery receipts for 100 of them.
    sent = [row for row in world.message_rows(instance, "cmp-") if row["status"] == "SENT"]
    for row in sent[:100]:
        applied = messages.apply_receipt(
            store,
            world.provider,
            provider_message_id=str(row["provider_message_id"]),
            reference=None,
            delivered=True,
            error=None,
        )
        assert applied == "applied"

    report = campaigns.campaign_report(store, instance, campaign.id)
    assert report.total == 1000
    assert (report.sent, report.delivered, report.failed, report.opted_out) == (885, 100, 5, 10)
    assert (report.waiting, report.pending, report.cancelled, report.expired) == (0, 0, 0, 0)
    assert report.accounted == report.total
    assert report.handed_over == 985 and report.finished

    # The operator's two actions are in the audit log.
    trail = audit.page(store, Actor.of(None, "t", None), instance_id=instance.id).entries
    assert [(e.action, e.outcome, e.target_id) for e in trail] == [
        ("CAMPAIGN_START", "DONE", campaign.id),
        ("CAMPAIGN_CREATE", "DONE", campaign.id),
    ]
    assert trail[0].detail == "queued 990, skipped 10 opted out"


def test_duplicates_in_the_list_are_sent_once(world: World) -> None:
    instance = world.new_instance()
    world.at(utc("2027-03-10T10:00:00"))
    source = pasted(
        "612 345 678",
        "+34612345678",
        "0034 612 345 678",
        "699000111",
        "+34 699 00 01 11",
        "612345678",
    )
    created = campaigns.create_campaign(world.store, OPERATOR, instance, spec(), source)
    assert (created.campaign.recipients, created.campaign.duplicates) == (2, 4)
    campaigns.start_campaign(world.store, OPERATOR, instance, created.campaign.id)
    world.at(utc("2027-03-10T10:05:00"))
    world.send_due()
    assert sorted(body["to"] for body in world.gateway.accepted.values()) == [
        "+34612345678",
        "+34699000111",
    ]
    assert len(world.gateway.requests) == 2


# --- opting out -------------------------------------------------------------------------

A, B, C, D = "611000001", "611000002", "611000003", "611000004"


def test_a_stop_reply_opts_out_and_later_campaigns_skip_it(world: World) -> None:
    x, y = world.new_instance(), world.new_instance()
    store = world.store
    world.at(utc("2027-03-10T10:00:00"))
    first = campaigns.create_campaign(store, OPERATOR, x, spec(), pasted(A, B, C)).campaign
    campaigns.start_campaign(store, OPERATOR, x, first.id)
    world.at(utc("2027-03-10T10:05:00"))
    world.send_due()
    assert len(world.gateway.accepted) == 3
    # A second campaign of x, due tomorrow: A's and D's messages wait in the outbox.
    later = spec(send_after=datetime(2027, 3, 11, 12, 0))
    second = campaigns.create_campaign(store, OPERATOR, x, later, pasted(A, D)).campaign
    assert campaigns.start_campaign(store, OPERATOR, x, second.id).queued == 2

    # A writes STOP: A is out of x's campaigns, and x's message to A still
    # waiting is cancelled. B writes "Baja." in another spelling.
    answer = world.reply(f"+34{A}", "STOP")
    assert (answer.status_code, answer.json) == (200, {"result": "opted_out"})
    assert world.reply(B, " Baja. ").json == {"result": "opted_out"}
    # A sentence with "stop" in it is no opt-out: it goes to the reminders' answers.
    assert world.reply(f"+34{C}", "stop sending me these").json == {"result": "unknown_sender"}
    # A number we never sent to through this provider opts out of nothing.
    assert world.reply("+34611999999", "STOP").json == {"result": "unknown_sender"}

    report = campaigns.campaign_report(store, x, second.id)
    assert (report.cancelled, report.waiting, report.total) == (1, 1, 2)
    assert report.accounted == report.total

    world.at(utc("2027-03-12T10:00:00"))
    third = campaigns.create_campaign(store, OPERATOR, x, spec(), pasted(A, B, C, D)).campaign
    seen = campaigns.preview(store, x, third.id)
    assert (seen.recipients, seen.opted_out, seen.to_send) == (4, 2, 2)
    started = campaigns.start_campaign(store, OPERATOR, x, third.id)
    assert (started.queued, started.opted_out) == (2, 2)
    world.at(utc("2027-03-12T10:05:00"))
    world.send_due()
    assert world.accepted_to(f"+34{A}") == 1 and world.accepted_to(f"+34{B}") == 1
    assert world.accepted_to(f"+34{C}") == 2
    report = campaigns.campaign_report(store, x, third.id)
    assert (report.sent, report.opted_out, report.total, report.accounted) == (2, 2, 4, 4)

    # The opt-out is x's: y never sent to A, so y's campaign reaches A.
    other = campaigns.create_campaign(store, OPERATOR, y, spec(), pasted(A)).campaign
    assert campaigns.start_campaign(store, OPERATOR, y, other.id).queued == 1


def test_a_stop_names_the_instance_whose_message_it_answers(world: World) -> None:
    x, y = world.new_instance(), world.new_instance()
    store = world.store
    world.at(utc("2027-03-10T10:00:00"))
    for instance in (x, y):
        found = campaigns.create_campaign(store, OPERATOR, instance, spec(), pasted(A)).campaign
        campaigns.start_campaign(store, OPERATOR, instance, found.id)
    world.at(utc("2027-03-10T10:05:00"))
    world.send_due()
    (of_x,) = world.message_rows(x, "cmp-")
    answer = world.reply(f"+34{A}", "STOP", in_reply_to=str(of_x["reference"]))
    assert answer.json == {"result": "opted_out"}
    assert campaigns.opted_out_count(store, x) == 1
    assert campaigns.opted_out_count(store, y) == 0
    # Without a reference, both instances that wrote to A through this provider.
    assert world.reply(f"+34{A}", "BAJA").json == {"result": "opted_out"}
    assert campaigns.opted_out_count(store, y) == 1


def test_operators_opt_out_and_back_in(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    assert campaigns.opt_out(store, instance, ["612 345 678", "Ana@Example.org"]) == 2
    assert campaigns.opt_out(store, instance, ["+34612345678"]) == 0
    assert campaigns.opted_out_count(store, instance) == 2
    assert campaigns.opt_in(store, instance, "ana@example.ORG")
    assert not campaigns.opt_in(store, instance, "ana@example.org")
    with pytest.raises(RequestValidationError) as raised:
        campaigns.opt_out(store, instance, ["12"])
    assert raised.value.field == "address"


# --- lists and filters ------------------------------------------------------------------

HEADER = ["Name", "USER_MOBILE_PHONE", "AGE", "USER_LANGUAGE", "RESOURCE_LID", "LAST_VISIT"]
PATIENTS = [
    ["Ana", "611000001", "70", "es", "DR1", "15/03/2024"],  # in
    ["Bea", "611000002", "80", "it-IT", "DR2", "01/12/2024"],  # in (Italian)
    ["Carla", "611000003", "64", "es", "DR1", "15/03/2024"],  # too young
    ["Dora", "611000004", "90", "es", "DR3", "15/03/2024"],  # another doctor
    ["Eva", "611000005", "75", "en", "DR1", "02/02/2025"],  # seen too recently
    ["Fe", "not a number", "75", "es", "DR1", "15/03/2024"],  # unusable
    ["Gala", "611000007", "", "es", "DR1", "15/03/2024"],  # no age: not matched
    ["Hada", "611000008", "66", "EN", "DR2", "2024-06-30"],  # in (no English text)
]
FILTERS = "AGE >= 65\nRESOURCE_LID in DR1, DR2\nLAST_VISIT < 01/01/2025"
TEXTS = {"es": CampaignText("Hola, le toca la revisión."), "it": CampaignText("Ciao, tocca a lei.")}


def _check_list(world: World, instance: Instance, source: PatientSource) -> None:
    store = world.store
    world.at(utc("2027-03-10T10:00:00"))
    created = campaigns.create_campaign(
        store, OPERATOR, instance, spec(texts=TEXTS, filters=FILTERS), source
    )
    found = created.campaign
    assert (found.rows_read, found.filtered_out, found.invalid, found.recipients) == (8, 4, 1, 3)
    assert created.problems == [(7, "not a phone number of ES or in +country form")]
    seen = campaigns.preview(store, instance, found.id)
    assert {c.language: c.recipients for c in seen.languages} == {"es": 2, "it": 1}
    campaigns.start_campaign(store, OPERATOR, instance, found.id)
    bodies = {row["recipient"]: row["body"] for row in world.message_rows(instance, "cmp-")}
    assert bodies == {
        "+34611000001": TEXTS["es"].text,
        "+34611000002": TEXTS["it"].text,
        "+34611000008": TEXTS["es"].text,
    }


def test_a_csv_list_is_filtered_on_its_own_columns(world: World) -> None:
    _check_list(world, world.new_instance(), csv_of(PATIENTS, HEADER))


def test_an_excel_list_is_filtered_on_its_own_columns(world: World) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in PATIENTS:
        cells: list[object] = list(row)
        # As spreadsheets hold them: numbers and dates, not text.
        cells[2] = int(row[2]) if row[2] else None
        if row[1].isdigit():
            cells[1] = int(row[1])
        cells[5] = parse_date(row[5])
        sheet.append(cells)
    data = io.BytesIO()
    book.save(data)
    source = PatientSource.from_file("patients.xlsx", data.getvalue())
    _check_list(world, world.new_instance(), source)


def test_bad_settings_are_refused_naming_the_field(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    source = csv_of(PATIENTS, HEADER)
    cases = [
        (spec(name=" "), "name"),
        (spec(channel="FAX"), "channel"),
        (spec(texts={}), "texts"),
        (spec(rate_per_minute=0), "rate_per_minute"),
        (spec(quiet_hours="evening"), "quiet_hours"),
        (spec(filters="CITY = Madrid"), "filters"),
        (spec(filters="AGE >= 200"), "filters"),  # nobody left
        (spec(address_column="Phone"), "address_column"),
        (spec(channel="EMAIL", texts={"es": CampaignText("Hola")}), "subjects.es"),
    ]
    for bad, field in cases:
        with pytest.raises(RequestValidationError) as raised:
            campaigns.create_campaign(store, OPERATOR, instance, bad, source)
        assert raised.value.field == field, (bad, raised.value.message)
    assert campaigns.list_campaigns(store, instance).campaigns == []


# --- starting ---------------------------------------------------------------------------


def test_a_campaign_starts_once(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    world.at(utc("2027-03-10T10:00:00"))
    found = campaigns.create_campaign(
        store, OPERATOR, instance, spec(), pasted(*(number(i) for i in range(30)))
    ).campaign
    first = campaigns.start_campaign(store, OPERATOR, instance, found.id, batch_size=7)
    assert (first.queued, first.remaining, first.resumed) == (30, 0, False)
    assert campaigns.get_campaign(store, instance, found.id).state == "STARTED"
    with pytest.raises(ConflictError) as again:
        campaigns.start_campaign(store, OPERATOR, instance, found.id)
    assert again.value.message == f"campaign {found.id} was already started"
    trail = audit.page(store, OPERATOR, instance_id=instance.id).entries
    assert [(e.action, e.outcome) for e in trail] == [
        ("CAMPAIGN_START", "REFUSED"),
        ("CAMPAIGN_START", "DONE"),
        ("CAMPAIGN_CREATE", "DONE"),
    ]


def test_a_start_cut_short_is_finished_by_the_worker(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    now = world.at(utc("2027-03-10T10:00:00"))
    found = campaigns.create_campaign(
        store, OPERATOR, instance, spec(), pasted(*(number(i) for i in range(30)))
    ).campaign
    # The back office's time budget ran out after the first batch of ten.
    cut = campaigns.start_campaign(
        store, OPERATOR, instance, found.id, batch_size=10, budget_seconds=0
    )
    assert (cut.queued, cut.remaining) == (0, 30)
    assert campaigns.get_campaign(store, instance, found.id).state == "QUEUING"
    assert campaigns.campaign_report(store, instance, found.id).pending == 30
    # The worker's housekeeping goes on with the lease given back.
    assert campaigns.queue_started(store, now=now) == 30
    assert campaigns.get_campaign(store, instance, found.id).state == "STARTED"
    report = campaigns.campaign_report(store, instance, found.id)
    assert (report.waiting, report.pending, report.total) == (30, 0, 30)
    due = [row["next_attempt_at"] for row in world.message_rows(instance, "cmp-")]
    assert [b - a for a, b in pairwise(due)] == [timedelta(seconds=1)] * 29
    assert campaigns.queue_started(store, now=now) == 0


def test_queueing_that_died_half_way_resumes_once_its_lease_runs_out(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    now = world.at(utc("2027-03-10T10:00:00"))
    found = campaigns.create_campaign(
        store, OPERATOR, instance, spec(), pasted(*(number(i) for i in range(30)))
    ).campaign
    campaigns.start_campaign(store, OPERATOR, instance, found.id, batch_size=7)
    before = {row["legacy_id"]: row["id"] for row in world.message_rows(instance, "cmp-")}
    last_ten = sorted(int(str(lid).rsplit("-", 1)[1]) for lid in before)[-10:]
    # As if the process had died after queueing the last ten messages but
    # before recording them, while holding the lease.
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(campaign_recipients)
            .where(campaign_recipients.c.id.in_(last_ten))
            .values(state="PENDING", message_id=None)
        )
        connection.execute(
            update(campaigns_table)
            .where(campaigns_table.c.id == found.id)
            .values(state="QUEUING", queuing_until=now + timedelta(minutes=1))
        )
    with pytest.raises(campaigns.CampaignBusyError):
        campaigns.start_campaign(store, OPERATOR, instance, found.id)
    assert campaigns.queue_started(store, now=now) == 0  # the lease is still held
    later = world.at(now + timedelta(minutes=3))
    again = campaigns.start_campaign(store, OPERATOR, instance, found.id, now=later)
    assert again.resumed and again.queued == 10
    after = {row["legacy_id"]: row["id"] for row in world.message_rows(instance, "cmp-")}
    assert after == before  # the same 30 messages, none twice
    report = campaigns.campaign_report(store, instance, found.id)
    assert (report.waiting, report.pending, report.total) == (30, 0, 30)
    assert campaigns.get_campaign(store, instance, found.id).state == "STARTED"


def test_a_campaign_is_its_instance_s_own(world: World) -> None:
    mine, theirs = world.new_instance(), world.new_instance()
    store = world.store
    found = campaigns.create_campaign(store, OPERATOR, mine, spec(), pasted(A)).campaign
    with pytest.raises(NotFoundError):
        campaigns.get_campaign(store, theirs, found.id)
    with pytest.raises(NotFoundError):
        campaigns.start_campaign(store, OPERATOR, theirs, found.id)
    stranger = Actor.of(7, "stranger", [theirs.id])
    with pytest.raises(ForbiddenError):
        campaigns.start_campaign(store, stranger, mine, found.id)
    with pytest.raises(ForbiddenError):
        campaigns.create_campaign(store, stranger, mine, spec(), pasted(A))
    refused = audit.page(store, OPERATOR, instance_id=mine.id).entries[0]
    assert (refused.action, refused.outcome, refused.operator_name) == (
        "CAMPAIGN_START",
        "REFUSED",
        "stranger",
    )
    assert campaigns.campaign_report(store, mine, found.id).pending == 1


def test_an_email_campaign(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    world.at(utc("2027-03-10T10:00:00"))
    texts = {"es": CampaignText("Hola", "Campaña"), "it": CampaignText("Ciao", "Campagna")}
    rows = [["Ana", "Ana@Example.org", "it"], ["Bea", "ana@example.org", "es"], ["C", "x", "es"]]
    source = csv_of(rows, ["Name", "Email", "Lang"])
    found = campaigns.create_campaign(
        store,
        OPERATOR,
        instance,
        spec(channel="EMAIL", texts=texts, language_column="Lang"),
        source,
    ).campaign
    assert (found.recipients, found.duplicates, found.invalid) == (1, 1, 1)
    seen = campaigns.preview(store, instance, found.id)
    assert seen.segments == 0 and seen.to_send == 1
    campaigns.start_campaign(store, OPERATOR, instance, found.id)
    (row,) = world.message_rows(instance, "cmp-")
    assert (row["channel"], row["recipient"], row["subject"], row["body"]) == (
        "EMAIL",
        "ana@example.org",
        "Campagna",
        "Ciao",
    )


def test_removing_an_instance_removes_its_campaigns_and_opt_outs(world: World) -> None:
    instance = world.new_instance()
    store = world.store
    found = campaigns.create_campaign(
        store, OPERATOR, instance, spec(), pasted(*(number(i) for i in range(7)))
    ).campaign
    campaigns.opt_out(store, instance, [number(1)])
    campaigns.start_campaign(store, OPERATOR, instance, found.id)
    deleted = instances.remove_instance(store, instance.name, batch_size=3)
    assert deleted["campaigns"] == 1
    assert deleted["campaign_recipients"] == 7
    assert deleted["campaign_opt_outs"] == 1
    assert deleted["messages"] == 6
