from datetime import date

import pytest

from tuotempo_soap.domain.reservation import (
    ReservationRejectedError,
    Status,
    clean_reservation,
)


def base(**overrides: object) -> dict[str, object]:
    item: dict[str, object] = {"APP_LID": "A-1", "APP_DATE": "24/02/2027", "RESOURCE_LID": "DR-1"}
    item.update(overrides)
    return item


def clean(item: dict[str, object], identity: bool = False):  # type: ignore[no-untyped-def]
    return clean_reservation(item, default_region="ES", store_identity=identity)


def rejected(item: dict[str, object]) -> tuple[str, str | None]:
    with pytest.raises(ReservationRejectedError) as info:
        clean(item)
    return info.value.error.code, info.value.error.field


def test_minimal_reservation() -> None:
    result = clean(base())
    assert result.app_lid == "A-1"
    assert result.values["APP_DATE"] == date(2027, 2, 24)
    assert result.warnings == []


@pytest.mark.parametrize("field", ["APP_LID", "APP_DATE", "RESOURCE_LID"])
def test_not_null_fields(field: str) -> None:
    assert rejected(base(**{field: "  "})) == ("MISSING_FIELD", field)


def test_lengths_from_the_guide() -> None:
    assert rejected(base(RESOURCE_LID="R" * 60)) == ("FIELD_TOO_LONG", "RESOURCE_LID")
    assert rejected(base(NOTES="n" * 501)) == ("FIELD_TOO_LONG", "NOTES")
    assert clean(base(NOTES="n" * 500)).values["NOTES"] == "n" * 500


def test_dates_times_and_codes() -> None:
    assert rejected(base(APP_DATE="31/02/2026")) == ("INVALID_DATE", "APP_DATE")
    assert rejected(base(APP_START_TIME="25:61")) == ("INVALID_TIME", "APP_START_TIME")
    assert rejected(base(APP_START_TIME="10:00", APP_END_TIME="09:00")) == (
        "INVALID_TIME",
        "APP_END_TIME",
    )
    assert rejected(base(STATUS="MAYBE")) == ("INVALID_VALUE", "STATUS")
    assert rejected(base(COMMUNICATION_PREFERENCES="12")) == (
        "INVALID_VALUE",
        "COMMUNICATION_PREFERENCES",
    )
    assert rejected(base(USER_GENDER="X")) == ("INVALID_VALUE", "USER_GENDER")
    assert rejected(base(PRIVACY="X")) == ("INVALID_VALUE", "PRIVACY")


def test_lenient_input_answers_in_guide_format() -> None:
    result = clean(
        base(
            APP_DATE="2027-02-24",
            APP_START_TIME="9:05:00",
            STATUS="cancelled_by_user",
            USER_GENDER="f",
            PRIVACY="Y",
            USER_LANGUAGE="EN_gb",
        )
    )
    assert result.values["APP_START_TIME"] == "09:05"
    assert result.values["STATUS"] == Status.CANCELLED_BY_USER.value
    assert result.values["USER_GENDER"] == "F"
    assert result.values["PRIVACY"] == "1"
    assert result.values["USER_LANGUAGE"] == "en-GB"


def test_phones_normalised_or_warned() -> None:
    result = clean(base(USER_MOBILE_PHONE="612 34 56 78", USER_LANDLINE_PHONE="+39 06 1234 5678"))
    assert result.values["USER_MOBILE_PHONE"] == "+34612345678"
    assert result.values["USER_LANDLINE_PHONE"] == "+390612345678"
    odd = clean(base(USER_MOBILE_PHONE="12", USER_EMAIL="not-an-email"))
    assert odd.values["USER_MOBILE_PHONE"] == "12"
    assert any("USER_MOBILE_PHONE" in w for w in odd.warnings)
    assert any("USER_EMAIL" in w for w in odd.warnings)


def test_patient_identity_kept_only_when_the_instance_allows_it() -> None:
    item = base(USER_FIRST_NAME="Ana", USER_ID_NUMBER="12345678Z")
    assert clean(item).values["USER_FIRST_NAME"] is None
    assert clean(item).values["USER_ID_NUMBER"] is None
    assert clean(item, identity=True).values["USER_FIRST_NAME"] == "Ana"
