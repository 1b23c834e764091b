"""The SOAP 1.1 HTTP binding as this server holds callers to it.

Decided with WS-I Basic Profile 1.1 in hand, leaning to what real toolkits send:

- ``Content-Type`` (SOAP 1.1 section 6.1.1, BP R1115): ``text/xml``, with an
  optional ``charset`` that is honoured. Anything else (``application/json``,
  a form, ``multipart/related``) is refused with ``Client.UnsupportedMediaType``
  and HTTP 415. ``application/soap+xml`` is SOAP 1.2's type: a SOAP 1.2 envelope
  gets the ``VersionMismatch`` fault SOAP 1.1 prescribes, anything else the 415.
  A request without ``Content-Type`` is read as ``text/xml``: HTTP allows it
  and it is unambiguous, whereas a declared wrong type is a mistake to report.
- ``SOAPAction`` (BP R1109, R2744, R2745): the WSDL declares each operation's
  name. Accepted: absent, empty (``""``: many toolkits send it), the
  operation's name quoted or not, and the name after a namespace
  (``http://tuotempo-soap.org/v1/getReservations``, ``...#getReservations``).
  A SOAPAction that names anything else is refused with
  ``Client.SOAPActionMismatch``: a gateway or the caller meant another
  operation than the Body holds, and running the Body's would do what nobody
  asked for.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from email.message import Message

from .faults import (
    SOAP_ACTION_MISMATCH,
    UNSUPPORTED_MEDIA_TYPE,
    ServiceFaultError,
)

SOAP11_MEDIA_TYPE = "text/xml"
SOAP12_MEDIA_TYPE = "application/soap+xml"
_HOW = "send SOAP 1.1 envelopes with Content-Type: text/xml; charset=utf-8"


@dataclass(frozen=True)
class MediaType:
    soap12: bool  # application/soap+xml: only a SOAP 1.2 envelope explains it
    charset: str | None


def read_content_type(header: str | None) -> MediaType:
    """The request's media type, or a ``Client.UnsupportedMediaType`` fault."""
    if header is None or not header.strip():
        return MediaType(soap12=False, charset=None)
    message = Message()
    message["Content-Type"] = header
    kind = message.get_content_type()  # lower case; "text/plain" when unparsable
    if kind not in (SOAP11_MEDIA_TYPE, SOAP12_MEDIA_TYPE) or "/" not in header:
        shown = kind[:60] if "/" in header else "(unreadable)"
        raise ServiceFaultError(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {shown} is not accepted; {_HOW}",
            "Content-Type",
        )
    charset = message.get_param("charset")
    name = charset if isinstance(charset, str) and charset.strip() else None
    if name is not None:
        try:
            name = codecs.lookup(name.strip()).name
        except LookupError:
            raise ServiceFaultError(
                UNSUPPORTED_MEDIA_TYPE,
                f"charset {name[:40]!r} is not supported; {_HOW}",
                "Content-Type",
            ) from None
    return MediaType(soap12=kind == SOAP12_MEDIA_TYPE, charset=name)


def refuse_soap12_media_type() -> ServiceFaultError:
    """A SOAP 1.1 envelope sent as ``application/soap+xml``."""
    return ServiceFaultError(
        UNSUPPORTED_MEDIA_TYPE,
        f"application/soap+xml is SOAP 1.2's media type; {_HOW}",
        "Content-Type",
    )


def check_soap_action(header: str | None, operation: str) -> None:
    """Refuse a SOAPAction that names another operation than the Body's."""
    if header is None:
        return
    action = header.strip()
    if len(action) >= 2 and action[0] == action[-1] == '"':
        action = action[1:-1].strip()
    if not action or action == operation:
        return
    if action.endswith(operation) and action[-len(operation) - 1] in "/#:":
        return
    raise ServiceFaultError(
        SOAP_ACTION_MISMATCH,
        f"The SOAPAction header does not name {operation}, the operation in the Body; "
        f'send SOAPAction: "{operation}" (or "")',
        "SOAPAction",
    )
