"""SmtpSender against a real aiosmtpd server on 127.0.0.1.

The server accepts mail for anyone except a few magic local parts that make
it answer the way real relays do when things go wrong.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="pip install aiosmtpd")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

from tuotempo_soap.dispatch.base import Outcome, OutgoingMessage  # noqa: E402
from tuotempo_soap.dispatch.senders.smtp import SmtpSender, SmtpSettings  # noqa: E402

USER, PASSWORD = "mailer", "correct horse"


class Relay:
    """An aiosmtpd handler that keeps what it accepts."""

    def __init__(self) -> None:
        self.accepted: list[Any] = []
        self.logins: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address.startswith("greylisted@"):
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if any(r.startswith("spam@") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam"
        if any(r.startswith("full@") for r in envelope.rcpt_tos):
            return "452 4.3.1 Insufficient system storage"
        self.accepted.append(envelope)
        return "250 2.0.0 Ok: queued"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    login = getattr(auth_data, "login", b"")
    ok = login == USER.encode() and getattr(auth_data, "password", b"") == PASSWORD.encode()
    return aiosmtpd_smtp.AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = free_port()
    controller = aiosmtpd_controller.Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,  # plain AUTH on loopback only, for the test
        ready_timeout=10,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def message(recipient: str = "ana@example.org", **overrides: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "message_id": 4711,
        "reference": "5b0e2f9c7d1a3e4f6a8b0c2d",
        "instance": "tt_acme",
        "channel": "EMAIL",
        "recipient": recipient,
        "text": "Hola Ana,\nsu cita es mañana a las 10:00 (coste: 20 €).",
        "subject": "Recordatorio: cita mañana",
        "email_from": "Clínica Sol <citas@clinica-sol.example>",
        "reply_to": "recepcion@clinica-sol.example",
        "language": "es",
    }
    values.update(overrides)
    return OutgoingMessage(**values)


def sender(port: int, **options: Any) -> SmtpSender:
    settings = SmtpSettings(host="127.0.0.1", port=port, timeout_seconds=5, **options)
    return SmtpSender("smtp-main", settings)


def received(handler: Relay) -> EmailMessage:
    assert len(handler.accepted) == 1
    parsed = email.message_from_bytes(handler.accepted[0].content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_proper_mime_message(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = sender(port).send(message())

    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == "<tuotempo-5b0e2f9c7d1a3e4f6a8b0c2d@clinica-sol.example>"
    envelope = handler.accepted[0]
    assert envelope.mail_from == "citas@clinica-sol.example"
    assert envelope.rcpt_tos == ["ana@example.org"]
    mail = received(handler)
    assert mail["From"] == "Clínica Sol <citas@clinica-sol.example>"
    assert mail["To"] == "ana@example.org"
    assert mail["Reply-To"] == "recepcion@clinica-sol.example"
    assert mail["Subject"] == "Recordatorio: cita mañana"
    assert mail["Message-ID"] == "<tuotempo-5b0e2f9c7d1a3e4f6a8b0c2d@clinica-sol.example>"
    assert mail["Content-Language"] == "es"
    sent_at = parsedate_to_datetime(str(mail["Date"]))
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=5)
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    text = mail.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends
    assert text == "Hola Ana,\nsu cita es mañana a las 10:00 (coste: 20 €).\n"
    # Every byte on the wire is 7-bit: no relay needs 8BITMIME for our mail.
    assert max(handler.accepted[0].content) < 128


def test_the_same_message_keeps_its_message_id(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    first = sender(port).send(message())
    again = sender(port).send(message())
    ids = [
        email.message_from_bytes(e.content, policy=email.policy.default)["Message-ID"]
        for e in handler.accepted
    ]
    assert first.provider_message_id == again.provider_message_id == ids[0] == ids[1]


def test_provider_from_address_is_the_fallback(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = sender(port, from_address="no-reply@relay.example").send(
        message(email_from=None, reply_to=None)
    )
    assert result.outcome is Outcome.SENT
    mail = received(handler)
    assert mail["From"] == "no-reply@relay.example"
    assert mail["Reply-To"] is None
    assert mail["Message-ID"] == "<tuotempo-5b0e2f9c7d1a3e4f6a8b0c2d@relay.example>"


def test_login(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = sender(port, username=USER, password=PASSWORD).send(message())
    assert result.outcome is Outcome.SENT
    assert len(handler.accepted) == 1


def test_wrong_password_is_retried_not_fatal(relay: tuple[Relay, int]) -> None:
    # A credentials problem is ours, not the message's: once the operator
    # fixes it, the message should still go out.
    handler, port = relay
    result = sender(port, username=USER, password="wrong").send(message())
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error.startswith("535")
    assert handler.accepted == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_relay_demanding_login_is_retried() -> None:
    handler = Relay()
    port = free_port()
    controller = aiosmtpd_controller.Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
        ready_timeout=10,
    )
    controller.start()
    try:
        anonymous = sender(port).send(message())
        logged_in = sender(port, username=USER, password=PASSWORD).send(message())
    finally:
        controller.stop()
    # "530 authentication required" comes at MAIL FROM, but is still our setup.
    assert anonymous.outcome is Outcome.RETRY
    assert anonymous.error is not None and anonymous.error.startswith("530")
    assert logged_in.outcome is Outcome.SENT


def test_recipient_refused_is_permanent(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    result = sender(port).send(message("nobody@example.org"))
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    assert result.error.startswith("recipient refused: 550 5.1.1")
    assert "nobody@example.org" not in result.error  # no patient data in errors
    assert handler.accepted == []


def test_temporary_recipient_refusal_is_retried(relay: tuple[Relay, int]) -> None:
    _handler, port = relay
    result = sender(port).send(message("greylisted@example.org"))
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert "451 4.7.1" in result.error


def test_refusal_after_data(relay: tuple[Relay, int]) -> None:
    _handler, port = relay
    spam = sender(port).send(message("spam@example.org"))
    full = sender(port).send(message("full@example.org"))
    assert (spam.outcome, full.outcome) == (Outcome.PERMANENT, Outcome.RETRY)
    assert spam.error is not None and spam.error.startswith("554")
    assert full.error is not None and full.error.startswith("452")


def test_closed_port_is_retried() -> None:
    result = sender(free_port()).send(message())
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert "ConnectionRefused" in result.error


def test_silent_server_times_out_and_is_retried() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts; nobody ever says 220
        port = silent.getsockname()[1]
        settings = SmtpSettings(host="127.0.0.1", port=port, timeout_seconds=0.2)
        result = SmtpSender("smtp-main", settings).send(message())
    assert result.outcome is Outcome.RETRY


def test_unusable_headers_are_permanent_without_connecting() -> None:
    port = free_port()  # nothing listens: a connection attempt would say RETRY
    injected = sender(port).send(message(subject="Hi\r\nBcc: everyone@example.org"))
    no_from = sender(port).send(message(email_from=None))
    assert injected.outcome is Outcome.PERMANENT
    assert no_from.outcome is Outcome.PERMANENT
    assert no_from.error is not None and "no From address" in no_from.error


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made with the ``cryptography`` package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_then_login(tmp_path: Path) -> None:
    pytest.importorskip(
        "cryptography", reason="STARTTLS needs a certificate; install 'cryptography' to make one"
    )
    cert, key = self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    handler = Relay()
    port = free_port()
    controller = aiosmtpd_controller.Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        ready_timeout=10,
    )
    controller.start()
    try:
        client_context = ssl.create_default_context(cafile=str(cert))
        settings = SmtpSettings(
            host="127.0.0.1",
            port=port,
            starttls=True,
            username=USER,
            password=PASSWORD,
            timeout_seconds=5,
        )
        result = SmtpSender("smtp-tls", settings, ssl_context=client_context).send(message())
        plain = SmtpSender("smtp-plain", SmtpSettings(host="127.0.0.1", port=port)).send(message())
    finally:
        controller.stop()
    assert result.outcome is Outcome.SENT
    assert len(handler.accepted) == 1
    assert plain.outcome is Outcome.RETRY  # the relay insists on STARTTLS first
