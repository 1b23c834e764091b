"""E-mail through an SMTP relay (smtplib), one connection per message.

A connection per message costs a handshake, but never leaves a half-dead
connection between sends and needs no pool; relays handle far more than a
clinic's reminder volume. The Message-ID is derived from the message's random
reference, so a resend after a crash carries the same id and downstream systems
can see it, and nobody can guess another message's.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from ..base import OutgoingMessage, SendResult

log = logging.getLogger(__name__)

# Authentication (or STARTTLS) required, mechanism too weak, credentials
# invalid, encryption required: RFC 4954 codes a relay may give at MAIL FROM.
SETUP_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    starttls: bool = False
    ssl: bool = False  # implicit TLS from the first byte (SMTPS, usually port 465)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_address: str | None = None  # used when the instance sets no email_from
    timeout_seconds: float = 10.0


def message_id_for(reference: str, from_address: str) -> str:
    domain = parseaddr(from_address)[1].rpartition("@")[2].strip() or "localhost"
    return f"<tuotempo-{reference}@{domain}>"


def _redact(text: str, message: OutgoingMessage) -> str:
    # Relays often quote the address back ("<x@y>: mailbox unavailable"); error
    # texts are shown to operators and the HIS, so the patient's address goes.
    if message.recipient:
        text = text.replace(message.recipient, "<recipient>")
    return " ".join(text.split())[:200]


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}"


class SmtpSender:
    """Sends text/plain UTF-8 mail; classifies every failure instead of raising."""

    def __init__(
        self, name: str, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        # Verified against the system's CAs unless a caller (a test, a private
        # CA) hands in its own context.
        self._ssl_context = ssl_context or ssl.create_default_context()

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message; raises ValueError when a header value is unusable."""
        sender = message.email_from or self.settings.from_address
        if not sender:
            raise ValueError("no From address: set email_from on the instance or 'from' here")
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = message.recipient
        if message.reply_to:
            mail["Reply-To"] = message.reply_to
        if message.subject is not None:
            mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id_for(message.reference, sender)
        # Quoted-printable keeps the body 7-bit clean, so relays without 8BITMIME
        # take it unchanged; smtplib never announces 8BITMIME for plain ASCII envelopes.
        mail.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
        if message.language:  # after set_content, which drops every Content-* header
            mail["Content-Language"] = message.language
        return mail

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.ssl:
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=self._ssl_context
            )
        return smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:  # a header with a line break, no From
            return self._done(message, SendResult.permanent(_redact(str(exc), message)))
        message_id = str(mail["Message-ID"])
        envelope_from = parseaddr(str(mail["From"]))[1]
        s = self.settings
        in_transaction = False
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            if s.starttls and not s.ssl:
                smtp.starttls(context=self._ssl_context)
            if s.username:
                smtp.login(s.username, s.password or "")
            in_transaction = True
            smtp.send_message(mail, from_addr=envelope_from, to_addrs=[message.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b"refused"))
            text = _redact(f"recipient refused: {_reply(code, reply)}", message)
            result = SendResult.retry(text) if 400 <= code < 500 else SendResult.permanent(text)
            return self._done(message, result, code)
        except smtplib.SMTPResponseException as exc:
            text = _redact(_reply(exc.smtp_code, exc.smtp_error), message)
            # Before MAIL FROM (greeting, STARTTLS, AUTH), or "authenticate /
            # STARTTLS first" at MAIL FROM, a refusal is about our setup or the
            # relay, not this message: retrying after the operator fixes it
            # delivers it. Any other 5xx inside the transaction is final.
            setup = not in_transaction or exc.smtp_code in SETUP_CODES
            if not setup and 500 <= exc.smtp_code < 600:
                return self._done(message, SendResult.permanent(text), exc.smtp_code)
            return self._done(message, SendResult.retry(text), exc.smtp_code)
        except smtplib.SMTPNotSupportedError as exc:
            # During the transaction this means a non-ASCII address the relay
            # cannot take (no SMTPUTF8); before it, STARTTLS or AUTH missing.
            text = _redact(f"not supported by the relay: {exc}", message)
            if in_transaction:
                return self._done(message, SendResult.permanent(text))
            return self._done(message, SendResult.retry(text))
        except TimeoutError:
            return self._done(message, SendResult.retry(f"timeout after {s.timeout_seconds:g}s"))
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, TLS, disconnected
            text = _redact(f"{type(exc).__name__}: {exc}", message)
            return self._done(message, SendResult.retry(text))
        finally:
            if smtp is not None:
                _hang_up(smtp)
        return self._done(message, SendResult.sent(message_id), 250)

    def _done(
        self, message: OutgoingMessage, result: SendResult, code: int | None = None
    ) -> SendResult:
        # Never the recipient or the text: provider, our id and the outcome only.
        log.info(
            "smtp provider=%s message=%s outcome=%s code=%s",
            self.name,
            message.message_id,
            result.outcome,
            code,
        )
        return result

    def close(self) -> None:
        """Nothing to release: every send opens and closes its own connection."""


def _hang_up(smtp: smtplib.SMTP) -> None:
    # After a successful DATA the message is the relay's; a failing QUIT must
    # not turn it into a retry (and a duplicate), so its errors are dropped.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()
