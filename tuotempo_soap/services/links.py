"""Signed, expiring, single-purpose links for patients' answers by e-mail.

A link carries only a signed token (reminder id and action), never patient
data. It expires (by default with the appointment), serves one purpose (a
confirm link cannot cancel) and answers once (``services.answers.link_answer``).
The page it opens posts back with a form token derived from the link token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
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
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


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
