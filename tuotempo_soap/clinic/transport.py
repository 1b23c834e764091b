"""The HTTP side of a clinic client: zeep settings, session and transport.

zeep's defaults suit a trusted peer; a clinic is not one. Every request has a
timeout (zeep sets none on calls), the XML parser refuses DTDs, entities and
external references, and request or response bodies are never logged: they carry
patients' names, phones and e-mail addresses (zeep's own transport logs whole
envelopes at DEBUG, so ``post`` is ours).
"""

from __future__ import annotations

import http.cookiejar
from typing import Any

import requests
import zeep
import zeep.cache
import zeep.exceptions
from zeep.utils import get_media_type

_SOAP_MEDIA_TYPES = frozenset({"text/xml", "application/soap+xml", "multipart/related"})
_ANSWER_STATUSES = frozenset({200, 201, 202})
_LEADING_NOISE = b"\xef\xbb\xbf \t\r\n"


def clinic_settings() -> zeep.Settings:
    # strict=False: clinics' answers drift from their WSDL (extra or missing
    # elements); the answer readers cope with what is missing.
    return zeep.Settings(
        strict=False,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )


def new_session() -> requests.Session:
    session = requests.Session()
    # SOAP here is stateless (credentials travel in AUTH); cookies would only be
    # state shared between threads and between clinics' calls.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


class ClinicTransport(zeep.Transport):
    """A zeep transport with one timeout for everything and no body logging.

    An HTTP error answer that is not a SOAP envelope (a proxy's HTML page, an
    empty 500) is raised here as ``TransportError`` with its status: in zeep's
    lenient parsing mode it would otherwise surface as a code-less fault or worse.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float,
        session: requests.Session,
        cache: zeep.cache.Base | None = None,
    ) -> None:
        super().__init__(
            cache=cache,
            timeout=timeout_seconds,
            operation_timeout=timeout_seconds,
            session=session,
        )

    def post(self, address: str, message: Any, headers: dict[str, str]) -> requests.Response:
        response = self.send(address, message, headers)
        check_answer(response)
        return response

    def send(self, address: str, message: Any, headers: dict[str, str]) -> requests.Response:
        """The POST itself, before its answer is judged (the conformance checker
        records every exchange here, readable or not)."""
        return self.session.post(
            address,
            data=message,
            headers=headers,
            timeout=self.operation_timeout,
            # A redirected POST turns into a GET; a clinic that moved is a
            # configuration matter, not something to follow silently.
            allow_redirects=False,
        )

    def get(self, address: str, params: Any, headers: dict[str, str]) -> requests.Response:
        response = self.session.get(
            address, params=params, headers=headers, timeout=self.operation_timeout
        )
        check_answer(response)
        return response


def check_answer(response: requests.Response) -> None:
    """Let through what zeep can read as SOAP; raise for the rest, without the body."""
    status = int(response.status_code)
    media_type = get_media_type(response.headers.get("Content-Type", "text/xml"))
    body = response.content or b""
    if media_type == "multipart/related":
        return
    looks_like_xml = body.lstrip(_LEADING_NOISE).startswith(b"<")
    if status in _ANSWER_STATUSES:
        if body and not looks_like_xml:
            raise zeep.exceptions.XMLSyntaxError(f"HTTP {status} answer is not XML")
        return
    if media_type in _SOAP_MEDIA_TYPES and looks_like_xml and b"Envelope" in body[:2048]:
        return  # a SOAP fault, carried as HTTP 500 the way SOAP 1.1 says
    raise zeep.exceptions.TransportError(f"HTTP {status}", status_code=status)
