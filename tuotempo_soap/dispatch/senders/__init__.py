"""The providers behind ``dispatch.base.Sender``: SMTP e-mail, a configurable HTTP
gateway, and a JSON-lines file for development. Each module owns its wire
protocol and turns every provider problem into a ``SendResult``."""

from .file import FileSender
from .http import BasicAuth, BearerAuth, HeaderAuth, HttpAuth, HttpSender, HttpSettings
from .smtp import SmtpSender, SmtpSettings

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "FileSender",
    "HeaderAuth",
    "HttpAuth",
    "HttpSender",
    "HttpSettings",
    "SmtpSender",
    "SmtpSettings",
]
