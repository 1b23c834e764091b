"""gunicorn's access log, without the secrets a request line can carry.

An e-mail answer link is ``/answer/<token>``: whoever reads the access log
could answer for the patient. This logger writes the route instead
(``/answer/<token>`` literally) and keeps query parameter names but not their
values (``?wsdl`` stays, ``?t=...`` becomes ``?t=-``), in every atom that
holds them (``%(r)s``, ``%(U)s``, ``%(q)s`` and the environ atoms), so the log
format may use any of them. ``gunicorn.conf.py`` and ``tuotempo-soap serve``
set it as ``logger_class``.

With JSON log lines (``TUOTEMPO_LOG_FORMAT``, ``observability.logs``) each
request is one JSON object instead of ``access_log_format``: the same cleaned
request line, status, size and duration, and the request's id, instance,
operation and faultcode, the fields the application's own lines carry.
"""

from __future__ import annotations

import datetime
import re
import traceback
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gunicorn.glogging import Logger

from ..config import Settings
from ..observability import context, logs

SECRET_ROUTES = {"/answer/": "/answer/<token>"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


def loggable_path(path: str) -> str:
    # Anywhere in the path: "//answer/<token>" misses the route but still holds a token.
    for marker, route in SECRET_ROUTES.items():
        at = path.find(marker)
        if at >= 0:
            return path[:at] + route
    return path


def loggable_query(query: str) -> str:
    if not query:
        return ""
    shown = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        name = name if _NAME.fullmatch(name) else "-"
        shown.append(f"{name}=-" if value else name)
    return "&".join(shown)


def loggable_uri(uri: str) -> str:
    """A request target or an absolute URL (a Referer), with its secrets left out."""
    if uri.startswith("/"):
        path, _, query = uri.partition("?")
        shown = loggable_path(path)
    else:
        parts = urlsplit(uri)
        shown = f"{parts.scheme}://{parts.netloc}{loggable_path(parts.path)}"
        query = parts.query
    return f"{shown}?{loggable_query(query)}" if query else shown


def _format_before_the_app() -> str:
    """The log format until the application sets it (gunicorn sets its handlers
    up before it loads the application): the setting, else JSON."""
    try:
        return Settings.from_env().log_format or "json"
    except ValueError:  # the application will say what is wrong, in its own words
        return "json"


class AccessLogger(Logger):
    _fallback_format = "json"

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self._fallback_format = _format_before_the_app()
        logs.adopt_gunicorn_handlers(self._fallback_format)

    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta
    ) -> None:
        if (logs.current_format() or self._fallback_format) != "json":
            super().access(resp, req, environ, request_time)
            return
        enabled = getattr(self, "access_log_enabled", None)  # gunicorn 23+
        if enabled is None:
            enabled = bool(self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog)
        if not enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        request = environ.get(context.ENVIRON_KEY)
        status = str(atoms.get("s") or "-")
        fields: dict[str, Any] = {
            "method": str(environ.get("REQUEST_METHOD") or "-"),
            "path": loggable_path(str(environ.get("PATH_INFO") or "")),
            "status": int(status) if status.isdigit() else status,
            "bytes": atoms.get("B"),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote": atoms.get("h"),
        }
        query = loggable_query(str(environ.get("QUERY_STRING") or ""))
        if query:
            fields["query"] = query
        if isinstance(request, context.RequestContext) and request.fault:
            fields["fault"] = request.fault
        # The request's id, instance and operation come with the record, as
        # for every line logged while it was answered.
        with context.activated(request if isinstance(request, context.RequestContext) else None):
            try:
                self.access_log.info("%s %s", atoms["r"], status, extra=fields)
            except Exception:  # as gunicorn's own: a log problem never fails the request
                self.error(traceback.format_exc())

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        raw_uri = str(environ.get("RAW_URI") or "")
        path = str(environ.get("PATH_INFO") or "")
        query = str(environ.get("QUERY_STRING") or "")
        referer = str(environ.get("HTTP_REFERER") or "")
        # Every atom holding one of these, whatever its name (%(r)s, %(U)s, %(q)s,
        # %(f)s, {raw_uri}e, {http_referer}e, {referer}i ...), gets the clean form.
        clean = {
            text: cleaned
            for text, cleaned in (
                (raw_uri, loggable_uri(raw_uri)),
                (path, loggable_path(path)),
                (query, loggable_query(query)),
                (referer, loggable_uri(referer)),
            )
            if text and text != cleaned
        }
        if clean:
            for key, value in atoms.items():
                if isinstance(value, str) and value in clean:
                    atoms[key] = clean[value]
        atoms["r"] = (
            f"{environ.get('REQUEST_METHOD')} {loggable_uri(raw_uri)} "
            f"{environ.get('SERVER_PROTOCOL')}"
        )
        return atoms
