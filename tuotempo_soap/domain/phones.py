"""Phone numbers, normalised to E.164 against the instance's default country."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType


@dataclass(frozen=True)
class PhoneCheck:
    """``value`` is what we store; ``problem`` is set when the number is unusable."""

    value: str
    problem: str | None = None


_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def is_valid_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


# A HIS re-sends the same appointments every few hours; parsing a number is
# the costliest check of a reservation. Bounded, per process, never logged.
@lru_cache(maxsize=8192)
def normalise_phone(raw: str, default_region: str, *, expect_mobile: bool = False) -> PhoneCheck:
    """E.164 for a usable number; otherwise the trimmed input and the reason.

    An unusable number is kept as given so nothing the HIS sent is lost; the
    caller turns ``problem`` into a warning.
    """
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        return PhoneCheck(text, "is not a phone number")
    # For a mobile field the number's type is needed anyway, and it already
    # says whether the number is valid (phonenumbers' is_valid_number is
    # "number_type is not UNKNOWN" for the number's own region): one pass over
    # the region's patterns instead of two.
    kind = phonenumbers.number_type(number) if expect_mobile else None
    valid = (
        kind != PhoneNumberType.UNKNOWN if expect_mobile else phonenumbers.is_valid_number(number)
    )
    if not valid:
        return PhoneCheck(text, f"is not a valid number for region {default_region.upper()}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if expect_mobile and kind not in _MOBILE_TYPES:
        return PhoneCheck(e164, "is not a mobile number; SMS may not reach it")
    return PhoneCheck(e164)
