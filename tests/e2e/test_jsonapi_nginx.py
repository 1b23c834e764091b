"""The JSON messages API through the production recipe: deploy/nginx.conf over TLS
in front of a real gunicorn (gunicorn.conf.py). A message is queued and found
with an ordinary HTTP client and Basic credentials, and what nginx answers by
itself on /api/v1/ (a body over the limit, gunicorn down) has the API's error
body, not the SOAP faults or the generic JSON of other paths."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Credentials, make_instance
from tests.e2e import toolkits
from tests.e2e.conftest import start_gunicorn, stop_process
from tests.e2e.slowloris import Nginx, client_tls, free_port, nginx_binary, start_nginx
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store

pytestmark = [pytest.mark.e2e, pytest.mark.nginx]


@dataclass
class Stack:
    nginx: Nginx
    his: Credentials
    gunicorn_url: str  # http://127.0.0.1:PORT, the upstream


@pytest.fixture(scope="module")
def binary() -> str:
    found = nginx_binary()
    if found is None:
        toolkits.give_up("TUOTEMPO_REQUIRE_NGINX")(
            "nginx is not installed (apt-get install nginx-light)"
        )
    assert found is not None
    return found


@pytest.fixture(scope="module")
def stack(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("nginx-jsonapi")
    database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    process, url, _ = start_gunicorn(
        database_url, workdir, extra_env={"TUOTEMPO_TRUSTED_PROXY_HOPS": "1"}
    )
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        his = make_instance(store)
        nginx = start_nginx(binary, workdir / "nginx", url.split("://", 1)[1])
        try:
            yield Stack(nginx, his, url)
        finally:
            nginx.stop()
    finally:
        store.dispose()
        stop_process(process)


def _raw(nginx: Nginx, head: str) -> tuple[int, dict[str, Any]]:
    """Send a request head as written over TLS; the status and JSON body nginx answers."""
    raw = socket.create_connection(("127.0.0.1", nginx.port), timeout=10)
    with client_tls(nginx.cafile).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            headers, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", headers)
            if length and len(body) >= int(length.group(1)):
                break
    headers, _, body = data.partition(b"\r\n\r\n")
    return int(headers.split()[1]), json.loads(body)


def test_a_message_is_queued_and_found_through_nginx_and_gunicorn(stack: Stack) -> None:
    his, base = stack.his, f"{stack.nginx.url}/api/v1/{stack.his.instance}"
    session = requests.Session()
    session.auth = (his.username, his.password)
    verify = str(stack.nginx.cafile)  # per call: a session's is overridden by REQUESTS_CA_BUNDLE
    message = {"LEGACY_ID": "NGX-1", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola"}
    queued = session.post(
        f"{base}/messages", json={"MESSAGES": [message]}, verify=verify, timeout=10
    )
    assert queued.status_code == 200, queued.text
    assert queued.json()["ITEMS"][0]["ACTION"] == "QUEUED"
    assert queued.headers["X-Request-ID"]
    # Chunked, as a client streaming its body sends it: nginx passes it whole.
    chunks = iter([b'{"LEGACY_ID":', b' "NGX-1"}'])
    found = session.post(
        f"{base}/messages/search",
        data=chunks,
        headers={"Content-Type": "application/json"},
        verify=verify,
        timeout=10,
    )
    assert found.status_code == 200, found.text
    assert [m["TO"] for m in found.json()["MESSAGES"]] == ["+34612345678"]
    # Straight to gunicorn, chunked: it ends the stream itself, and the API reads it.
    direct = requests.post(
        f"{stack.gunicorn_url}/api/v1/{his.instance}/messages/search",
        data=iter([b'{"LEGACY_ID":', b' "NGX-1"}']),
        headers={"Content-Type": "application/json"},
        auth=(his.username, his.password),
        timeout=10,
    )
    assert direct.status_code == 200, direct.text
    assert direct.json()["COUNT"] == 1
    wrong = requests.post(
        f"{base}/messages/search",
        json={},
        auth=(his.username, "not-the-password"),
        verify=verify,
        timeout=10,
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "Client.AuthenticationFailed"


def test_a_body_over_the_limit_is_refused_by_nginx_in_the_api_shape(stack: Stack) -> None:
    too_large = Settings.from_env({}).max_body_bytes + 1
    status, body = _raw(
        stack.nginx,
        f"POST /api/v1/{stack.his.instance}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {too_large}\r\n"
        "Connection: close\r\n\r\n",
    )
    assert status == 413
    assert body["error"]["code"] == "Client.RequestTooLarge"
    assert set(body["error"]) == {"code", "field", "message", "reference"}


def test_with_gunicorn_down_nginx_answers_in_the_api_shape(binary: str, tmp_path: Path) -> None:
    nginx = start_nginx(binary, tmp_path / "nginx", f"127.0.0.1:{free_port()}")  # nobody there
    try:
        status, body = _raw(
            nginx,
            "POST /api/v1/tt_any/messages/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        assert status == 503
        assert body["error"]["code"] == "Server.Unavailable"
        assert body["error"]["reference"]
    finally:
        nginx.stop()
