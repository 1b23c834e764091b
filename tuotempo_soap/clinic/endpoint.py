"""How to reach one clinic's web services: the WSDL, credentials and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_SECONDS = 10.0
"""How long a clinic call may take unless the integration sets its own timeout
(``clinic set --timeout``): the poller's limit, and the portal's per center."""


@dataclass(frozen=True)
class ClinicEndpoint:
    """``endpoint_url`` overrides the address the WSDL declares (clinics publish
    WSDLs naming an internal host); ``center_lid`` is the default ``CENTER_LID`` of
    every call that takes one. ``read_retries`` bounds the retries of a read after
    the first attempt; writes are never blindly retried."""

    wsdl_url: str
    endpoint_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    center_lid: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    read_retries: int = 3
    # Exponential backoff between read retries: first wait, and the cap.
    retry_backoff_seconds: float = 0.5
    retry_backoff_max_seconds: float = 8.0

    def __post_init__(self) -> None:
        if not self.wsdl_url:
            raise ValueError("wsdl_url is required")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be more than 0")
        if self.read_retries < 0:
            raise ValueError("read_retries must be 0 or more")
        if self.retry_backoff_seconds < 0 or self.retry_backoff_max_seconds < 0:
            raise ValueError("retry backoff must be 0 or more")

    def auth(self) -> dict[str, str] | None:
        """The ``AUTH`` block every operation takes, or None when not configured."""
        if self.username is None:
            return None
        return {"USERNAME": self.username, "PASSWORD": self.password or ""}


def host_of(url: str) -> str:
    """``host:port`` of a URL (never its credentials or path), for messages and logs."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "local-file" if not parts.scheme or parts.scheme == "file" else url[:60]
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
