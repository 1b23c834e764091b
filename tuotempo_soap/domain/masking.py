"""Patient data as operators see it by default: enough to tell two patients
apart on a screen, not enough to contact one (``+34 6** ** ** 78``,
``a***@e***.com``, ``A**``).

What a person reads over an operator's shoulder, or pastes into a ticket, then
holds no usable phone number, address or name; the unmasked value is one
explicit option away (``--unmasked`` in the CLI).
"""

from __future__ import annotations

import phonenumbers

_KEEP_LAST = 2


def _star_digits(text: str, keep_first: int, keep_last: int) -> str:
    """``text`` with every letter and digit starred but the first ``keep_first`` and
    the last ``keep_last`` digits; spaces and punctuation stay in place."""
    positions = [i for i, char in enumerate(text) if char.isdigit()]
    keep = set(positions[:keep_first]) | set(positions[len(positions) - keep_last :])
    if len(positions) <= keep_first + keep_last:
        keep = set(positions[len(positions) - min(keep_last, len(positions) // 2) :])
    return "".join("*" if char.isalnum() and i not in keep else char for i, char in enumerate(text))


def mask_phone(value: str) -> str:
    """``+34612345678`` -> ``+34 6** ** ** 78``: the country code, the first digit
    and the last two; anything not a number keeps only its last two digits."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else "ZZ")
    except phonenumbers.NumberParseException:
        return _star_digits(text, 0, _KEEP_LAST)
    shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    prefix = f"+{number.country_code} "
    if not shown.startswith(prefix):
        return _star_digits(text, 0, _KEEP_LAST)
    return prefix + _star_digits(shown[len(prefix) :], 1, _KEEP_LAST)


def mask_email(value: str) -> str:
    """``ana.garcia@example.com`` -> ``a***@e***.com``."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return _mask_text(value)
    name, dot, top = domain.rpartition(".")
    masked_domain = f"{name[:1]}***{dot}{top}" if dot and name else f"{domain[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def _mask_text(value: str) -> str:
    text = value.strip()
    return f"{text[:1]}{'*' * max(len(text) - 1, 2)}" if text else text


def mask_name(value: str) -> str:
    """``Ana García`` -> ``A** G*****``: each word's initial."""
    return " ".join(_mask_text(word) for word in value.split())


def mask_recipient(value: str) -> str:
    """A message recipient: an e-mail address, a phone number, or a push token."""
    if "@" in value:
        return mask_email(value)
    if sum(char.isdigit() for char in value) >= 6 and not any(c.isalpha() for c in value):
        return mask_phone(value)
    return f"{value[:4]}***" if len(value) > 8 else _mask_text(value)
