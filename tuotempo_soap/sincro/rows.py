"""View rows turned into the reservations our server takes (``updateReservations``).

A TT_RESERVATIONS row names its resource by RESOURCE_LID; the resource's name,
contacts and location come from TT_RESOURCES, which also chooses what is sent
at all (A.2.1: "enables the filtering of resources according to what needs to
be transmitted"): a reservation of a resource absent from TT_RESOURCES is not
sent. Patients' names and ID numbers are left out unless the configuration
asks for them (A.2.2: "the name of the patient should not be transmitted").

Each reservation gets a checksum of what would be sent, resource fields
included, so a change in either view is a change of the reservation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..domain.formats import FormatError, parse_date
from ..domain.reservation import FIELD_NAMES, PERSONAL_FIELDS, Status
from .formats import DateFormat, TimeFormat

RESOURCE_FIELDS = (
    "RESOURCE_LID",
    "RESOURCE_FIRST_NAME",
    "RESOURCE_SECOND_NAME",
    "RESOURCE_MOBILE_PHONE",
    "RESOURCE_EMAIL",
    "LOCATION_LID",
    "LOCATION_NAME",
    "WEB_ENABLED",
    "AVAILABILITIES_STEP",
)
# What a reservation takes from its resource when the row itself has nothing.
_INHERITED = ("RESOURCE_MOBILE_PHONE", "RESOURCE_EMAIL", "LOCATION_LID", "LOCATION_NAME")
_DATE_FIELDS = ("APP_DATE", "USER_DATE_OF_BIRTH")
_TIME_FIELDS = ("APP_START_TIME", "APP_END_TIME")
_AUTO_DATE = DateFormat.named("auto")
_AUTO_TIME = TimeFormat.named("auto")


class RowError(Exception):
    """One row that cannot be sent as it is: the field and why, never its value."""

    def __init__(self, app_lid: str | None, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.app_lid = app_lid
        self.field = field
        self.reason = reason


def text(value: object) -> str | None:
    """A column value as trimmed text; None for NULL or blank."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Decimal):
        # 600123123.00 from a NUMERIC column is the number 600123123.
        value = value.to_integral_value() if value == value.to_integral_value() else value
    return str(value).strip() or None


def checksum(values: Mapping[str, object]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Resource:
    """One TT_RESOURCES row, as far as reservations use it."""

    lid: str
    name: str | None
    fields: Mapping[str, str | None]
    checksum: str

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Resource:
        lid = text(row.get("RESOURCE_LID"))
        if lid is None:
            raise RowError(None, "RESOURCE_LID", "is empty in TT_RESOURCES")
        fields = {name: text(row.get(name)) for name in RESOURCE_FIELDS}
        parts = [p for p in (fields["RESOURCE_FIRST_NAME"], fields["RESOURCE_SECOND_NAME"]) if p]
        return cls(lid, " ".join(parts) or None, fields, checksum(fields))


@dataclass(frozen=True)
class ViewRow:
    """One reservation ready to send, with what the agent keeps about it."""

    app_lid: str
    app_date: date
    resource_lid: str
    item: dict[str, str]
    checksum: str


class RowMapper:
    """Turns TT_RESERVATIONS rows (keys: the guide's column names in capitals)
    into reservation items."""

    def __init__(
        self,
        *,
        date_formats: Mapping[str, DateFormat] | None = None,
        time_formats: Mapping[str, TimeFormat] | None = None,
        status_map: Mapping[str, str] | None = None,
        send_patient_identity: bool = False,
    ) -> None:
        self._dates = {name: (date_formats or {}).get(name, _AUTO_DATE) for name in _DATE_FIELDS}
        self._times = {name: (time_formats or {}).get(name, _AUTO_TIME) for name in _TIME_FIELDS}
        self._status = {k.upper(): v for k, v in (status_map or {}).items()}
        self._fields = tuple(
            name for name in FIELD_NAMES if send_patient_identity or name not in PERSONAL_FIELDS
        )

    def map(self, row: Mapping[str, object], resources: Mapping[str, Resource]) -> ViewRow | None:
        """The row as an item; None when its resource is not in TT_RESOURCES."""
        app_lid = text(row.get("APP_LID"))
        if app_lid is None:
            raise RowError(None, "APP_LID", "is empty")
        resource_lid = text(row.get("RESOURCE_LID"))
        if resource_lid is None:
            raise RowError(app_lid, "RESOURCE_LID", "is empty")
        resource = resources.get(resource_lid)
        if resource is None:
            return None
        item: dict[str, str] = {}
        for name in self._fields:
            value = self._value(app_lid, name, row.get(name))
            if value is not None:
                item[name] = value
        if "RESOURCE_NAME" not in item and resource.name:
            item["RESOURCE_NAME"] = resource.name[:50]
        for name in _INHERITED:
            inherited = resource.fields.get(name)
            if name not in item and inherited:
                item[name] = inherited
        if "APP_DATE" not in item:
            raise RowError(app_lid, "APP_DATE", "is empty")
        return ViewRow(
            app_lid=app_lid,
            app_date=parse_date(item["APP_DATE"]),
            resource_lid=resource_lid,
            item=item,
            checksum=checksum(item),
        )

    def _value(self, app_lid: str, name: str, value: object) -> str | None:
        try:
            if name in self._dates:
                return self._dates[name].read(value)
            if name in self._times:
                return self._times[name].read(value)
        except FormatError as exc:
            raise RowError(app_lid, name, str(exc)) from None
        found = text(value)
        if name == "STATUS" and found is not None:
            return self._status.get(found.upper(), found)
        return found


CANCELLED = frozenset({Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value})


def is_cancelled(status: str | None) -> bool:
    if status is None:
        return False
    try:
        return Status.parse(status).value in CANCELLED
    except FormatError:
        return False
