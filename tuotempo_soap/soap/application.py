"""Build the Spyne application and its WSGI callable."""

from __future__ import annotations

import logging
from typing import Any

import spyne.const
from spyne import Application
from spyne.interface.wsdl import Wsdl11
from spyne.server.wsgi import WsgiApplication

from . import TNS
from .protocol import HardenedSoap11
from .runtime import Runtime
from .service import TuotempoService
from .wsdl import LOCATION_PLACEHOLDER, clean_wsdl

SERVICE_NAME = "TuotempoService"


def quiet_spyne_logging() -> None:
    """Keep Spyne's log away from every handler, at every level.

    Spyne formats request values into its messages before logging them (``Could
    not cast '612 345 678' to integer`` with a traceback at ERROR, whole
    documents at DEBUG), so no level or message filter makes them safe. Nothing
    of it is lost: ``faults.py`` logs each fault (code, field, operation) and
    each unexpected error (reference and stack, without messages). The
    ``spyne`` logger keeps its records: no propagation to the root handlers,
    a NullHandler so Python's last-resort handler stays silent too, and a level
    that spares building them; a DEBUG level set on any ``spyne.*`` logger later
    still ends at the NullHandler.
    """
    spyne_log = logging.getLogger("spyne")
    spyne_log.propagate = False
    spyne_log.handlers[:] = [logging.NullHandler()]
    spyne_log.setLevel(logging.CRITICAL + 1)


def build_spyne_app(runtime: Runtime | None = None) -> Application:
    quiet_spyne_logging()
    # Spyne runs a full gc.collect() after any request that comes more than a
    # second after the previous one (to close attachment files promptly). We take
    # no attachments, and a HIS calling every few minutes would pay ~25 ms per
    # call for it (bench/bench_update_reservations.py measured it).
    spyne.const.MIN_GC_INTERVAL = float("inf")
    app = Application(
        [TuotempoService],
        tns=TNS,
        name=SERVICE_NAME,
        in_protocol=HardenedSoap11(validator=None),
        out_protocol=HardenedSoap11(),
    )
    app.runtime = runtime
    return app


def build_wsdl() -> bytes:
    """The published contract, with a placeholder endpoint address."""
    interface = Wsdl11(build_spyne_app().interface)
    interface.build_interface_document(LOCATION_PLACEHOLDER)
    return clean_wsdl(interface.get_interface_document())


def build_soap_wsgi(runtime: Runtime) -> Any:
    return WsgiApplication(build_spyne_app(runtime))
