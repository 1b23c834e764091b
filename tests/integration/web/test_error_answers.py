"""Non-SOAP endpoints answer JSON errors with the right status (answer pages: an
HTML page), never the server's traceback page: bodies the parsers choke on,
and a database that is down or never answers. Built in-process, so an escaping
exception reaches the test instead of hiding in a server log."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from werkzeug.test import Client, TestResponse

from tests.blackhole import Blackhole, answered_within
from tuotempo_soap.config import Settings
from tuotempo_soap.web.app import _answer_errors, create_app

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tuotempo-soap.org/v1"
SECRET_ENV = "TUOTEMPO_TEST_GW_RECEIPT_SECRET"
SECRET = "receipt-secret-for-tests"
PROVIDER = "gw"
PHONE = "+34612345678"
# Far past Python's recursion limit, under the 64 KiB body limit of these endpoints.
NESTED = {
    "arrays": b"[" * 30_000 + b"]" * 30_000,
    "objects": b'{"":' * 10_000 + b"1" + b"}" * 10_000,
}


def senders_file(tmp_path: Path) -> Path:
    """One HTTP provider whose receipts and inbound messages carry a shared secret."""
    path = tmp_path / "senders.json"
    config = {
        "providers": {
            PROVIDER: {
                "type": "http",
                "url": "https://gw.example/send",
                "receipts": {
                    "secret_env": SECRET_ENV,
                    "auth": "shared-secret",
                    "secret_header": "X-Receipt-Secret",
                    "format": "json",
                },
            }
        },
        "routes": {"*": {"*": PROVIDER}},
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def make_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[Client, Any]]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    senders = senders_file(tmp_path)

    def build(database_url: str, **env: str) -> tuple[Client, Any]:
        settings = Settings.from_env(
            {
                "TUOTEMPO_DATABASE_URL": database_url,
                "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
                "TUOTEMPO_SENDERS_FILE": str(senders),
                **env,
            }
        )
        app = create_app(settings)
        return Client(app), app

    return build


def provider_post(client: Client, path: str, body: bytes) -> TestResponse:
    return client.post(
        path,
        data=body,
        headers={"X-Receipt-Secret": SECRET, "Content-Type": "application/json"},
    )


def error_of(response: TestResponse, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert body["result"] == "error"
    return str(body["reason"])


@pytest.mark.parametrize("shape", sorted(NESTED))
@pytest.mark.parametrize("path", [f"/receipts/{PROVIDER}", f"/inbound/sms/{PROVIDER}"])
def test_deeply_nested_json_is_a_400_json_error(
    make_client: Callable[..., tuple[Client, Any]],
    tmp_path: Path,
    path: str,
    shape: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = make_client(f"sqlite:///{tmp_path / 'tuotempo.db'}")
    caplog.set_level(logging.DEBUG)
    response = provider_post(client, path, NESTED[shape])
    assert error_of(response, 400)
    assert "Traceback" not in caplog.text


def test_a_non_ascii_voice_reference_is_a_client_error(
    make_client: Callable[..., tuple[Client, Any]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = make_client(f"sqlite:///{tmp_path / 'tuotempo.db'}")
    caplog.set_level(logging.DEBUG)
    # "²" passes str.isdigit() but int() refuses it.
    body = json.dumps({"reference": "²", "digits": "1"}).encode()
    response = provider_post(client, f"/inbound/voice/{PROVIDER}", body)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["result"] != "ok"
    assert "²" not in caplog.text


def test_an_unknown_path_is_a_404_json_error(
    make_client: Callable[..., tuple[Client, Any]], tmp_path: Path
) -> None:
    client, _ = make_client(f"sqlite:///{tmp_path / 'tuotempo.db'}")
    assert error_of(client.get("/no/such/thing"), 404) == "not found"


def test_an_unexpected_error_is_a_500_json_with_a_reference_logged_without_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise KeyError(environ["QUERY_STRING"])  # an exception quoting a request value

    started: list[tuple[str, list[tuple[str, str]]]] = []
    caplog.set_level(logging.DEBUG)
    environ = {"PATH_INFO": "/inbound/sms/gw", "REQUEST_METHOD": "POST", "QUERY_STRING": PHONE}
    body = b"".join(_answer_errors(handler, environ, lambda s, h: started.append((s, h))))
    ((status, headers),) = started
    assert status == "500 Internal Server Error"
    assert ("Content-Type", "application/json") in headers
    reason = json.loads(body)["reason"]
    reference = reason.split("reference ")[1].split()[0]
    assert reference in caplog.text and "KeyError" in caplog.text
    assert PHONE not in caplog.text


# --- a database that is down or never answers --------------------------------


@pytest.fixture(params=["refused", "blackhole"])
def dead_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL URL nobody answers: the port refuses, or accepts and stays silent."""
    if request.param == "blackhole":
        with Blackhole() as hole:
            yield hole.database_url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"postgresql://postgres@127.0.0.1:{port}/nowhere"


# The default connect timeout is 3 s; the margin is for a loaded machine.
DB_BOUND = 8.0


def soap_fault(response: TestResponse) -> tuple[str, str, str | None]:
    assert response.status_code == 500, response.get_data(as_text=True)[:300]
    fault = etree.fromstring(response.data).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    detail = fault.findtext(f"detail/{{{TNS}}}ServiceFault/{{{TNS}}}CODE")
    return str(fault.findtext("faultcode")), str(fault.findtext("faultstring")), detail


def test_soap_gets_database_unavailable(
    make_client: Callable[..., tuple[Client, Any]], dead_database_url: str
) -> None:
    client, _ = make_client(dead_database_url, TUOTEMPO_AUTO_MIGRATE="0")
    envelope = (
        f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:t="{TNS}"><e:Body><t:getReservations>'
        "<t:AUTH><t:INSTANCE>tt_any</t:INSTANCE><t:USERNAME>his</t:USERNAME>"
        "<t:PASSWORD>whatever</t:PASSWORD></t:AUTH></t:getReservations></e:Body></e:Envelope>"
    )
    response, _ = answered_within(
        DB_BOUND,
        lambda: client.post(
            "/soap", data=envelope, headers={"Content-Type": "text/xml; charset=utf-8"}
        ),
    )
    code, message, detail = soap_fault(response)
    assert code.endswith("Server.DatabaseUnavailable") and detail == "Server.DatabaseUnavailable"
    assert "retry" in message


@pytest.mark.parametrize(
    "path, body",
    [
        (f"/receipts/{PROVIDER}", {"id": "gw-1", "status": "DELIVRD"}),
        (f"/inbound/sms/{PROVIDER}", {"from": PHONE, "text": "SI"}),
        (f"/inbound/voice/{PROVIDER}", {"reference": "1", "digits": "1"}),
    ],
)
def test_provider_endpoints_get_a_503_json(
    make_client: Callable[..., tuple[Client, Any]],
    dead_database_url: str,
    path: str,
    body: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = make_client(dead_database_url, TUOTEMPO_AUTO_MIGRATE="0")
    caplog.set_level(logging.DEBUG)
    response, _ = answered_within(
        DB_BOUND, lambda: provider_post(client, path, json.dumps(body).encode())
    )
    assert "retry" in error_of(response, 503)
    assert PHONE not in caplog.text


def test_an_answer_page_gets_a_503_page(
    make_client: Callable[..., tuple[Client, Any]], dead_database_url: str
) -> None:
    client, app = make_client(dead_database_url, TUOTEMPO_AUTO_MIGRATE="0")
    token = app.signer.token(1, "confirm")
    for method in ("GET", "POST"):
        response, _ = answered_within(
            DB_BOUND, partial(client.open, f"/answer/{token}", method=method)
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 503, page[:300]
        assert response.headers["Content-Type"].startswith("text/html")
        assert "try again" in page.lower() and "Traceback" not in page


def test_health_answers_503_within_two_seconds(
    make_client: Callable[..., tuple[Client, Any]], dead_database_url: str
) -> None:
    client, _ = make_client(dead_database_url, TUOTEMPO_AUTO_MIGRATE="0")
    for _ in range(3):  # the first, and those arriving while a probe is still waiting
        response, elapsed = answered_within(2.0, lambda: client.get("/healthz"))
        assert elapsed < 2.0
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": False}


def test_health_is_ok_with_a_live_database(
    make_client: Callable[..., tuple[Client, Any]], tmp_path: Path
) -> None:
    client, _ = make_client(f"sqlite:///{tmp_path / 'tuotempo.db'}")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}
