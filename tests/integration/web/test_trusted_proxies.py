"""X-Forwarded-* are believed from the configured reverse proxy only
(TUOTEMPO_TRUSTED_PROXY_HOPS, TUOTEMPO_TRUSTED_PROXIES), through the in-process
WSGI app and through the middleware on its own (what it hands the application).
deploy/nginx.conf in front of a real gunicorn: tests/e2e/test_nginx.py."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from werkzeug.test import Client

from tuotempo_soap.config import Settings
from tuotempo_soap.web.app import create_app
from tuotempo_soap.web.proxy import TrustedProxies

SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"
FORGED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "soap.example.org",
}


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "TUOTEMPO_DATABASE_URL": f"sqlite:///{tmp_path / 'tuotempo.db'}",
            "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
            **env,
        }
    )


def _wsdl_location(client: Client, peer: str) -> str:
    response = client.get(
        "/soap?wsdl", headers=FORGED, environ_base={"REMOTE_ADDR": peer, "HTTP_HOST": "localhost"}
    )
    assert response.status_code == 200
    address = etree.fromstring(response.data).find(f".//{SOAP_ADDRESS}")
    assert address is not None
    return str(address.get("location"))


def test_behind_a_trusted_proxy_the_app_sees_the_forwarded_scheme_and_host(
    tmp_path: Path,
) -> None:
    # The demo takes the WSDL's address from the request: what the app believes shows.
    app = create_app(_settings(tmp_path, TUOTEMPO_TRUSTED_PROXY_HOPS="1"), demo=True)
    try:
        client = Client(app)
        assert _wsdl_location(client, "127.0.0.1") == "https://soap.example.org/soap"
        assert _wsdl_location(client, "198.51.100.7") == "http://localhost/soap"
    finally:
        app.store.dispose()


def test_without_the_setting_forwarded_headers_are_not_believed(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), demo=True)
    try:
        assert _wsdl_location(Client(app), "127.0.0.1") == "http://localhost/soap"
    finally:
        app.store.dispose()


# --- the middleware: what reaches the application ----------------------------------------

_SEEN = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST")


def _seen_by_app(
    peer: str, headers: dict[str, str], hops: int = 1, proxies: str = "127.0.0.1,::1"
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.update({key: environ.get(key) for key in _SEEN})
        seen["forwarded"] = sorted(key for key in environ if "FORWARDED" in key)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    networks = Settings.from_env(
        {"TUOTEMPO_DATA_DIR": "unused", "TUOTEMPO_TRUSTED_PROXIES": proxies}
    ).trusted_proxies
    client = Client(TrustedProxies(app, hops, networks))
    response = client.get(
        "/", headers=headers, environ_base={"REMOTE_ADDR": peer, "HTTP_HOST": "localhost"}
    )
    assert response.status_code == 200
    return seen


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "::ffff:127.0.0.1", ""])
def test_a_trusted_peer_has_its_forwarded_headers_applied_then_removed(peer: str) -> None:
    # "" is a unix socket peer (gunicorn bound to unix:...): local by construction.
    seen = _seen_by_app(peer, FORGED)
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == (
        "203.0.113.9",
        "https",
        "soap.example.org",
    )
    assert seen["forwarded"] == []


@pytest.mark.parametrize("peer", ["198.51.100.7", "127.0.0.2", "::2", "not-an-address"])
def test_any_other_peer_has_its_forwarded_headers_ignored_and_removed(peer: str) -> None:
    seen = _seen_by_app(peer, {**FORGED, "Forwarded": "for=203.0.113.9;proto=https"})
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == (
        peer,
        "http",
        "localhost",
    )
    assert seen["forwarded"] == []


def test_hops_count_from_the_right_and_networks_are_accepted() -> None:
    # Load balancer (10.0.0.5) -> nginx (10.1.2.3) -> app: two hops; the client's own
    # X-Forwarded-For value (left-most, forged) is never taken.
    headers = {**FORGED, "X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.0.0.5"}
    seen = _seen_by_app("10.1.2.3", headers, hops=2, proxies="10.0.0.0/8")
    assert seen["REMOTE_ADDR"] == "203.0.113.9"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TUOTEMPO_TRUSTED_PROXIES": "10.0.0.0/8, nginx"}, "TUOTEMPO_TRUSTED_PROXIES"),
        ({"TUOTEMPO_TRUSTED_PROXY_HOPS": "-1"}, "TUOTEMPO_TRUSTED_PROXY_HOPS"),
        ({"TUOTEMPO_TRUSTED_PROXY_HOPS": "one"}, "TUOTEMPO_TRUSTED_PROXY_HOPS"),
    ],
)
def test_bad_proxy_settings_are_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"TUOTEMPO_DATA_DIR": "unused", **env})


def test_the_defaults_trust_no_proxy_but_name_loopback() -> None:
    settings = Settings.from_env({"TUOTEMPO_DATA_DIR": "unused"})
    assert settings.trusted_proxy_hops == 0
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
