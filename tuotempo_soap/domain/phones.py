"""Phone numbers, normalised to E.164 against the instance's default country."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

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
    return _with_leading_zeros(
        PhoneNumber(country_code=country_code, national_number=int(rest)), rest
    )


# A national number written as digits only, as most HIS store them.
_NATIONAL_DIGITS = re.compile(r"[0-9]{2,17}")


def _from_national(digits: str, region: str) -> PhoneNumber | None:
    """The number ``phonenumbers.parse(digits, region)`` makes of digits written
    without a country code, without its general text handling; None when parse
    must decide.

    Parse would first strip an international call prefix ("00" in Spain), then
    read digits starting with the region's own country code as possibly
    carrying it, then strip a national prefix where the region's pattern
    matches: digits where any of those could apply go to parse itself. The rest
    is the region's country code and the digits as they are. The unit tests hold
    this to parse on every region's example numbers and on random digits.
    """
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None:
        return None
    idd = metadata.international_prefix
    if idd and re.match(idd, digits):
        return None
    if digits.startswith(str(metadata.country_code)):
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, digits):
        return None
    return _with_leading_zeros(
        PhoneNumber(country_code=metadata.country_code, national_number=int(digits)), digits
    )


def _with_leading_zeros(number: PhoneNumber, national: str) -> PhoneNumber:
    """As parse records them: "leading zeros" that are part of the number (Italy)."""
    if len(national) > 1 and national[0] == "0":
        number.italian_leading_zero = True
        zeros = 1
        while zeros < len(national) - 1 and national[zeros] == "0":
            zeros += 1
        if zeros != 1:
            number.number_of_leading_zeros = zeros
    return number


# parse's type lookup, in its order: the first matching description wins.
_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


@dataclass(frozen=True)
class _Desc:
    """One of a region's number descriptions, its pattern compiled once."""

    lengths: frozenset[int]
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, desc: Any) -> _Desc:
        text = desc.national_number_pattern if desc is not None else None
        return cls(
            frozenset(desc.possible_length if desc is not None else ()),
            re.compile(text) if text else None,
        )

    def matches(self, national: str) -> bool:
        # phonenumbers' _is_number_matching_desc with no prefix match allowed.
        if self.pattern is None or (self.lengths and len(national) not in self.lengths):
            return False
        return self.pattern.fullmatch(national) is not None


@dataclass(frozen=True)
class _TypePlan:
    general: _Desc
    special: tuple[tuple[_Desc, int], ...]
    fixed_line: _Desc
    mobile: _Desc
    same_mobile_and_fixed: bool

    def number_type(self, national: str) -> int:
        """``phonenumbers.number_type`` of a number of this plan's country."""
        if not self.general.matches(national):
            return PhoneNumberType.UNKNOWN
        for desc, kind in self.special:
            if desc.matches(national):
                return kind
        if self.fixed_line.matches(national):
            if self.same_mobile_and_fixed or self.mobile.matches(national):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same_mobile_and_fixed and self.mobile.matches(national):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


@cache
def _type_plan(country_code: int) -> _TypePlan | None:
    """The type lookup of a country code that belongs to one region; None for
    shared codes (+1, +44, +7...), where phonenumbers first finds the region."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None or len(regions) != 1:
        return None
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    if metadata is None:
        return None
    return _TypePlan(
        general=_Desc.of(metadata.general_desc),
        special=tuple((_Desc.of(getattr(metadata, name)), kind) for name, kind in _SPECIAL_TYPES),
        fixed_line=_Desc.of(metadata.fixed_line),
        mobile=_Desc.of(metadata.mobile),
        same_mobile_and_fixed=bool(metadata.same_mobile_and_fixed_line_pattern),
    )


def _number_type(number: PhoneNumber) -> int:
    """``phonenumbers.number_type(number)``, with each region's patterns compiled
    once instead of looked up in the regex cache for every description."""
    plan = _type_plan(number.country_code)
    if plan is None:
        return int(phonenumbers.number_type(number))
    return plan.number_type(phonenumbers.national_significant_number(number))


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
    region = default_region.upper()
    if _E164.fullmatch(text):
        number = _from_e164(text)
    elif _NATIONAL_DIGITS.fullmatch(text):
        number = _from_national(text, region)
    else:
        number = None
    if number is None:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return PhoneCheck(text, "is not a phone number")
    # For a mobile field the number's type is needed anyway, and it already
    # says whether the number is valid (phonenumbers' is_valid_number is
    # "number_type is not UNKNOWN" for the number's own region): one pass over
    # the region's patterns instead of two.
    kind = _number_type(number) if expect_mobile else None
    valid = (
        kind != PhoneNumberType.UNKNOWN if expect_mobile else phonenumbers.is_valid_number(number)
    )
    if not valid:
        return PhoneCheck(text, f"is not a valid number for region {region}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if expect_mobile and kind not in _MOBILE_TYPES:
        return PhoneCheck(e164, "is not a mobile number; SMS may not reach it")
    return PhoneCheck(e164)
