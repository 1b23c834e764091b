"""TT_RESERVATIONS rows joined with TT_RESOURCES into the reservations we send."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tuotempo_soap.sincro.formats import DateFormat, TimeFormat
from tuotempo_soap.sincro.rows import Resource, RowError, RowMapper

DOCTOR = {
    "RESOURCE_LID": 7,
    "RESOURCE_FIRST_NAME": "Ana",
    "RESOURCE_SECOND_NAME": "Rossi",
    "RESOURCE_MOBILE_PHONE": None,
    "RESOURCE_EMAIL": "ana@clinic.example",
    "LOCATION_LID": "C1",
    "LOCATION_NAME": "Centro",
    "WEB_ENABLED": 1,
}


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "APP_LID": 1001,
        "APP_DATE": 20261203,
        "APP_START_TIME": timedelta(hours=9, minutes=30),
        "RESOURCE_LID": "7",
        "USER_LID": "P1",
        "USER_FIRST_NAME": "Maria",
        "USER_MOBILE_PHONE": " 611 111 111 ",
        "STATUS": "booked",
    }
    return {**base, **changes}


def mapper(**options: object) -> RowMapper:
    return RowMapper(
        date_formats={"APP_DATE": DateFormat.named("yyyymmdd")},
        status_map={"BOOKED": "APPROVED"},
        **options,  # type: ignore[arg-type]
    )


def resources(**changes: object) -> dict[str, Resource]:
    doctor = Resource.from_row({**DOCTOR, **changes})
    return {doctor.lid: doctor}


def test_a_row_becomes_the_reservation_the_server_takes() -> None:
    mapped = mapper().map(row(), resources())
    assert mapped is not None
    assert mapped.item == {
        "APP_LID": "1001",
        "APP_DATE": "03/12/2026",
        "APP_START_TIME": "09:30",
        "RESOURCE_LID": "7",
        "USER_LID": "P1",
        "USER_MOBILE_PHONE": "611 111 111",
        "STATUS": "APPROVED",
        # from TT_RESOURCES
        "RESOURCE_NAME": "Ana Rossi",
        "RESOURCE_EMAIL": "ana@clinic.example",
        "LOCATION_LID": "C1",
        "LOCATION_NAME": "Centro",
    }
    assert mapped.app_lid == "1001" and mapped.resource_lid == "7"
    assert mapped.app_date == date(2026, 12, 3)


def test_patient_names_stay_at_the_clinic_unless_asked_for() -> None:
    assert "USER_FIRST_NAME" not in mapper().map(row(), resources()).item  # type: ignore[union-attr]
    sent = mapper(send_patient_identity=True).map(row(), resources())
    assert sent is not None and sent.item["USER_FIRST_NAME"] == "Maria"


def test_the_rows_own_location_wins_over_its_resources() -> None:
    mapped = mapper().map(row(LOCATION_NAME="Norte"), resources())
    assert mapped is not None and mapped.item["LOCATION_NAME"] == "Norte"


def test_a_resource_not_in_tt_resources_is_not_sent() -> None:
    assert mapper().map(row(RESOURCE_LID="8"), resources()) is None


def test_a_change_of_the_resource_changes_the_checksum_of_its_reservations() -> None:
    before = mapper().map(row(), resources())
    after = mapper().map(row(), resources(LOCATION_NAME="Centro 2"))
    unchanged = mapper().map(row(), resources(WEB_ENABLED=0))
    assert before and after and unchanged
    assert before.checksum != after.checksum
    # WEB_ENABLED is not part of a reservation: nothing to send again.
    assert before.checksum == unchanged.checksum


def test_unknown_status_codes_go_as_they_are_for_the_server_to_judge() -> None:
    mapped = mapper().map(row(STATUS="WAITLIST"), resources())
    assert mapped is not None and mapped.item["STATUS"] == "WAITLIST"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"APP_DATE": 20261301}, "APP_DATE"),
        ({"APP_DATE": None}, "APP_DATE"),
        ({"APP_START_TIME": 930}, "APP_START_TIME"),
        ({"RESOURCE_LID": None}, "RESOURCE_LID"),
    ],
)
def test_an_unreadable_row_names_its_app_lid_and_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(RowError) as raised:
        mapper().map(row(**changes), resources())
    assert raised.value.app_lid == "1001" and raised.value.field == field


def test_time_formats_apply_per_field() -> None:
    custom = RowMapper(time_formats={"APP_START_TIME": TimeFormat.named("hhmm")})
    mapped = custom.map(row(APP_DATE="03/12/2026", APP_START_TIME=930), resources())
    assert mapped is not None and mapped.item["APP_START_TIME"] == "09:30"
