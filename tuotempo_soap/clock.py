"""The one clock of the process: naive UTC, as the store keeps every timestamp.

Entry points may point it at a file holding the time (``TUOTEMPO_CLOCK_FILE``,
ISO 8601, UTC) so that end-to-end tests can move time for the server, the
worker and the CLI at once. Never set it in production.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

_clock_file: Path | None = None


def configure(clock_file: Path | None) -> None:
    global _clock_file
    _clock_file = clock_file


def utcnow() -> datetime:
    if _clock_file is not None:
        text = _clock_file.read_text().strip()
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    return datetime.now(UTC).replace(tzinfo=None)
