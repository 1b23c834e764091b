"""The cancellations file back to the clinic (guide A.1.2.1).

``cancellation_row`` turns one patient change into a line (the guide's fields,
then the patient's answer, its channel and time, and when the status changed,
in the instance's time zone); ``CancellationFile`` writes the lines to a local
temporary file and uploads it atomically (``FileTransport.upload``: a hidden
temporary name, then a rename), so the clinic never reads half a file.
Which changes go in a file, and that each goes in exactly one, is the
service's business (``services.file_exports``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.formats import format_timestamp
from ..domain.reservation import Status
from .formats import CancellationWriter
from .transports import FileTransport


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    if moment is None:
        return None
    return format_timestamp(moment.replace(tzinfo=UTC).astimezone(zone))


_CANCELLED = frozenset({Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value})


def is_cancellation(values: Mapping[str, Any]) -> bool:
    """Whether a change cancelled the appointment."""
    return values.get("status") in _CANCELLED


def cancellation_row(
    *,
    app_lid: str,
    landline: str | None,
    mobile: str | None,
    email: str | None,
    resource_lid: str,
    values: Mapping[str, Any],
    changed_at: datetime,
    zone: ZoneInfo,
) -> dict[str, str | None]:
    """One line of the file; ``values``: what the change wrote (status, answer...)."""
    answered = values.get("patient_answer") is not None
    return {
        "APP_LID": app_lid,
        "USER_LANDLINE_PHONE": landline,
        "USER_MOBILE_PHONE": mobile,
        "USER_EMAIL": email,
        "RESOURCE_LID": resource_lid,
        "STATUS": values.get("status"),
        "PATIENT_ANSWER": values.get("patient_answer"),
        "PATIENT_ANSWER_CHANNEL": values.get("patient_answer_channel"),
        "PATIENT_ANSWER_TIME": _local(changed_at, zone) if answered else None,
        "STATUS_CHANGED_AT": _local(changed_at, zone) if is_cancellation(values) else None,
    }


class CancellationFile:
    """A cancellations file being written to a local temporary file."""

    def __init__(self, directory: Path | None, *, delimiter: str, encoding: str) -> None:
        handle, path = tempfile.mkstemp(prefix="cancellations-", suffix=".csv", dir=directory)
        os.close(handle)
        self.path = Path(path)
        self._stream = open(  # noqa: SIM115 - closed by close()
            self.path, "w", encoding=encoding, errors="replace", newline=""
        )
        self._writer = CancellationWriter(self._stream, delimiter)
        self.rows = 0

    def write(self, row: Mapping[str, str | None]) -> None:
        self._writer.write(row)
        self.rows += 1

    def upload(self, transport: FileTransport, folder: str, name: str) -> None:
        self._stream.close()
        with open(self.path, "rb") as source:
            transport.upload(folder, name, source)

    def close(self) -> None:
        self._stream.close()
        self.path.unlink(missing_ok=True)
