"""The reservation record of the guide (A.1.1 export, A.2.1 TT_RESERVATIONS view).

``FIELDS`` is the single list of wire names, lengths and NOT NULL rules; the
store, the SOAP types and the validation below are all derived from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from .formats import FormatError, format_time, parse_date, parse_time
from .phones import normalise_phone


class Status(StrEnum):
    """STATUS values of the guide, spelled exactly as HIS vendors expect them."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    CANCELLED_BY_USER = "CANCELLED by USER"
    CANCELLED_BY_ADMIN = "CANCELLED by ADMIN"

    @classmethod
    def parse(cls, text: str) -> Status:
        """Tolerate case, underscores and extra blanks: ``cancelled_by_user`` is fine."""
        key = " ".join(text.replace("_", " ").split()).upper()
        for status in cls:
            if status.value.upper() == key:
                return status
        allowed = ", ".join(s.value for s in cls)
        raise FormatError(f"'{text.strip()}' is not a status; expected one of: {allowed}")


class PatientAnswer(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class AnswerChannel(StrEnum):
    """Where a patient's answer came from. ``HIS`` means the clinic told us."""

    HIS = "HIS"
    SMS = "SMS"
    EMAIL = "EMAIL"
    VOICE = "VOICE"
    WEB = "WEB"


class ChangedBy(StrEnum):
    """Who last changed a reservation's STATUS (STATUS_CHANGED_BY).

    The guide has no such field; the values follow its glossary, where the
    back-office is also called the "platform".
    """

    # The clinic: its software pushed the status (updateReservations), or its
    # own agenda did, read by the clinic poller (a cancellation at the desk).
    HIS = "HIS"
    # The patient, answering a reminder (SMS, e-mail link, voice keypad).
    PATIENT = "PATIENT"
    # This platform on the clinic's behalf: a cancellation sent to the clinic
    # through the portal (``appointment delete``, deleteAppointment).
    PLATFORM = "PLATFORM"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    max_length: int
    required: bool = False
    kind: str = "text"  # text | date | time | phone | mobile | email | ...
    personal: bool = False  # stored only when the instance allows patient identity


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("APP_LID", 50, required=True),
    FieldSpec("APP_TID", 50),
    FieldSpec("APP_DATE", 10, required=True, kind="date"),
    FieldSpec("APP_START_TIME", 8, kind="time"),
    FieldSpec("APP_END_TIME", 8, kind="time"),
    FieldSpec("USER_LID", 50),
    FieldSpec("USER_TID", 50),
    FieldSpec("USER_FIRST_NAME", 50, personal=True),
    FieldSpec("USER_SECOND_NAME", 50, personal=True),
    FieldSpec("USER_THIRD_NAME", 50, personal=True),
    FieldSpec("USER_ID_NUMBER", 50, personal=True),
    FieldSpec("USER_LANDLINE_PHONE", 50, kind="phone"),
    FieldSpec("USER_MOBILE_PHONE", 50, kind="mobile"),
    FieldSpec("USER_WORK_PHONE", 50, kind="phone"),
    FieldSpec("USER_EMAIL", 50, kind="email"),
    FieldSpec("PRIVACY", 1, kind="privacy"),
    FieldSpec("COMMUNICATION_PREFERENCES", 3, kind="preferences"),
    FieldSpec("USER_DATE_OF_BIRTH", 10, kind="date"),
    FieldSpec("USER_GENDER", 10, kind="gender"),
    FieldSpec("USER_ZIP_CODE", 10),
    FieldSpec("USER_LANGUAGE", 10, kind="language"),
    FieldSpec("NOTES", 500),
    FieldSpec("RESOURCE_LID", 50, required=True),
    FieldSpec("RESOURCE_NAME", 50),
    FieldSpec("RESOURCE_MOBILE_PHONE", 50, kind="mobile"),
    FieldSpec("RESOURCE_EMAIL", 50, kind="email"),
    FieldSpec("ACTIVITY_LID", 50),
    FieldSpec("INSURANCE_LID", 50),
    FieldSpec("LOCATION_LID", 50),
    FieldSpec("LOCATION_NAME", 50),
    FieldSpec("STATUS", 50, kind="status"),
    FieldSpec("APP_OWNER_LID", 50),
    FieldSpec("APP_OWNER_TID", 50),
    FieldSpec("APP_OWNER_NAME", 50),
)

FIELD_NAMES: tuple[str, ...] = tuple(spec.name for spec in FIELDS)
PERSONAL_FIELDS: frozenset[str] = frozenset(s.name for s in FIELDS if s.personal)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
_GENDERS = {"M": "M", "F": "F", "MALE": "M", "FEMALE": "F"}
_PRIVACY = {"1": "1", "0": "0", "Y": "1", "N": "0", "S": "1"}  # S: sì/sí


@dataclass(frozen=True)
class ItemError:
    """Why one item of a batch was refused: a stable code and the field at fault."""

    code: str
    field: str | None
    message: str


@dataclass
class CleanReservation:
    """A validated reservation: typed values keyed by guide name, plus warnings."""

    app_lid: str
    values: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class ReservationRejectedError(Exception):
    def __init__(self, error: ItemError) -> None:
        super().__init__(error.message)
        self.error = error


# --- converters, one per kind ---------------------------------------------------
#
# A batch repeats the same values over and over (its days, its slot times, a
# patient's e-mail, the status): each distinct text is read once per process
# and the result reused. Only results are cached, never errors, and every
# result is immutable (dates, strings, tuples).


@lru_cache(maxsize=4096)
def _date(text: str) -> date:
    return parse_date(text)


@lru_cache(maxsize=4096)
def _time(text: str) -> str:
    return format_time(parse_time(text))


@lru_cache(maxsize=8192)
def _email(text: str) -> tuple[str, bool]:
    """(stored value, valid)."""
    if not _EMAIL.match(text):
        return text, False
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}", True


@lru_cache(maxsize=256)
def _status(text: str) -> str:
    return Status.parse(text).value


@lru_cache(maxsize=256)
def _language(text: str) -> str:
    if not _LANGUAGE.match(text):
        raise FormatError(f"'{text}' is not a language code such as es, it or en-GB")
    return text.replace("_", "-").lower() if len(text) <= 3 else _tag(text)


def _gender(text: str) -> str:
    gender = _GENDERS.get(text.upper())
    if gender is None:
        raise FormatError(f"'{text}' is not a gender; expected M or F")
    return gender


def _privacy(text: str) -> str:
    privacy = _PRIVACY.get(text.upper())
    if privacy is None:
        raise FormatError(f"'{text}' is not a privacy flag; expected 1 (accepted) or 0")
    return privacy


def _preferences(text: str) -> str:
    if len(text) != 3 or set(text) - {"0", "1"}:
        raise FormatError(
            f"'{text}' is not three 0/1 flags for SMS, e-mail and landline (e.g. 101)"
        )
    return text


# Kinds whose value is the text itself or comes from the text alone.
_PLAIN_CONVERTERS: dict[str, Any] = {
    "date": _date,
    "time": _time,
    "status": _status,
    "gender": _gender,
    "privacy": _privacy,
    "preferences": _preferences,
    "language": _language,
}
_ERROR_CODES = {"date": "INVALID_DATE", "time": "INVALID_TIME"}


@dataclass(frozen=True)
class _Step:
    """How ``clean_reservation`` treats one field, worked out once from ``FIELDS``."""

    spec: FieldSpec
    convert: Any  # text -> value, for the kinds in _PLAIN_CONVERTERS; else None
    error_code: str


_STEPS: tuple[_Step, ...] = tuple(
    _Step(s, _PLAIN_CONVERTERS.get(s.kind), _ERROR_CODES.get(s.kind, "INVALID_VALUE"))
    for s in FIELDS
)


def clean_reservation(
    raw: Mapping[str, object],
    *,
    default_region: str,
    store_identity: bool,
) -> CleanReservation:
    """Validate one incoming reservation; raise ``ReservationRejectedError`` on the first error.

    Missing NOT NULL fields, values longer than the guide allows, impossible
    dates or times and unknown codes are errors. Unusable phone numbers and
    e-mail addresses are warnings: the value is kept and the item is stored.
    """
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for step in _STEPS:
        spec = step.spec
        name = spec.name
        value = raw.get(name)
        text = None if value is None else (str(value).strip() or None)
        if text is None:
            if spec.required:
                raise ReservationRejectedError(
                    ItemError("MISSING_FIELD", name, f"{name} is required")
                )
            values[name] = None
            continue
        if len(text) > spec.max_length:
            raise ReservationRejectedError(
                ItemError(
                    "FIELD_TOO_LONG",
                    name,
                    f"{name} is {len(text)} characters long; at most {spec.max_length} are allowed",
                )
            )
        if spec.personal and not store_identity:
            # The guide asks HIS vendors to leave these empty; the instance
            # decides whether we keep them at all (default: we do not).
            values[name] = None
            continue
        kind = spec.kind
        try:
            if step.convert is not None:
                values[name] = step.convert(text)
            elif kind == "text":
                values[name] = text
            elif kind == "email":
                values[name], valid = _email(text)
                if not valid:
                    warnings.append(f"{name} is not a valid e-mail address; stored as given")
            else:  # phone, mobile
                check = normalise_phone(text, default_region, expect_mobile=kind == "mobile")
                if check.problem:
                    warnings.append(f"{name} {check.problem}; stored as given")
                values[name] = check.value
        except FormatError as exc:
            error = ItemError(step.error_code, name, f"{name}: {exc}")
            raise ReservationRejectedError(error) from None
    start, end = values["APP_START_TIME"], values["APP_END_TIME"]
    if start and end and end < start:
        raise ReservationRejectedError(
            ItemError(
                "INVALID_TIME",
                "APP_END_TIME",
                f"APP_END_TIME {end} is before APP_START_TIME {start}",
            )
        )
    return CleanReservation(app_lid=values["APP_LID"], values=values, warnings=warnings)


def _tag(text: str) -> str:
    language, _, region = text.replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}"


def answer_from_status(status: str | None) -> PatientAnswer | None:
    """The patient answer implied when the HIS itself reports one (A.1.2 flow)."""
    if status == Status.CANCELLED_BY_USER.value:
        return PatientAnswer.CANCELLED
    return None


def as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
