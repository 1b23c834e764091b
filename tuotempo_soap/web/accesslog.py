"""gunicorn's access log, without the secrets a request line can carry.

An e-mail answer link is ``/answer/<token>``: whoever reads the access log
could answer for the patient. This logger writes the route instead
(``/answer/<token>`` literally) and keeps query parameter names but not their
values (``?wsdl`` stays, ``?t=...`` becomes ``?t=-``), in every atom that
holds them (``%(r)s``, ``%(U)s``, ``%(q)s`` and the environ atoms), so the log
format may use any of them. ``gunicorn.conf.py`` and ``tuotempo-soap serve``
set it as ``logger_class``.
"""

from __future__ import annotations

import datetime
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gunicorn.glogging import Logger

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


class AccessLogger(Logger):
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
