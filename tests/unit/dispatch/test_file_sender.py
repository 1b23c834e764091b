"""FileSender: one JSON line per message, appended."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tuotempo_soap.dispatch.base import Outcome, OutgoingMessage
from tuotempo_soap.dispatch.senders.file import FileSender


def message(message_id: int) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        reference=f"ref{message_id}",
        instance="tt_acme",
        channel="EMAIL",
        recipient="ana@example.org",
        text="Cita mañana\n10:00",
        subject="Recordatorio",
        email_from="clinic@example.org",
    )


def test_each_message_is_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "outbox-sent.log"
    sender = FileSender("console", path)
    first = sender.send(message(1))
    sender.send(message(2))
    sender.close()

    assert first.outcome is Outcome.SENT
    assert first.provider_message_id == "file-ref1"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["message_id"] == 1
    assert record["provider"] == "console"
    assert record["recipient"] == "ana@example.org"
    assert record["text"] == "Cita mañana\n10:00"
    assert record["subject"] == "Recordatorio"
    assert record["sender_id"] is None
    assert datetime.fromisoformat(record["timestamp"]).tzinfo is not None
    assert json.loads(lines[1])["message_id"] == 2


def test_an_unwritable_file_is_retried(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()  # a directory where the file should be
    result = FileSender("console", tmp_path / "taken").send(message(3))
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error.startswith("cannot write taken")
