"""``GET /metrics``: the Prometheus scrape (``observability.metrics``).

Who may scrape (README, "Operating"):

- peers in ``TUOTEMPO_METRICS_ALLOW`` (default: loopback only while no token
  is set, any address once one is);
- with ``TUOTEMPO_METRICS_TOKEN`` set, only with ``Authorization: Bearer
  <token>`` (compared in constant time).

Refusals say nothing. A peer that may not scrape gets the application's
ordinary 404, as for any unknown path: for it the endpoint does not exist. A
missing or wrong token gets a bare 401 with ``WWW-Authenticate: Bearer``.
Without a token, a request still carrying a proxy's ``X-Forwarded-For`` (or
``Forwarded``, ``X-Real-IP``) is refused too: behind nginx with
``TUOTEMPO_TRUSTED_PROXY_HOPS`` unset, every request would otherwise come from
127.0.0.1. (With trusted proxy hops set, the peer is the client the proxy
names and those headers are gone.)

The scrape reads the outbox and poll figures from the database: one grouped
query each, bounded by the store's statement timeout; when they fail the
counters are still answered.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from ipaddress import ip_address, ip_network
from typing import Any

from ..config import IPNetwork, Settings
from ..dispatch.config import DispatchConfig
from ..observability import metrics
from ..services import monitoring
from ..services.instances import utcnow
from ..store.engine import Store

# (status, content type, body, other headers), as ``web.app._reply`` takes them.
Answer = tuple[str, str, bytes, list[tuple[str, str]]]

LOOPBACK: tuple[IPNetwork, ...] = (ip_network("127.0.0.0/8"), ip_network("::1"))
_VIA_PROXY = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
_PLAIN = "text/plain; charset=utf-8"


def _peer_in(peer: str, networks: Sequence[IPNetwork] | None) -> bool:
    if networks is None:
        return True
    if not peer:  # a unix socket: only local processes its permissions allow
        return True
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _bearer(environ: dict[str, Any]) -> str | None:
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class MetricsEndpoint:
    def __init__(self, settings: Settings, store: Store, dispatch: DispatchConfig) -> None:
        self.token = settings.metrics_token
        allowed = settings.metrics_allow
        # Unset: loopback without a token; with one, the token alone decides.
        self.allowed = allowed if allowed is not None else (None if self.token else LOOPBACK)
        self.store = store
        self.dispatch = dispatch
        self.collector = metrics.DatabaseCollector(self._figures)

    def may_see(self, environ: dict[str, Any]) -> bool:
        """Whether this peer may know the endpoint exists (else: the ordinary 404)."""
        if not _peer_in(str(environ.get("REMOTE_ADDR") or ""), self.allowed):
            return False
        return bool(self.token) or not any(environ.get(key) for key in _VIA_PROXY)

    def __call__(self, environ: dict[str, Any]) -> Answer | None:
        """The answer, or None when the caller should answer as for an unknown path."""
        if not self.may_see(environ):
            return None
        if self.token:
            given = _bearer(environ)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                return (
                    "401 Unauthorized",
                    _PLAIN,
                    b"unauthorized\n",
                    [("WWW-Authenticate", "Bearer")],
                )
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return "405 Method Not Allowed", _PLAIN, b"GET only\n", [("Allow", "GET")]
        body = metrics.exposition(self.collector)
        return "200 OK", metrics.CONTENT_TYPE, body, [("Cache-Control", "no-store")]

    def _figures(self) -> metrics.DatabaseFigures:
        now = utcnow()
        depths = monitoring.outbox_depth(self.store, self.dispatch.provider_name_for, now=now)
        polls = monitoring.clinic_polls(self.store)
        return metrics.DatabaseFigures(
            outbox=[
                metrics.OutboxFigure(
                    provider=depth.provider,
                    waiting=depth.waiting,
                    due=depth.due,
                    oldest_due_age_seconds=max(0.0, (now - depth.oldest_due_at).total_seconds())
                    if depth.oldest_due_at is not None
                    else 0.0,
                )
                for depth in depths
            ],
            polls=[
                metrics.PollFigure(
                    clinic=poll.clinic,
                    lag_seconds=max(0.0, (now - poll.last_success_at).total_seconds())
                    if poll.last_success_at is not None
                    else None,
                    consecutive_failures=poll.consecutive_failures,
                )
                for poll in polls
            ],
        )
