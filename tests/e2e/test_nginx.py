"""The production recipe: deploy/nginx.conf in front of a real gunicorn (gunicorn.conf.py).

nginx is started by the test from the recipe itself (only its addresses, certificate
and log paths are replaced), on a free loopback port with TLS, in front of gunicorn
started exactly as in production, with TUOTEMPO_TRUSTED_PROXY_HOPS=1. The slow clients
(slowloris) come from 127.0.0.2, the normal requests from 127.0.0.1.

Without nginx, the same 256 slow connections starve gunicorn (each holds one of its
2 x 16 threads until it finishes): that contrast is asserted too, so the test shows
what the proxy is for.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.conftest import Credentials, make_instance
from tests.e2e import toolkits
from tests.e2e.conftest import start_gunicorn, stop_process
from tests.e2e.slowloris import (
    RECIPE,
    Nginx,
    Probe,
    SlowClients,
    client_tls,
    free_port,
    nginx_binary,
    probe,
    raise_fd_limit,
    start_nginx,
)
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store

pytestmark = [pytest.mark.e2e, pytest.mark.nginx]

SLOW = 256  # slow connections held open during the attack
LIMIT = 2.0  # seconds within which a normal request must be answered
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tuotempo-soap.org/v1"


@dataclass
class Stack:
    gunicorn_url: str  # http://127.0.0.1:PORT, the upstream
    gunicorn_log: Path
    nginx: Nginx
    his: Credentials
    tls: ssl.SSLContext


@pytest.fixture(scope="module")
def binary() -> str:
    found = nginx_binary()
    if found is None:
        # CI sets TUOTEMPO_REQUIRE_NGINX so a missing nginx fails instead of skipping.
        toolkits.give_up("TUOTEMPO_REQUIRE_NGINX")(
            "nginx is not installed (apt-get install nginx-light)"
        )
    assert found is not None
    return found


@pytest.fixture(scope="module")
def stack(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    raise_fd_limit()
    workdir = tmp_path_factory.mktemp("nginx-recipe")
    database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    process, url, log = start_gunicorn(
        database_url, workdir, extra_env={"TUOTEMPO_TRUSTED_PROXY_HOPS": "1"}
    )
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        his = make_instance(store)
        nginx = start_nginx(binary, workdir / "nginx", url.split("://", 1)[1])
        try:
            yield Stack(url, log, nginx, his, client_tls(nginx.cafile))
        finally:
            nginx.stop()
    finally:
        store.dispose()
        stop_process(process)


# --- what a normal client does during the attack ---------------------------------------


def _get_reservations(his: Credentials) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:t="{TNS}"><soapenv:Body>'
        f"<t:getReservations><t:AUTH><t:INSTANCE>{his.instance}</t:INSTANCE>"
        f"<t:USERNAME>{his.username}</t:USERNAME><t:PASSWORD>{his.password}</t:PASSWORD>"
        "</t:AUTH><t:START_DATE>01/02/2027</t:START_DATE><t:END_DATE>28/02/2027</t:END_DATE>"
        "</t:getReservations></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _normal_requests(
    base: str, his: Credentials, verify: str | bool
) -> list[tuple[str, Callable[[float], requests.Response]]]:
    soap_headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "getReservations"}
    body = _get_reservations(his)
    return [
        ("GET /healthz", lambda t: requests.get(f"{base}/healthz", timeout=t, verify=verify)),
        ("GET /soap?wsdl", lambda t: requests.get(f"{base}/soap?wsdl", timeout=t, verify=verify)),
        (
            "POST /soap getReservations",
            lambda t: requests.post(
                f"{base}/soap", data=body, headers=soap_headers, timeout=t, verify=verify
            ),
        ),
    ]


def _wait_until_held(slow: SlowClients, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while slow.opened < slow.count and time.monotonic() < deadline:
        time.sleep(0.1)


def _attack_and_probe(stack: Stack, kind: str) -> tuple[list[tuple[int, Probe]], SlowClients]:
    """Hold SLOW slow connections to nginx and probe normal requests for 6 s."""
    normal = _normal_requests(stack.nginx.url, stack.his, str(stack.nginx.cafile))
    warm = [probe(name, send, limit=30) for name, send in normal]  # password check cached
    assert all(p.seconds is not None for p in warm), [str(p) for p in warm]
    results: list[tuple[int, Probe]] = []
    slow = SlowClients("127.0.0.1", stack.nginx.port, SLOW, kind=kind, tls=stack.tls)
    with slow:
        assert slow.opened == SLOW, f"only {slow.opened} of {SLOW} slow connections opened"
        time.sleep(1.0)  # let them settle; all are within nginx's 10 s header deadline
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            for name, send in normal:
                results.append((slow.held, probe(name, send, limit=LIMIT)))
            time.sleep(0.3)
    return results, slow


@pytest.mark.parametrize("kind", ["header", "body"])
def test_nginx_holds_256_slow_connections_while_normal_requests_are_answered_in_2s(
    stack: Stack, kind: str
) -> None:
    results, slow = _attack_and_probe(stack, kind)
    report = [f"held {held}: {result}" for held, result in results]
    print(f"\nslow {kind}: opened {slow.opened}, reopened {slow.reopened}", *report, sep="\n")
    slow_answers = [str(result) for _, result in results if result.seconds is None]
    assert not slow_answers, f"not answered within {LIMIT} s behind nginx: {slow_answers}"
    assert len(results) >= 9, report
    assert all(held == SLOW for held, _ in results), report


def test_without_nginx_the_same_slow_connections_starve_gunicorn(stack: Stack) -> None:
    """The contrast: straight to gunicorn.conf.py, normal requests go unanswered.

    The kernel hands each connection to whichever of the 2 workers accepts first, so
    now and then one worker gets fewer than its 16 threads' worth and still answers
    the probes that reach it: probe until one is not answered (at most 10 probes).
    """
    normal = _normal_requests(stack.gunicorn_url, stack.his, True)[:2]
    port = int(stack.gunicorn_url.rsplit(":", 1)[1])
    results: list[Probe] = []
    with SlowClients("127.0.0.1", port, SLOW, kind="header") as slow:
        _wait_until_held(slow)
        time.sleep(1.0)
        for attempt in range(10):
            name, send = normal[attempt % len(normal)]
            results.append(probe(name, send, limit=LIMIT))
            if results[-1].seconds is None:
                break
    print("\nwithout nginx:", *map(str, results), sep="\n")
    assert results[-1].seconds is None, (
        f"gunicorn answered {len(results)} requests within {LIMIT} s while {SLOW} slow "
        "connections were held: if gunicorn now reads request headers without a thread "
        f"per connection, revisit README 'Production': {[str(r) for r in results]}"
    )
    # Closing them frees the threads: gunicorn answers again.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if probe("healthz", normal[0][1]).seconds is not None:
            break
        time.sleep(0.5)
    else:
        pytest.fail("gunicorn did not recover within 20 s of the slow clients leaving")


# --- what else the recipe promises -----------------------------------------------------


def _raw_request(nginx: Nginx, head: str, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """Send a request as written over TLS, return the status and body nginx answers."""
    raw = socket.create_connection(
        ("127.0.0.1", nginx.port), timeout=10, source_address=(source, 0)
    )
    with client_tls(nginx.cafile).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                headers, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", headers)
                if length and len(body) >= int(length.group(1)):
                    break
    headers, _, body = data.partition(b"\r\n\r\n")
    return int(headers.split()[1]), body


def test_a_body_over_the_limit_is_refused_by_nginx_with_the_documented_answers(
    stack: Stack,
) -> None:
    too_large = Settings.from_env({}).max_body_bytes + 1
    status, body = _raw_request(
        stack.nginx,
        "POST /soap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f"SOAPAction: updateReservations\r\nContent-Length: {too_large}\r\n"
        "Connection: close\r\n\r\n",
    )
    assert status == 500, body
    fault = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, body
    assert fault.findtext("faultcode") == "soap:Client.RequestTooLarge"
    assert fault.findtext(f"detail/{{{TNS}}}ServiceFault/{{{TNS}}}CODE") == "Client.RequestTooLarge"

    status, body = _raw_request(
        stack.nginx,
        f"POST /receipts/any HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {too_large}\r\nConnection: close\r\n\r\n",
    )
    assert status == 413, body
    assert b'"error": "request_too_large"' in body


def test_the_recipe_body_limit_is_the_application_default() -> None:
    match = re.search(r"^\s*client_max_body_size (\d+)([km]?);", RECIPE.read_text(), re.M)
    assert match, "deploy/nginx.conf sets no client_max_body_size"
    size = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2)]
    assert size == Settings.from_env({}).max_body_bytes
    assert f"larger than {size} bytes" in RECIPE.read_text()


def _log_text(path: Path, wanted: str, seconds: float = 5) -> str:
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if wanted in text:
            break
        time.sleep(0.1)
    return text


def test_the_client_address_comes_from_nginx_and_never_from_a_client_header(
    stack: Stack,
) -> None:
    # Through nginx from 127.0.0.3, with a forged X-Forwarded-For: the application sees
    # 127.0.0.3 (gunicorn's access log prints REMOTE_ADDR as the application saw it).
    status, _ = _raw_request(
        stack.nginx,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\n"
        "Connection: close\r\n\r\n",
        source="127.0.0.3",
    )
    assert status == 200
    # Straight to gunicorn from 127.0.0.4 (not a trusted proxy), forging the headers.
    port = int(stack.gunicorn_url.rsplit(":", 1)[1])
    direct = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=("127.0.0.4", 0)
    )
    direct.request(
        "GET",
        "/healthz",
        headers={"X-Forwarded-For": "203.0.113.8", "X-Forwarded-Host": "evil.example"},
    )
    assert direct.getresponse().status == 200
    direct.close()

    log = _log_text(stack.gunicorn_log, "127.0.0.4")
    # gunicorn.conf.py logs JSON lines: the access line's "remote" is REMOTE_ADDR.
    remotes = {
        (record.get("remote"), record.get("path"))
        for record in (json.loads(line) for line in log.splitlines() if line.startswith("{"))
        if record.get("logger") == "gunicorn.access"
    }
    assert {("127.0.0.3", "/healthz"), ("127.0.0.4", "/healthz")} <= remotes, log[-2000:]
    assert "203.0.113.7" not in log
    assert "203.0.113.8" not in log


def test_metrics_are_not_served_through_nginx(stack: Stack) -> None:
    """The recipe answers /metrics as any unknown path; gunicorn still serves it
    to a scraper on the machine."""
    verify = str(stack.nginx.cafile)
    hidden = requests.get(f"{stack.nginx.url}/metrics", timeout=10, verify=verify)
    unknown = requests.get(f"{stack.nginx.url}/no-such-path", timeout=10, verify=verify)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.content == unknown.content
    local = requests.get(f"{stack.gunicorn_url}/metrics", timeout=10)
    assert local.status_code == 200 and "tuotempo_metrics_database_up 1.0" in local.text


def test_nginx_logs_routes_not_tokens_or_query_strings(stack: Stack) -> None:
    token = "tok" + os.urandom(8).hex()
    phone = "612" + str(int.from_bytes(os.urandom(3), "big")).zfill(6)[:6]
    for path in (f"/answer/{token}", f"/inbound/sms/demo?from={phone}&text=SI"):
        status, _ = _raw_request(
            stack.nginx, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert status in (200, 400, 401, 403, 404, 405, 410), status
    access = stack.nginx.prefix / "tuotempo-soap.access.log"
    text = _log_text(access, "/inbound/sms/demo")
    assert "/answer/<token>" in text and "/inbound/sms/demo" in text, text
    assert token not in text
    assert phone not in text


def test_with_gunicorn_down_nginx_answers_the_documented_faults(
    binary: str, tmp_path: Path
) -> None:
    nginx = start_nginx(binary, tmp_path / "nginx", f"127.0.0.1:{free_port()}")  # nobody there
    try:
        status, body = _raw_request(
            nginx,
            "POST /soap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
            "SOAPAction: getReservations\r\nContent-Length: 4\r\nConnection: close\r\n\r\n<x/>",
        )
        assert status == 500, body
        fault = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
        assert fault is not None, body
        assert fault.findtext("faultcode") == "soap:Server.Unavailable"
        assert fault.findtext(f"detail/{{{TNS}}}ServiceFault/{{{TNS}}}CODE") == "Server.Unavailable"

        status, body = _raw_request(
            nginx, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert status == 503, body
        assert b'"error": "unavailable"' in body
    finally:
        nginx.stop()
