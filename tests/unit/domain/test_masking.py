"""Patient data as operators see it by default: enough to tell two patients
apart, never enough to reach one."""

from __future__ import annotations

import pytest

from tuotempo_soap.domain.masking import mask_email, mask_name, mask_phone, mask_recipient


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+34612345678", "+34 6** ** ** 78"),
        ("+393471234567", "+39 3** *** **67"),
        ("612345678", "*******78"),  # kept as the HIS sent it: only its end
    ],
)
def test_phone_numbers_keep_the_country_the_first_digit_and_the_last_two(
    stored: str, shown: str
) -> None:
    assert mask_phone(stored) == shown


def test_addresses_and_names_keep_their_initials() -> None:
    assert mask_email("Ana.Garcia@example.com") == "A***@e***.com"
    assert mask_name("Ana García") == "A** G*****"
    assert mask_recipient("ana@clinic.example") == "a***@c***.example"
    assert mask_recipient("+34612345678") == "+34 6** ** ** 78"
    assert mask_recipient("ExponentPushToken[abcdef123]") == "Expo***"


@pytest.mark.parametrize("value", ["+34612345678", "ana.garcia@example.com", "García López"])
def test_nothing_masked_holds_the_value(value: str) -> None:
    for masked in (mask_phone(value), mask_email(value), mask_name(value), mask_recipient(value)):
        assert value not in masked
        assert "345" not in masked and "garcia" not in masked.lower()
