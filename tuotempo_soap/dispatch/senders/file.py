"""A sender that appends each message to a JSON-lines file, for development and the demo.

The file holds everything a real provider would get, patient data included:
it is not meant for production. Each line goes out in one ``write`` on a file
opened with ``O_APPEND``, so lines from several threads or worker processes
do not interleave on a local file system.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from ..base import OutgoingMessage, SendResult

log = logging.getLogger(__name__)


class FileSender:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def line(self, message: OutgoingMessage) -> bytes:
        record: dict[str, object] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "provider": self.name,
            **dataclasses.asdict(message),
        }
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")

    def send(self, message: OutgoingMessage) -> SendResult:
        data = self.line(message)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning(
                "file provider=%s message=%s failed: %s", self.name, message.message_id, exc
            )
            return SendResult.retry(f"cannot write {self.path.name}: {exc.strerror or exc}")
        if written != len(data):  # a full disk; the torn line is the reader's problem
            return SendResult.retry(f"short write to {self.path.name}")
        log.info("file provider=%s message=%s outcome=sent", self.name, message.message_id)
        return SendResult.sent(f"file-{message.reference}")

    def close(self) -> None:
        """Nothing held open between sends."""
