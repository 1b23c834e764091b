"""Paging tokens handed back by a client: ours work, anything else is a
``Client.ValidationError`` naming the field (never ``Server.InternalError``),
on SQLite and PostgreSQL alike (bigint bounds)."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.conftest import Credentials
from tests.integration.soap.conftest import (
    TNS,
    SoapHttp,
    auth_xml,
    envelope,
    fault_of,
    message_xml,
)

MALFORMED_TOKENS = [
    "²",  # str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits: int() reads 12
    "9" * 5000,  # int() refuses more than 4,300 digits
    "9" * 19,  # over the database's bigint
    "-1",
    "+5",
    "1e3",
    "0x10",
    "1_000",
    "MTIz",  # base64 of "123"
    "MTIz==",
    "eyJpZCI6IDV9.c2ln",  # a signed-token look-alike
    "12 34",
    "🙂",
]


def search(http: SoapHttp, who: Credentials, inner: str = "") -> etree._Element:
    response = http.post(envelope("searchMessages", auth_xml(who) + inner))
    assert response.status_code == 200, response.data[:300]
    return etree.fromstring(response.data)


@pytest.mark.parametrize("token", MALFORMED_TOKENS)
def test_a_malformed_page_token_names_the_field(
    http: SoapHttp, his: Credentials, token: str
) -> None:
    body = envelope("searchMessages", auth_xml(his) + f"<t:PAGE_TOKEN>{token}</t:PAGE_TOKEN>")
    fault = fault_of(http.post(body))
    assert fault.code == "soap:Client.ValidationError", fault.string
    assert fault.detail_text("FIELD") == "PAGE_TOKEN"


@pytest.mark.parametrize(
    "cursor",
    [
        "01/01/2027 00:00:00#١٢",
        "01/01/2027 00:00:00#" + "9" * 19,
        "01/01/2027 00:00:00#99999999999999999",  # ours in shape, never handed out
        "²",
        "9" * 5000,
        "31/02/2027 00:00:00",
        "01/01/2027 25:61:00",
    ],
)
def test_a_malformed_cursor_names_the_field(http: SoapHttp, his: Credentials, cursor: str) -> None:
    inner = auth_xml(his) + f"<t:LAST_REQUEST_TIMESTAMP>{cursor}</t:LAST_REQUEST_TIMESTAMP>"
    fault = fault_of(http.post(envelope("getReservations", inner)))
    assert fault.code == "soap:Client.ValidationError", fault.string
    assert fault.detail_text("FIELD") == "LAST_REQUEST_TIMESTAMP"


def test_our_page_tokens_page_through(http: SoapHttp, his: Credentials) -> None:
    items = "".join(message_xml(f"PT-{i}") for i in range(5))
    queued = http.post(
        envelope("updateMessages", auth_xml(his) + f"<t:MESSAGES>{items}</t:MESSAGES>")
    )
    assert queued.status_code == 200, queued.data[:300]
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = search(
            http,
            his,
            "<t:MAX_RESULTS>2</t:MAX_RESULTS>"
            + (f"<t:PAGE_TOKEN> {token} </t:PAGE_TOKEN>" if token else ""),
        )
        seen += [m.text or "" for m in page.iter(f"{{{TNS}}}LEGACY_ID")]
        token = page.findtext(f".//{{{TNS}}}NEXT_PAGE_TOKEN") or ""
        if page.findtext(f".//{{{TNS}}}MORE_RESULTS") != "true":
            break
    assert seen == [f"PT-{i}" for i in range(5)]
