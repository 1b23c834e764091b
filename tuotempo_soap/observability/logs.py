"""Log lines: one JSON object per line in production, plain text for development.

``configure(level, log_format)`` gives the root logger a handler on standard
error (unless something else, a test runner or an operator's own logging
configuration, already put one there) and sets the format of gunicorn's error
and access log handlers too, so gunicorn's lines, the access log and the
application's lines come out alike. ``TUOTEMPO_LOG_FORMAT`` chooses: ``json``
(the default under gunicorn.conf.py) or ``text`` (``serve --demo``).

Every record created while a request is being answered carries that request's
``request_id``, and its ``instance`` and ``operation`` once known (a log record
factory installed here reads ``context``), whatever handler writes it.

Nothing here adds a request value to a line: messages name codes, fields and
routes, never values (``soap/faults.py``), and the context holds none.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from . import context

FORMATS = ("json", "text")
CONTEXT_FIELDS = ("request_id", "instance", "operation")
_GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")
_OURS = "_tuotempo_handler"  # marks the root handler installed here
_GUNICORN_TEXT = "_tuotempo_text_formatter"  # gunicorn's own formatter, kept for text

_state: dict[str, Any] = {"format": None, "factory": False}


class JsonLineFormatter(JsonFormatter):
    """``{"time", "level", "logger", "pid", "message", ...}``: the record's extra
    attributes follow (the request's fields, the access log's)."""

    def __init__(self) -> None:
        super().__init__("{message}", style="{")

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        moment = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["pid"] = record.process
        super().add_fields(log_data, record, message_dict)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [request_id=... instance=... operation=...]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        known = [
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None)
        ]
        return f"{line} [{' '.join(known)}]" if known else line


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"log format must be json or text, not {log_format!r}")
    return JsonLineFormatter() if log_format == "json" else TextFormatter()


def _install_record_factory() -> None:
    """Stamp every record with the current request's fields, for any handler."""
    if _state["factory"]:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        request = context.current()
        if request is not None:
            record.request_id = request.request_id
            if request.instance is not None:
                record.instance = request.instance
            if request.operation is not None:
                record.operation = request.operation
        return record

    logging.setLogRecordFactory(factory)
    _state["factory"] = True


def configure(level: str, log_format: str) -> None:
    """Set the process's log format and our loggers' level (see the module's doc)."""
    chosen = formatter(log_format)  # refuses an unknown format before changing anything
    _install_record_factory()
    _state["format"] = log_format
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler()
        setattr(stream, _OURS, True)
        root.addHandler(stream)
    for handler in root.handlers:
        if getattr(handler, _OURS, False):
            handler.setFormatter(chosen)
            root.setLevel(level)
    adopt_gunicorn_handlers(log_format)


# Libraries that log request data below WARNING: SQLAlchemy its statements'
# parameters and result rows (INFO, DEBUG), zeep whole envelopes (DEBUG). A
# TUOTEMPO_LOG_LEVEL of DEBUG is for our own lines, never for patient data.
# (Spyne's log is shut off in soap/application.py.)
_PAYLOAD_LOGGERS = ("sqlalchemy", "zeep")


def configure_logging(level: str, log_format: str | None = None) -> None:
    """A process's logging: our loggers at ``level``, every line as
    ``log_format`` (json, the default, or text), the libraries that would log
    request data held at WARNING. The web application and the worker call it."""
    configure(level, log_format or "json")
    logging.getLogger("tuotempo_soap").setLevel(level)
    for name in _PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def current_format() -> str | None:
    """The format ``configure`` set in this process, or None before it ran."""
    format_: str | None = _state["format"]
    return format_


def adopt_gunicorn_handlers(fallback: str) -> None:
    """Give gunicorn's error and access log handlers the process's format
    (``fallback`` while the application has not configured one yet: gunicorn
    sets its handlers up before it loads the application)."""
    _install_record_factory()
    log_format = current_format() or fallback
    for name in _GUNICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not hasattr(handler, _GUNICORN_TEXT):
                setattr(handler, _GUNICORN_TEXT, handler.formatter)
            if log_format == "json":
                handler.setFormatter(JsonLineFormatter())
            else:
                handler.setFormatter(getattr(handler, _GUNICORN_TEXT))
