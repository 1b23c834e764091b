"""Each typed record holds its table's columns, named and ordered alike, so a
repository can build one from a row of exactly those columns."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from typing import Any

import pytest
from sqlalchemy import Table

from tuotempo_soap.store import tables
from tuotempo_soap.store.columns import columns_of, record_factory
from tuotempo_soap.store.records import (
    RESERVATION_FIELD_NAMES,
    ApiUserRecord,
    AuditEntry,
    ClinicCallbackRecord,
    InstanceRecord,
    IntegrationRecord,
    MessageAttemptRecord,
    MessageRecord,
    ReminderEventRecord,
    ReminderRecord,
    ReminderSettingsRecord,
    ReservationRecord,
    field_names,
    ids_of,
    ids_text,
)


@pytest.mark.parametrize(
    ("record_type", "table"),
    [
        (InstanceRecord, tables.instances),
        (ApiUserRecord, tables.api_users),
        (ReservationRecord, tables.reservations),
        (MessageRecord, tables.messages),
        (ReminderSettingsRecord, tables.reminder_settings),
        (ReminderRecord, tables.reminders),
        (ReminderEventRecord, tables.reminder_events),
        (AuditEntry, tables.audit_log),
        (IntegrationRecord, tables.clinic_integrations),
        (ClinicCallbackRecord, tables.clinic_callbacks),
        (MessageAttemptRecord, tables.message_attempts),
    ],
)
def test_a_record_holds_every_column_of_its_table(record_type: type, table: Table) -> None:
    # A column added to the table (a migration) must be added to its record too,
    # or the services would never see it.
    assert field_names(record_type) == tuple(column.name for column in table.columns)
    assert [c.name for c in columns_of(table, record_type)] == list(field_names(record_type))


def test_records_are_frozen_and_slotted() -> None:
    assert not hasattr(ReminderSettingsRecord(1, "{}", 0, None), "__dict__")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        ReminderSettingsRecord(1, "{}", 0, None).planner_seq = 2  # type: ignore[arg-type, misc]


def test_the_guides_fields_are_the_reservation_columns() -> None:
    assert RESERVATION_FIELD_NAMES == tables.RESERVATION_FIELD_COLUMNS


def test_reservation_ids_as_a_reminder_stores_them() -> None:
    assert ids_text([15, 12, 15]) == ",12,15,"
    assert ids_of(",12,15,") == [12, 15]
    assert ids_of(",") == []


def test_a_record_built_from_a_row_is_the_frozen_record() -> None:
    build = record_factory(ReservationRecord)
    row: tuple[Any, ...] = tuple(range(len(field_names(ReservationRecord))))

    record = build(row)

    assert type(record) is ReservationRecord
    assert record == ReservationRecord(*row) and hash(record) == hash(ReservationRecord(*row))
    assert replace(record, app_lid="B").app_lid == "B"
    with pytest.raises(FrozenInstanceError):
        record.app_lid = "B"  # type: ignore[misc]
