"""Deliberately broken variants of the reference clinic, for the conformance
checker's tests: each is the real ``ClinicBackend`` with one defect a vendor
could plausibly ship, served for real on 127.0.0.1 by a threaded WSGI server
in the test process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from examples.clinic_server.app import ClinicApp
from examples.clinic_server.backend import ClinicBackend
from examples.clinic_server.options import ServerOptions

Params = dict[str, Any]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MissingResourceBackend(ClinicBackend):
    """Free slots without their RESOURCE_LID (NOT NULL in B.2.2)."""

    def search_availabilities(self, ctx: Any, params: Params) -> Any:
        result = super().search_availabilities(ctx, params)
        for slot in result.AVAILABILITIES:
            slot.RESOURCE_LID = None
        return result


def _iso(appointment: Any) -> None:
    day, month, year = appointment.APP_DATE.split("/")
    appointment.APP_DATE = f"{year}-{month}-{day}"


class IsoDateBackend(ClinicBackend):
    """Appointments dated yyyy-mm-dd instead of the contract's dd/mm/yyyy."""

    def check_appointment(self, ctx: Any, params: Params) -> Any:
        result = super().check_appointment(ctx, params)
        if result.APPOINTMENT is not None:
            _iso(result.APPOINTMENT)
        return result

    def get_appointments(self, ctx: Any, params: Params) -> Any:
        result = super().get_appointments(ctx, params)
        for appointment in result.APPOINTMENTS:
            _iso(appointment)
        return result

    def search_appointments(self, ctx: Any, params: Params) -> Any:
        result = super().search_appointments(ctx, params)
        for appointment in result.APPOINTMENTS:
            _iso(appointment)
        return result


class StillOfferedBackend(ClinicBackend):
    """Books, but goes on offering the booked slot (a cache never invalidated)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: dict[str, Any] = {}
        self.booked: set[str] = set()

    def search_availabilities(self, ctx: Any, params: Params) -> Any:
        result = super().search_availabilities(ctx, params)
        offered = {slot.AVAILABILITY_LID for slot in result.AVAILABILITIES}
        for slot in result.AVAILABILITIES:
            self.seen[slot.AVAILABILITY_LID] = slot
        for lid in sorted(self.booked - offered):
            slot = self.seen[lid]
            resource = params.get("RESOURCE_LID")
            day = params.get("AVA_START_DAY")
            if (resource in (None, slot.RESOURCE_LID)) and (day in (None, slot.AVA_DATE)):
                result.AVAILABILITIES.append(slot)
        return result

    def add_appointment(self, ctx: Any, params: Params) -> Any:
        result = super().add_appointment(ctx, params)
        if result.ADD_RESULT == "OK":
            self.booked.add(params["AVAILABILITY_LID"])
        return result


_DETAIL = re.compile(rb"<detail>.*?</detail>", re.DOTALL)


def generic_faults(app: WsgiApp) -> WsgiApp:
    """Every fault stripped of its ClinicFault detail: a bare SOAP fault."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> None:
            captured["status"], captured["headers"] = status, headers

        body = b"".join(app(environ, capture))
        if b"Fault>" in body:
            body = _DETAIL.sub(b"", body)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


@contextmanager
def serve(
    db_path: Path,
    options: ServerOptions,
    backend: type[ClinicBackend] = ClinicBackend,
    wrap: Callable[[WsgiApp], WsgiApp] | None = None,
) -> Iterator[str]:
    """The clinic on 127.0.0.1 (a free port); yields its SOAP address."""
    app: WsgiApp = ClinicApp(backend(db_path, options))
    if wrap is not None:
        app = wrap(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="defective-clinic", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/clinic"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
