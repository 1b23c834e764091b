"""Phone numbers, normalised to E.164 against the instance's default country."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, PhoneNumberType


@dataclass(frozen=True)
class PhoneCheck:
    """``value`` is what we store; ``problem`` is set when the number is unusable."""

    value: str
    problem: str | None = None


_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# A number already written as E.164: "+", a country code, the national number.
_E164 = re.compile(r"\+[1-9][0-9]{2,18}")
# phonenumbers' bounds on a national significant number.
_NSN_LENGTHS = range(2, 18)


def is_valid_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def _from_e164(text: str) -> PhoneNumber | None:
    """The number ``phonenumbers.parse`` makes of an E.164 string, without its
    general text handling (most of its cost); None when parse must decide.

    For "+<digits>" parse takes the country code (codes are prefix-free), then
    strips a national prefix only where the region's prefix pattern matches the
    rest: those numbers, and anything unusual, go to parse itself. The unit tests
    hold this to parse on every example number of every region.
    """
    digits = text[1:]
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    rest = digits[size:]
    if len(rest) not in _NSN_LENGTHS:
        return None
    region = COUNTRY_CODE_TO_REGION_CODE[country_code][0]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, rest):
        return None
    number = PhoneNumber(country_code=country_code, national_number=int(rest))
    if rest[0] == "0":
        # As parse records it: "leading zeros" that are part of the number (Italy).
        number.italian_leading_zero = True
        zeros = 1
        while zeros < len(rest) - 1 and rest[zeros] == "0":
            zeros += 1
        if zeros != 1:
            number.number_of_leading_zeros = zeros
    return number


# A HIS re-sends the same appointments every few hours; parsing a number is
# the costliest check of a reservation. Bounded per process (about 300 bytes an
# entry: 32768 numbers is ~10 MB), keyed by the text as sent, the region and the
# field's kind; never logged. Sized for a clinic's whole agenda: an LRU smaller
# than what is re-sent in one cycle would hit nothing.
@lru_cache(maxsize=32768)
def normalise_phone(raw: str, default_region: str, *, expect_mobile: bool = False) -> PhoneCheck:
    """E.164 for a usable number; otherwise the trimmed input and the reason.

    An unusable number is kept as given so nothing the HIS sent is lost; the
    caller turns ``problem`` into a warning.
    """
    text = raw.strip()
    number = _from_e164(text) if _E164.fullmatch(text) else None
    if number is None:
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
