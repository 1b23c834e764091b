"""X-Forwarded-* from the reverse proxy in front, and from nobody else.

Behind deploy/nginx.conf the TCP peer is nginx, so the client's address (used to
throttle logins), the scheme and the host arrive in ``X-Forwarded-*`` headers.
Anyone can send those headers, so they are believed only when the peer is a
configured proxy (``TUOTEMPO_TRUSTED_PROXIES``; a unix socket peer is local, as
for gunicorn's ``forwarded_allow_ips``), and then only for the number of hops
configured (``TUOTEMPO_TRUSTED_PROXY_HOPS``), by werkzeug's ProxyFix. Either
way the raw headers are removed, so no code further in can read a forged one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import ip_address
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import IPNetwork

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

_FORWARDED = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)


class TrustedProxies:
    """WSGI middleware: ProxyFix for requests from a trusted proxy; forwarded headers dropped."""

    def __init__(self, app: WSGIApplication, hops: int, proxies: Iterable[IPNetwork]) -> None:
        self._app = app
        self._proxies = tuple(proxies)
        self._fixed = ProxyFix(self._without_forwarded, x_for=hops, x_proto=hops, x_host=hops)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.is_trusted(environ.get("REMOTE_ADDR", "")):
            return self._fixed(environ, start_response)
        return self._without_forwarded(environ, start_response)

    def is_trusted(self, peer: str) -> bool:
        if not peer:  # a unix socket: only local processes allowed by its permissions
            return True
        try:
            address = ip_address(peer)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:  # a dual-stack bind
            address = address.ipv4_mapped
        return any(address in network for network in self._proxies)

    def _without_forwarded(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        for key in _FORWARDED:
            environ.pop(key, None)
        return self._app(environ, start_response)
