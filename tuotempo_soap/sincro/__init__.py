"""Sincro, the database agent (guide A.2): it runs at the clinic, reads the
clinic's TT_RESOURCES and TT_RESERVATIONS views with a read-only database user,
sends what changed to our server through our own SOAP contract
(updateReservations), and brings patients' cancellations back
(getReservations) into the clinic's TT_DELETE_RESERVATION table, whose trigger
applies them.

``config`` reads its TOML file, ``formats`` proprietary dates, ``rows`` turns
view rows into reservations, ``changes`` decides what changed, ``state`` keeps
its local SQLite file, ``clinicdb`` talks to the clinic's database,
``server`` to ours, and ``agent`` runs it all, once or in a loop.
"""

from __future__ import annotations

from .agent import RunSummary, SincroAgent, run_loop
from .config import SincroConfig, load_config
from .errors import (
    ClinicDatabaseError,
    ClinicDatabaseUnavailableError,
    ServerError,
    ServerUnavailableError,
    SincroConfigError,
    SincroError,
    StateError,
)

__all__ = [
    "ClinicDatabaseError",
    "ClinicDatabaseUnavailableError",
    "RunSummary",
    "ServerError",
    "ServerUnavailableError",
    "SincroAgent",
    "SincroConfig",
    "SincroConfigError",
    "SincroError",
    "StateError",
    "load_config",
    "run_loop",
]
