"""``normalise_phone`` decides validity and mobility from one type lookup for a
mobile field; these hold it to phonenumbers' own two calls on a seeded corpus
of numbers from several regions, valid and not, national and E.164."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from tuotempo_soap.domain.phones import PhoneCheck, normalise_phone

_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _reference(raw: str, region: str, expect_mobile: bool) -> PhoneCheck:
    """The check as phonenumbers spells it, call by call."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return PhoneCheck(text, "is not a phone number")
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(text, f"is not a valid number for region {region}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if expect_mobile and phonenumbers.number_type(number) not in _MOBILE:
        return PhoneCheck(e164, "is not a mobile number; SMS may not reach it")
    return PhoneCheck(e164)


def _corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    made = ["", "abc", "+", "12", "+34 600 000 000", "+800 1234 5678", "+882 3456 7890"]
    # Valid numbers of every type of every region here, as examples and with
    # their last digits changed, national and E.164.
    for region in ("ES", "IT", "GB", "US", "AR", "MX"):
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = str(example.national_number)
            for _ in range(4):
                changed = national[:-3] + f"{rng.randrange(1000):03d}"
                made.append(changed)
                made.append(f"+{example.country_code}{changed}")
    for _ in range(300):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(3, 14)))
        made.append(rng.choice(["", "+", "+34", "+39", "+1", "+44 ", "00", "6", "9"]) + digits)
    return made


@pytest.mark.parametrize("region", ["ES", "IT", "GB", "US", "AR", "MX"])
@pytest.mark.parametrize("expect_mobile", [True, False])
def test_one_lookup_decides_as_two(region: str, expect_mobile: bool) -> None:
    for raw in _corpus(sum(map(ord, region))):
        assert normalise_phone(raw, region, expect_mobile=expect_mobile) == _reference(
            raw, region, expect_mobile
        ), raw


def _e164_corpus() -> list[str]:
    """E.164 strings of every region and type: examples, their last digits
    changed, and with a national prefix or a zero put after the country code
    (the numbers parse itself must decide), plus the non-geographic codes."""
    rng = random.Random(164)
    made = ["+0612345678", "+999123456", "+3", "+34", "+340", "+3461234567890123456"]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefix = (metadata.national_prefix if metadata else None) or "0"
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            code = example.country_code
            national = phonenumbers.national_significant_number(example)
            changed = national[:-2] + f"{rng.randrange(100):02d}"
            made += [f"+{code}{national}", f"+{code}{changed}", f"+{code}{prefix}{national}"]
            made += [f"+{code}0{changed}", f"+{code}{changed}0"]
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            made.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return made


@pytest.mark.parametrize("region", ["ES", "IT", "GB", "AR"])
@pytest.mark.parametrize("expect_mobile", [True, False])
def test_e164_input_decides_as_parse_does(region: str, expect_mobile: bool) -> None:
    """Already-E.164 input skips parse's text handling; the answer is the same
    for every region's numbers, valid or not, whatever the instance's country."""
    for raw in _e164_corpus():
        assert normalise_phone(raw, region, expect_mobile=expect_mobile) == _reference(
            raw, region, expect_mobile
        ), raw


def _national_corpus(region: str) -> list[str]:
    """Digits as a HIS writes a national number, for the instance's ``region``:
    every region's example numbers (the region's own and others', which parse
    may read differently), their last digits changed, behind the national
    prefix, the international call prefix or the country code, and random
    digits of every length parse accepts."""
    rng = random.Random(f"national-{region}")
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    own_code = str(metadata.country_code)
    made = ["00", "0", "000000", "12345678901234567", own_code, own_code + "612345678"]
    for other in sorted(phonenumbers.SUPPORTED_REGIONS):
        other_meta = phonenumbers.PhoneMetadata.metadata_for_region(other)
        prefix = (other_meta.national_prefix if other_meta else None) or "0"
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(other, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            changed = national[:-2] + f"{rng.randrange(100):02d}"
            made += [national, changed, prefix + national, own_code + changed]
            made += [f"00{example.country_code}{national}", f"011{example.country_code}{changed}"]
    for _ in range(400):
        made.append("".join(rng.choice("0123456789") for _ in range(rng.randrange(2, 18))))
    return made


@pytest.mark.parametrize("region", ["ES", "IT", "PT", "GB", "US", "AR", "MX", "BR", "DE", "FR"])
@pytest.mark.parametrize("expect_mobile", [True, False])
def test_national_digits_decide_as_parse_does(region: str, expect_mobile: bool) -> None:
    """Digits without a country code skip parse's text handling; the answer is
    the same as parse's for every region's numbers, prefixed or not."""
    for raw in _national_corpus(region):
        assert normalise_phone(raw, region, expect_mobile=expect_mobile) == _reference(
            raw, region, expect_mobile
        ), raw
