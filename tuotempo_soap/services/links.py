"""Signed, expiring, single-purpose links for patients' answers by e-mail.

A link carries only a signed token (reminder id and action), never patient
data. It expires (by default with the appointment), serves one purpose (a
confirm link cannot cancel) and answers once (``services.answers.link_answer``).
The page it opens posts back with a form token derived from the link token.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..config import Settings

ACTIONS = ("confirm", "cancel")


class LinkError(Exception):
    """The link is forged, damaged, expired or not for this action."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    reminder_id: int
    action: str


def secret_key(settings: Settings) -> str:
    """TUOTEMPO_SECRET_KEY, else a random key kept (0600) in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _create_once(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _create_once(path: Path, content: str) -> None:
    """``path`` with ``content`` (0600) unless it exists, whole or not at all.

    Processes starting together (gunicorn's workers, several ``worker``
    commands) must agree on one key and none may read a half-written file: the
    key is written to a temporary file, then hard-linked to its name, which
    fails for every process but the first.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 0600
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # FileExistsError: another process was first, and its key is the key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class LinkSigner:
    def __init__(self, key: str) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="tuotempo-answer-link")
        # A separate key for form tokens, so neither can stand in for the other.
        self._form_key = hmac.new(key.encode(), b"tuotempo-answer-form", hashlib.sha256).digest()

    def form_token(self, token: str) -> str:
        """The CSRF token of the answer page's form: an HMAC of the link token, so
        only a page we served for this very link can post its answer."""
        return hmac.new(self._form_key, token.encode(), hashlib.sha256).hexdigest()

    def form_token_ok(self, token: str, given: str | None) -> bool:
        if not given:
            return False
        expected = self.form_token(token).encode()
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected)

    def token(self, reminder_id: int, action: str) -> str:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        return str(self._serializer.dumps([reminder_id, action]))

    def read(self, token: str, *, max_age_seconds: int) -> Answer:
        try:
            reminder_id, action = self._serializer.loads(token, max_age=max_age_seconds)
        except SignatureExpired:
            raise LinkError("this link has expired") from None
        except (BadSignature, ValueError, TypeError):
            raise LinkError("this link is not valid") from None
        if action not in ACTIONS or not isinstance(reminder_id, int):
            raise LinkError("this link is not valid")
        return Answer(reminder_id, action)
