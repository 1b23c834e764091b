"""Back-office sessions in a signed cookie, and the key that signs them.

The cookie holds no patient data and nothing secret: the operator's id, a
digest that changes with the operator's password (changing it ends every
session), the session's CSRF token, when it was opened and last used, and at
most one notice word for the next page. It is signed (itsdangerous, HMAC with
the admin key), so it cannot be forged or altered; it is not encrypted.

A session ends ``idle_seconds`` after its last request and ``max_seconds``
after sign-in, both measured on the project's clock (``tuotempo_soap.clock``),
so tests move time instead of waiting. The cookie is ``HttpOnly``,
``SameSite=Strict``, limited to ``/admin``, and ``Secure`` when the request
came over https (``TUOTEMPO_ADMIN_COOKIE_SECURE=auto``, the default) or always.

The key is ``TUOTEMPO_ADMIN_SECRET`` (32 characters or more). Without it a
random key is created once in the data directory (``admin-secret.key``, mode
0600), which suits one server; several servers behind a balancer need the same
``TUOTEMPO_ADMIN_SECRET`` each, or a session opened on one is unknown to the
others. The key is its own, not the e-mail links' ``TUOTEMPO_SECRET_KEY``, so
neither kind of token can stand in for the other.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from ...config import Settings

COOKIE = "tuotempo_admin"
_EPOCH = datetime(1970, 1, 1)


def admin_secret(settings: Settings) -> str:
    """TUOTEMPO_ADMIN_SECRET, else a random key kept (0600) in the data directory."""
    if settings.admin_secret:
        return settings.admin_secret
    path: Path = settings.data_dir / "admin-secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker process made it a moment ago: use theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key; delete it to have a new one made")
    return key


def seconds(moment: datetime) -> float:
    """A naive-UTC datetime of the project clock as seconds since the epoch."""
    return (moment - _EPOCH).total_seconds()


@dataclass(frozen=True)
class Session:
    """One browser's session; ``operator_id`` is None until someone signs in."""

    csrf: str
    operator_id: int | None = None
    operator_key: str | None = None  # Operator.session_key when signed in
    signed_in_at: float = 0.0
    seen_at: float = 0.0
    notice: str | None = None  # a texts key shown once ("signed_out", ...)

    @classmethod
    def new(cls, now: float, notice: str | None = None) -> Session:
        return cls(csrf=secrets.token_urlsafe(32), seen_at=now, notice=notice)

    def signed_in(self, operator_id: int, operator_key: str, now: float) -> Session:
        """The session after a successful sign-in: a new CSRF token, so a token
        seen before signing in is worth nothing after."""
        return Session(
            csrf=secrets.token_urlsafe(32),
            operator_id=operator_id,
            operator_key=operator_key,
            signed_in_at=now,
            seen_at=now,
        )

    def touched(self, now: float) -> Session:
        return replace(self, seen_at=now)

    def with_notice(self, notice: str | None) -> Session:
        return replace(self, notice=notice)

    def csrf_ok(self, given: str | None) -> bool:
        if not given:
            return False
        return hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self.csrf.encode("ascii")
        )


class SessionCodec:
    """Turns sessions into cookie values and back, and says when one has ended."""

    def __init__(self, key: str, *, idle_seconds: float, max_seconds: float) -> None:
        self._serializer = URLSafeSerializer(key, salt="tuotempo-admin-session")
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    def dumps(self, session: Session) -> str:
        data: dict[str, Any] = {"c": session.csrf, "s": round(session.seen_at, 3)}
        if session.operator_id is not None:
            data.update(o=session.operator_id, k=session.operator_key, i=session.signed_in_at)
        if session.notice:
            data["n"] = session.notice
        return str(self._serializer.dumps(data))

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None when there is none or it is not ours."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value)
            session = Session(
                csrf=str(data["c"]),
                operator_id=int(data["o"]) if "o" in data else None,
                operator_key=str(data["k"]) if "o" in data else None,
                signed_in_at=float(data.get("i", 0.0)),
                seen_at=float(data["s"]),
                notice=str(data["n"]) if data.get("n") else None,
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        return session

    def expired(self, session: Session, now: float) -> bool:
        """Whether a signed-in session has ended (idle too long, or open too long)."""
        if session.operator_id is None:
            return False
        return (
            now - session.seen_at > self.idle_seconds
            or now - session.signed_in_at > self.max_seconds
        )

    def max_age(self, session: Session, now: float) -> int:
        """Seconds the browser should keep the cookie: until the session would end."""
        if session.operator_id is None:
            return int(self.idle_seconds)
        left = min(self.idle_seconds, self.max_seconds - (now - session.signed_in_at))
        return max(1, int(left))
